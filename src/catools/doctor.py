"""Why a PV cannot be seen: the settings in effect, the search list they give, who
answers for each PV, circuits, access rights, beacons and the repeater, with hints.

:func:`diagnose` returns a :class:`Report` (plain data: :meth:`Report.as_dict` for
JSON); ``catools doctor`` renders it. It searches like any client (never with a
broadcast that the address list does not already hold).
"""
from __future__ import annotations

import os
import time
from typing import Any, Mapping, Sequence

from .config import REPEATER_PORT, SERVER_PORT, VARIABLES, ClientConfig, ServerConfig

Address = tuple[str, int]

#: The variables libca and RSRV read, with their defaults (as text, "" for none): the
#: rows of the one table, :data:`catools.config.VARIABLES`.
CA_VARIABLES = {v.name: v.default for v in VARIABLES if v.name.startswith("EPICS_CA_")}
CAS_VARIABLES = {v.name: v.default for v in VARIABLES if v.name.startswith("EPICS_CAS_")}
KNOWN = {v.name: v.default for v in VARIABLES}


class Setting:
    """One variable: its value in effect and where it came from."""

    def __init__(self, name: str, value: str, source: str) -> None:
        self.name, self.value, self.source = name, value, source

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "source": self.source}


class PVReport:
    """What happened to one PV: replies (server, ms after the search began), the
    circuit, access rights, and hints when nobody answered or it did not connect."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.replies: list[tuple[Address, float]] = []
        self.connected = False
        self.server: Address | None = None
        self.circuit: str = "none"          # connected, failed: <why>, none
        self.read_access = self.write_access = False
        self.native_type = ""
        self.native_count = 0
        self.hints: list[str] = []

    @property
    def servers(self) -> list[Address]:
        """Each server that answered, once, in order."""
        return list(dict.fromkeys(address for address, _ in self.replies))

    @property
    def duplicate(self) -> bool:
        return len(self.servers) > 1

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "connected": self.connected,
                "replies": [{"server": _text(a), "ms": round(ms, 3)} for a, ms in self.replies],
                "duplicate": self.duplicate, "server": _text(self.server),
                "circuit": self.circuit, "read_access": self.read_access,
                "write_access": self.write_access, "native_type": self.native_type,
                "native_count": self.native_count, "hints": self.hints}


class Report:
    """Everything ``catools doctor`` found (see the module docstring)."""

    def __init__(self) -> None:
        self.settings: list[Setting] = []
        self.typos: list[tuple[str, str]] = []          # (name set, known name)
        self.interfaces: list[tuple[str, str, str]] = []   # (name, address, broadcast)
        self.addresses: list[tuple[Address, str]] = []  # (target, "auto"/"explicit")
        self.ignored: list[tuple[Address, str]] = []    # duplicates dropped, and why
        self.name_servers: list[tuple[Address, str]] = []  # (address, state)
        self.pvs: list[PVReport] = []
        self.repeater = ""
        self.beacons: list[tuple[Address, int, int]] = []  # (server, count, last id)
        self.warnings: list[str] = []
        self.error: str | None = None                   # a setting that cannot be used

    @property
    def ok(self) -> bool:
        """True when every PV was reached (connected)."""
        return self.error is None and all(pv.connected for pv in self.pvs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "error": self.error,
            "settings": [s.as_dict() for s in self.settings],
            "typos": [{"name": a, "did_you_mean": b} for a, b in self.typos],
            "interfaces": [{"name": n, "address": a, "broadcast": b}
                           for n, a, b in self.interfaces],
            "address_list": [{"address": _text(a), "source": s} for a, s in self.addresses],
            "ignored": [{"address": _text(a), "reason": r} for a, r in self.ignored],
            "name_servers": [{"address": _text(a), "state": s} for a, s in self.name_servers],
            "pvs": [pv.as_dict() for pv in self.pvs],
            "repeater": self.repeater,
            "beacons": [{"server": _text(a), "count": n, "beacon_id": i}
                        for a, n, i in self.beacons],
            "warnings": self.warnings}


def _text(address: Address | None) -> str | None:
    return None if address is None else f"{address[0]}:{address[1]}"


def settings(env: Mapping[str, str], report: Report) -> None:
    """Every known variable with its source, and the names that look like typos."""
    for name, default in KNOWN.items():
        value = env.get(name)
        if value is not None and value.strip():
            report.settings.append(Setting(name, value, "environment"))
        else:
            report.settings.append(Setting(name, default, "default"))
    unknown = [n for n in env if n.startswith(("EPICS_CA", "EPCIS", "EPICS_AC"))
               and n not in KNOWN]
    if unknown:
        import difflib      # (only when a name needs it)
        for name in sorted(unknown):
            match = difflib.get_close_matches(name, list(KNOWN), n=1, cutoff=0.75)
            if match:
                report.typos.append((name, match[0]))


def address_list(config: ClientConfig, report: Report) -> list[Address]:
    """The interfaces, then the UDP search list as the client builds it: automatic
    broadcast entries first, then EPICS_CA_ADDR_LIST; a duplicate is sent once."""
    from .netinfo import interfaces
    found = interfaces()
    report.interfaces = [(i.name, i.address, i.broadcast) for i in found]
    out: list[Address] = []
    if config.auto_addr_list:
        for i in found:
            entry = (i.broadcast, config.server_port)
            if entry in out:
                report.ignored.append((entry, "auto entry listed twice"))
            else:
                out.append(entry)
                report.addresses.append((entry, "auto"))
    for entry in config.addr_list:
        if entry in out:
            report.ignored.append((entry, "EPICS_CA_ADDR_LIST entry already in the list"))
        else:
            out.append(entry)
            report.addresses.append((entry, "explicit"))
    return out


def diagnose(names: Sequence[str], *, timeout: float = 1.0, beacon_window: float = 2.0,
             env: Mapping[str, str] | None = None) -> Report:
    """Look at the settings in ``env`` (default: ``os.environ``), then search for
    ``names`` for up to ``timeout`` seconds and listen for beacons for
    ``beacon_window`` seconds (both at once)."""
    env = os.environ if env is None else env
    report = Report()
    settings(env, report)
    try:
        config = ClientConfig.from_env(env)
    except ValueError as exc:
        report.error = str(exc)
        return report
    address_list(config, report)
    start = time.monotonic()
    listener = _beacon_listener(config, report)
    try:
        _search(names, config, report, timeout, time.monotonic())
        _beacons(listener, report, start + beacon_window)
    finally:
        if listener is not None:
            listener.close()
    for pv in report.pvs:
        pv.hints = hints(pv, config, env, report)
    return report


def _beacon_listener(config: ClientConfig, report: Report) -> Any:
    """Register with the caRepeater (its state goes in ``report``); without one,
    listen on the repeater port directly."""
    from .client.beacons import BeaconListener, RegistrationError
    port = config.repeater_port
    listener = BeaconListener(port)
    try:
        listener.register(attempts=4, interval=0.1)
        report.repeater = f"running on UDP port {port} (registration confirmed)"
        return listener
    except RegistrationError:
        listener.close()
    try:
        listener = BeaconListener(port, direct=True)
    except OSError as exc:
        report.repeater = (f"not answering: UDP port {port} is held by another program "
                           f"({exc.strerror or exc}); beacons not heard")
        return None
    report.repeater = f"not running (UDP port {port} free); beacons heard directly"
    return listener


def _search(names: Sequence[str], config: ClientConfig, report: Report, timeout: float,
            start: float) -> None:
    from .client import Connect, Context, observe, run
    by_name: dict[str, PVReport] = {}
    for name in names:
        by_name.setdefault(name, PVReport(name))
    report.pvs = list(by_name.values())
    circuits: dict[Address, str] = {}

    def on_reply(name: str, address: Address, when: float) -> None:
        pv = by_name.get(name)
        if pv is not None:
            pv.replies.append((address, (when - start) * 1000.0))

    def on_circuit(address: Address, event: str, detail: str) -> None:
        if circuits.get(address) != "connected":
            circuits[address] = event if event == "connected" else f"failed: {detail}"

    ctx = Context(config, on_warning=lambda m, c: report.warnings.append(f"{m}: {c}"),
                  on_log=report.warnings.append)
    try:
        observe(ctx, on_search_reply=on_reply, on_circuit=on_circuit)
        op = run(ctx, Connect(list(by_name), timeout=timeout))
        if any(pv.replies for pv in report.pvs):
            ctx.run_until(lambda: False, 0.2)   # (late duplicates, failed connects)
        if ctx.name_servers:
            ctx.run_until(lambda: all(a in circuits for a in ctx.name_servers), 0.5)
        for pv, result in zip(report.pvs, op.results):
            if result.ok:
                pv.connected = True
                pv.server = result.server
                pv.read_access, pv.write_access = result.read_access, result.write_access
                pv.native_type, pv.native_count = result.type_name, result.native_count
            if pv.replies:
                server = pv.server or pv.replies[0][0]
                pv.circuit = circuits.get(server, "connected" if pv.connected else "none")
        report.name_servers = [(a, circuits.get(a, "no answer")) for a in ctx.name_servers]
    finally:
        ctx.close()


def _beacons(listener: Any, report: Report, until: float) -> None:
    if listener is None:
        return
    heard: dict[Address, list[int]] = {}
    from .client.beacons import beacon_address
    while True:
        left = until - time.monotonic()
        if left <= 0:
            break
        for event in listener.events(timeout=left):
            key = beacon_address(event.beacon, event.sender, SERVER_PORT)
            entry = heard.setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] = event.beacon.beacon_id
            if time.monotonic() >= until:
                break
    report.beacons = [(address, n, last) for address, (n, last) in heard.items()]


def hints(pv: PVReport, config: ClientConfig, env: Mapping[str, str],
          report: Report) -> list[str]:
    """Likely causes, in this set-up, of a PV not reached (none for one reached)."""
    out: list[str] = []
    if pv.duplicate:
        out.append("more than one server answers for this name: the client uses the "
                   "first; rename or remove the other")
    if pv.connected:
        if not pv.read_access:
            out.append("connected without read access: see the server's access security")
        return out
    if pv.replies:
        server = pv.replies[0][0]
        out.append(f"{server[0]}:{server[1]} answered but no TCP circuit was made "
                   f"({pv.circuit}): a firewall on TCP port {server[1]}, or a server "
                   "address this host cannot reach")
        return out
    port = config.server_port
    if not report.addresses and not config.name_servers:
        out.append("the address list is empty (EPICS_CA_AUTO_ADDR_LIST=NO and no "
                   "EPICS_CA_ADDR_LIST): no search is sent at all")
    elif report.addresses and all(a[0].startswith("127.") for a, _ in report.addresses):
        out.append("only loopback is searched: no broadcast reaches a server on another "
                   "host; add its address or subnet broadcast to EPICS_CA_ADDR_LIST")
    if config.auto_addr_list and not report.interfaces and not config.addr_list:
        out.append("no interface with a broadcast address was found for the automatic "
                   "list")
    try:
        server_port = ServerConfig.from_env(env).port
    except ValueError:
        server_port = port
    if server_port != port:
        out.append(f"servers started with this environment listen on UDP port "
                   f"{server_port}, but searches go to port {port}: set "
                   f"EPICS_CA_SERVER_PORT={server_port} (or add host:{server_port} to "
                   "EPICS_CA_ADDR_LIST)")
    for address, _, _ in report.beacons:
        if address[1] != port and all(a != address for a, _ in report.addresses):
            out.append(f"a server at {address[0]}:{address[1]} sends beacons but is not "
                       f"searched (searches go to port {port}): set EPICS_CA_SERVER_PORT="
                       f"{address[1]} or add {address[0]}:{address[1]} to "
                       "EPICS_CA_ADDR_LIST")
    refused = [a for a, state in report.name_servers if state != "connected"]
    for address in refused:
        out.append(f"name server {address[0]}:{address[1]} was not reached")
    for name, known in report.typos:
        out.append(f"{name} is not read by Channel Access (did you mean {known}?)")
    out.append("no server answered: check the name, that its IOC runs, and that no "
               f"firewall drops UDP port {port}")
    return out


__all__ = ["diagnose", "Report", "PVReport", "Setting", "CA_VARIABLES", "CAS_VARIABLES",
           "hints", "settings", "address_list"]
