"""The client's circuits: one per (server, priority), made when a search finds a PV,
backed off per server when they fail, and watched (handshake, owed replies, idle ECHO).

A :class:`CircuitPool` is what its circuits report to (their ``CircuitOwner``); it
sends lost PVs back to the :class:`~._search.SearchScheduler`.
"""
from __future__ import annotations

import os
import time

from ..config import ClientConfig
from ..hints import TYPE_CHECKING
from ..protocol import LocalProtocolError
from ._backoff import Backoff
from ._batch import ReadBatch
from ._callbacks import CallbackQueue
from ._circuit import Circuit
from ._poll import Poller
from ._errors import AccessDeniedError, DisconnectedError
from ._pv import CONNECTED, PREVIOUSLY_CONNECTED, PV, Operation
from ._search import SearchScheduler

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Iterable, Sequence

#: libca waits this long for an ECHO reply before declaring a circuit unresponsive.
ECHO_TIMEOUT = 5.0
Address = tuple[str, int]
Creates = dict[Circuit, list[PV]]


def _by_circuit(requests: Sequence[tuple[PV, Any, Any]],
                fail: Callable[[int, Exception], None]
                ) -> dict[Circuit, tuple[list[int], list[Any]]]:
    """The positions in ``requests`` of each circuit's reads, and their ``(channel,
    data_type, count)``; ``fail(position, error)`` for a PV not connected or not
    readable."""
    batches: dict[Circuit, tuple[list[int], list[Any]]] = {}
    last: Any = None            # (most PVs come in runs on one circuit)
    positions: list[int] = []       # (the lists of the circuit last seen)
    reads: list[Any] = []
    add_position, add_read = positions.append, reads.append
    position = -1
    for pv, data_type, count in requests:
        position += 1
        if pv.state != CONNECTED:
            fail(position, DisconnectedError(pv.name, "not connected"))
            continue
        if not pv.access_rights & 1:
            fail(position, AccessDeniedError(pv.name, "no read access"))
            continue
        circuit = pv.circuit
        if circuit is not last:
            entry = batches.get(circuit)       # type: ignore[arg-type]  # (set)
            if entry is None:
                entry = batches[circuit] = ([], [])  # type: ignore[index]
            add_position, add_read = entry[0].append, entry[1].append
            last = circuit
        add_position(position)
        add_read((pv.channel, data_type, count))
    return batches


