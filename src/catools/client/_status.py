"""A snapshot of a Context (``Context.describe()``): what ``cainfo -s`` prints, without
reaching into circuits."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CircuitStatus:
    """One circuit: the server's ``address``, its ``priority``, the CA minor protocol
    version in force and the PVs on it."""

    address: tuple[str, int]
    priority: int
    protocol_minor: int
    pvs: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ContextStatus:
    """The search destinations, name servers, circuits and the PVs not connected."""

    search_targets: tuple[tuple[str, int], ...]
    name_servers: tuple[tuple[str, int], ...]
    circuits: tuple[CircuitStatus, ...] = ()
    unconnected: tuple[Any, ...] = ()
    channels: int = field(default=0)


def describe(search_targets: Any, name_servers: Any, circuits: Any, pvs: Any
             ) -> ContextStatus:
    """The snapshot of a Context's parts (circuits: ``{(address, priority): Circuit}``)."""
    return ContextStatus(
        tuple(search_targets), tuple(name_servers),
        tuple(CircuitStatus(address, priority, circuit.core.protocol_version,
                            tuple(circuit.pvs.values()))
              for (address, priority), circuit in circuits.items() if not circuit.closed),
        tuple(pv for pv in pvs if not pv.connected), len(pvs))


__all__ = ["ContextStatus", "CircuitStatus", "describe"]