class CircuitPool:
    """Circuits by ``(address, priority)``, name-server circuits, connect back-off."""

    def __init__(self, config: ClientConfig, poller: Poller, callbacks: CallbackQueue,
                 search: SearchScheduler, name_servers: list[Address], *,
                 user_name: str, host_name: str, host_label: Callable[[str], str],
                 warn: Callable[[str, str], None], log: Callable[[str], None]) -> None:
        self.config = config
        self.poller = poller
        self.callbacks = callbacks
        self.search = search
        self.name_servers = name_servers
        self.max_payload_size = config.max_payload_size
        self.user_name = user_name
        self.host_name = host_name
        self.host_label = host_label
        self.warn = warn
        self.log = log
        self.backoff = Backoff(config.reconnect_delay, config.reconnect_ceiling)
        self.circuits: dict[tuple[Address, int], Circuit] = {}
        self.dirty: list[Circuit] = []              # circuits with queued output
        self.closed = False
        self._ns_circuits: dict[Address, Circuit] = {}   # (also their priority-0 circuit)
        self._ns_missed: set[Address] = set()       # skipped a search while down
        self._refused: set[Address] = set()         # connect failure said already
        #: ``on_circuit(address, event, detail)``, if set: "connected" (the server's
        #: first bytes) or "failed" (a connect refused or failed: ``detail`` says why)
        self.on_circuit: Callable[[Address, str, str], None] | None = None

    # -- PVs found ---------------------------------------------------------------

    def attach(self, address: Address, priority: int, pvs: list[PV], creates: Creates
               ) -> None:
        """PVs found on the server at ``address``: to its circuit (their channels are
        opened by :meth:`create`), or parked until the server may be tried again."""
        circuit = self.circuit_for(address, priority, time.monotonic())
        if isinstance(circuit, float):
            for pv in pvs:
                self.search.park(pv, circuit)
            return
        batch = creates.get(circuit)
        if batch is None:
            creates[circuit] = pvs
        else:
            batch.extend(pvs)

    def create(self, creates: Creates) -> None:
        """Open the channels of :meth:`attach` (one write per circuit)."""
        now = time.monotonic()
        for circuit, pvs in creates.items():
            if not circuit.closed:
                circuit.create_channels(pvs, now)
                continue
            # lost already: search again when its server may be tried again
            at = max(now, self.backoff.retry_at(circuit.address))
            for pv in pvs:
                self.search.park(pv, at)

    def search_reply(self, circuit: Circuit | None, cid: int, address: Address | None,
                     creates: Creates | None = None) -> None:
        """A SearchResponse (over UDP, or a name server's circuit)."""
        pv = self.search.found(cid, address)
        if pv is not None:
            batch: Creates = {} if creates is None else creates
            self.attach(pv.server, pv.priority, [pv], batch)  # type: ignore[arg-type]
            if creates is None:
                self.create(batch)

    def circuit_for(self, address: Address, priority: int, now: float) -> Circuit | float:
        """The live circuit to ``address`` at ``priority`` (made if needed), or the
        time a connect may be tried again."""
        key = (address, priority)
        circuit = self.circuits.get(key)
        if circuit is not None and not circuit.closed:
            return circuit
        retry = self.backoff.retry_at(address)
        if retry > now:     # the server failed lately
            return retry
        try:
            circuit = self.circuits[key] = Circuit(address, priority, self, now)
        except OSError as exc:
            return self._count_failure(address, exc.errno or 0, None, now)
        return circuit

    def _count_failure(self, address: Address, err: int, established_at: float | None,
                       now: float) -> float:
        """Count a lost or failed circuit to ``address`` for its back-off (``err``: the
        errno of a failed connect, said once until a circuit to it works); return the
        time of the next connect."""
        if err and address not in self._refused:
            self._refused.add(address)
            self.log(f'CAC: Unable to connect because "{os.strerror(err)}"')
        if self.on_circuit is not None and (err or established_at is None):
            self.on_circuit(address, "failed", os.strerror(err) if err else "no answer")
        return self.backoff.failed(address, now, established_at)

    def read_many(self, requests: Iterable[tuple[PV, int | None, int | None]],
                  callback: Callable[[Operation], None] | None) -> list[Operation]:
        """READ_NOTIFYs for ``(pv, data_type, count)``, one write per circuit (a PV
        not connected or not readable fails at once)."""
        requests = list(requests)
        ops = [Operation(pv, "read", callback) for pv, _, _ in requests]
        for circuit, (positions, reads) in _by_circuit(
                requests, lambda i, error: ops[i]._finish(error=error)).items():
            circuit.read_many([ops[i] for i in positions], reads)
        return ops

    def read_batch(self, requests: Sequence[tuple[PV, int, int]]) -> ReadBatch:
        """READ_NOTIFYs for ``(pv, data_type, count)`` as one ReadBatch, one write per
        circuit (a read of a PV not connected or not readable fails at once)."""
        batch = ReadBatch([pv for pv, _, _ in requests])
        for circuit, (positions, reads) in _by_circuit(requests, batch.fail).items():
            circuit.read_batch(batch, positions, reads)
        return batch

    # -- name servers ------------------------------------------------------------

    def search_name_servers(self, datagram: bytes, now: float) -> None:
        """Send a search datagram's requests over each name server's circuit (its
        UDP VERSION header is left out: the circuit sent its own)."""
        self.connect_name_servers(now)
        body = datagram[16:] if datagram[:2] == b"\0\0" else datagram
        for address in self.name_servers:
            circuit = self._ns_circuits.get(address)
            if circuit is None or circuit.closed:
                self._ns_missed.add(address)    # search again once it is back
            else:
                circuit.stream.write(body)

    def connect_name_servers(self, now: float) -> float | None:
        """Give each name server without a live circuit a new one (its priority-0 data
        circuit too, as in libca), unless it is backing off; return the earliest time
        one of those may be tried again."""
        nxt: float | None = None
        for address in self.name_servers:
            circuit = self._ns_circuits.get(address)
            if circuit is not None and not circuit.closed:
                continue
            found = self.circuit_for(address, 0, now)
            if isinstance(found, float):
                nxt = found if nxt is None else min(nxt, found)
                continue
            found.name_server = True
            self._ns_circuits[address] = found
        return nxt

    # -- timers and output -------------------------------------------------------

    def check(self, now: float) -> float | None:
        """Run every circuit's timers; the next time to check (None: no circuit)."""
        nxt: float | None = None
        conn_tmo = self.config.conn_tmo
        for circuit in list(self.circuits.values()):
            if not circuit.closed:
                t = self._watch(circuit, now, conn_tmo)
                if t is not None:
                    nxt = t if nxt is None else min(nxt, t)
        return nxt

    def _watch(self, circuit: Circuit, now: float, conn_tmo: float) -> float | None:
        """A circuit's timers: the handshake, owed CREATE_CHAN replies, the idle ECHO
        (libca's). The next time to check, or None once it was found lost."""
        handshake = min(conn_tmo, ECHO_TIMEOUT)
        sent = circuit.creates_sent_at
        if circuit.established_at is None:      # connecting, or no reply yet
            t = circuit.created_at + handshake
            if now >= t:
                self.lost(circuit, "")
                return None
        elif sent is not None and circuit.creates_answered_at < sent and \
                circuit.echo_sent is None:      # silent since channels were asked for
            t = max(sent, circuit.last_recv) + handshake
            if now >= t:
                self.lost(circuit, "Virtual circuit unresponsive")
                return None
        elif circuit.echo_sent is not None:
            if now - circuit.echo_sent > ECHO_TIMEOUT:
                self.lost(circuit, "Virtual circuit unresponsive")
                return None
            t = circuit.echo_sent + ECHO_TIMEOUT
        elif now - circuit.last_recv >= conn_tmo:
            circuit.echo_sent = now
            circuit.echo()
            t = now + ECHO_TIMEOUT
        else:
            t = circuit.last_recv + conn_tmo
        return t

    def flush_later(self, circuit: Circuit) -> None:
        self.dirty.append(circuit)

    def flush(self) -> None:
        """Send the output every circuit queued since the last flush."""
        dirty, self.dirty = self.dirty, []
        for circuit in dirty:
            circuit.stream.flush()

    def close(self, clear_channels: bool) -> None:
        """Clear the channels (with ``clear_channels``) and close every circuit."""
        self.closed = True
        circuits = list(self.circuits.values())
        circuits += [c for c in self._ns_circuits.values() if c not in circuits]
        for circuit in circuits:
            if not circuit.closed and not circuit.stream.connecting:
                try:
                    clears = [pv.channel.clear() for pv in circuit.pvs.values()
                              if pv.channel is not None and pv.connected] \
                        if clear_channels else None
                    if clears:
                        circuit.send(*clears)
                except (OSError, LocalProtocolError):
                    pass
                circuit.stream.send_now()
            circuit.stream.close()

    # -- what circuits report (CircuitOwner) ---------------------------------------

    def established(self, circuit: Circuit) -> None:
        """The server's first bytes on ``circuit``: the handshake is answered."""
        self._refused.discard(circuit.address)
        if self.on_circuit is not None:
            self.on_circuit(circuit.address, "connected", "")
        if circuit.name_server and circuit.address in self._ns_missed:
            self._ns_missed.discard(circuit.address)
            self.search.boost(time.monotonic())     # what it missed while it was down

    def lost(self, circuit: Circuit, reason: str) -> None:
        """``circuit`` failed (``reason``: said if a PV on it was connected)."""
        if circuit.closed:
            return
        pvs = circuit.close(reason)
        now = time.monotonic()
        address = circuit.address
        retry = self._count_failure(address, circuit.stream.connect_error,
                                    circuit.established_at, now)
        if self._ns_circuits.get(address) is circuit:
            del self._ns_circuits[address]
            self._ns_missed.add(address)        # its searches in flight are lost
        if self.circuits.get((address, circuit.priority)) is circuit:
            del self.circuits[(address, circuit.priority)]
        was_connected = any(pv.connected for pv in pvs)
        for pv in pvs:                          # searched again once it may reconnect
            self.channel_lost(pv, retry - now)
        if was_connected and reason:
            self.warn(reason, f"{self.host_label(address[0])}:{address[1]}")

    def channel_lost(self, pv: PV, retry_after: float) -> None:
        """``pv``'s channel is gone: tell its callbacks, search again after
        ``retry_after`` seconds."""
        now = time.monotonic()
        was_connected = pv.connected
        pv.circuit = pv.channel = pv.server = None
        pv.access_rights = 0
        if was_connected:
            pv.state = PREVIOUSLY_CONNECTED
            pv.disconnected_at = now
            call = self.callbacks.call
            for sub in pv._subscriptions or ():
                sub.subscriptionid = None
                call(sub.callback, sub, "disconnected", None)
            for callback in pv._connection_callbacks or ():
                call(callback, pv, False)
        if not self.closed:
            self.search.restart(pv, now, retry_after)


__all__ = ["CircuitPool", "ECHO_TIMEOUT"]
