"""The blocking client: one Context owns the UDP socket, the circuits (``_circuit``) and
the PVs (``_pv``).

Everything runs on the caller's thread: blocking calls drive ``Context.process`` (a
readiness loop (``_poll``) with ``time.monotonic`` deadlines) until what they wait for
happens.
"""
from __future__ import annotations

import _socket  # (socket.py's wrapper costs ~1.2 ms to import; _socket.socket suffices)
import sys
import time
from typing import Any, Callable, Iterable, Sequence

from ..config import ClientConfig
from ..protocol import (CLIENT, DISCONNECTED, AccessRightsResponse, Broadcaster,
                        ClearChannelRequest, CreateChanResponse, CreateChFailResponse,
                        EchoRequest, EchoResponse, ErrorResponse, EventAddResponse,
                        EventCancelResponse, LocalProtocolError, NotFoundResponse,
                        ReadNotifyResponse, ReadResponse, RemoteProtocolError,
                        SearchResponse, ServerDisconnResponse, VersionResponse,
                        WriteNotifyResponse, promote)
from ..protocol._constants import MAX_NAME_LENGTH, NAME_CHARS_SAFE, name_too_long
from . import _net
from ._backoff import Backoff
from ._circuit import Circuit
from ._discovery import Discovery
from ._errors import AccessDeniedError, CaStatusError, CaTimeoutError, DisconnectedError
from ._poll import READ, WRITE, Poller
from ._pv import (CLOSED, CONNECTED, NEVER_CONNECTED, PREVIOUSLY_CONNECTED, PV, Operation,
                  Subscription)

_RECV_SIZE = 1 << 17
#: libca waits this long for an ECHO reply before declaring a circuit unresponsive.
ECHO_TIMEOUT = 5.0
#: Seconds between repeater registration attempts until one is confirmed.
REGISTER_RETRY = 5.0
#: A channel dropped after a bad reply is searched again after this long (libca's
#: disconnect-governor period), so a server that keeps sending it is not hammered.
DROP_RETRY = 10.0
#: Replies that name their request's IOID in p2, and those that carry the client's
#: channel id in p1 (how a bad reply is traced to its channel).
_IOID_REPLIES = frozenset({ReadResponse.ID, ReadNotifyResponse.ID, WriteNotifyResponse.ID})
_CID_REPLIES = frozenset({ErrorResponse.ID, CreateChanResponse.ID, AccessRightsResponse.ID,
                          CreateChFailResponse.ID, ServerDisconnResponse.ID})


class Context(Discovery):
    """A CA client context configured from the environment (or a ClientConfig).

    Connects back off per server address (``ClientConfig.reconnect_delay``, doubling
    up to ``reconnect_ceiling``); a channel that gets a bad reply is cleared alone.
    With ``listen_beacons`` (through a caRepeater), :meth:`on_beacon` callbacks see
    every beacon, and a beacon anomaly (a new or restarted server) searches at once for
    the PVs not connected. ``on_log(line)`` prints libca's one-line errors (stderr).
    """

    def __init__(self, config: ClientConfig | None = None, *,
                 on_warning: Callable[[str, str], None] | None = None,
                 listen_beacons: bool = False) -> None:
        if config is None:
            import os
            config = ClientConfig.from_env(os.environ)
        self.config = config
        self.on_warning = on_warning if on_warning is not None else _print_ca_exception
        self.poller = Poller()
        self.broadcaster = Broadcaster(CLIENT)
        self.udp = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        self.udp.setblocking(False)
        try:
            self.udp.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 1 << 21)
        except OSError:
            pass
        self.udp.bind(("", 0))
        self.poller.register(self.udp, READ, None)
        self.search_targets = self._resolve(
            config.search_addresses(_net.broadcast_addresses), "EPICS_CA_ADDR_LIST")
        # as libca: always (an EPICS_CA_ADDR_LIST entry may be a subnet broadcast)
        try:
            self.udp.setsockopt(_socket.SOL_SOCKET, _socket.SO_BROADCAST, 1)
        except OSError as exc:
            _errlog(f'CAC: IP broadcasting enable failed because = "{exc.strerror}"')
        self.on_log: Callable[[str], None] = _errlog
        self._send_failed: set[tuple[str, int]] = set()    # reported once each
        self.backoff = Backoff(config.reconnect_delay, config.reconnect_ceiling)
        self._ns_addresses = list(dict.fromkeys(         # (each name server once)
            self._resolve(config.name_servers, "EPICS_CA_NAME_SERVERS")))
        self.host_name = _net.host_name()
        self.user_name = _net.user_name()
        self.pvs: dict[tuple[str, int], PV] = {}
        self.circuits: dict[tuple[tuple[str, int], int], Circuit] = {}
        self._searching: dict[int, PV] = {}
        self._search_due = 0.0              # no PV searching needs a datagram before this
        self._search_backlog: list[tuple[int, str]] = []   # (search id, name) to send
        self._backlog_start = 0                             # ... from this index on
        self._backlog_due = 0.0
        self._by_search_id: dict[int, PV] = {}
        self._servers: dict[tuple[str, int], tuple[str, int]] = {}
        self._next_search_id = 0
        self._sequence = 0
        #: name-server address -> its circuit (also its priority-0 data circuit)
        self._name_servers: dict[tuple[str, int], Circuit] = {}
        self._ns_missed: set[tuple[str, int]] = set()   # skipped a search while down
        self._refused: set[tuple[str, int]] = set()     # connect failure said already
        self._host_labels: dict[str, str] = {}
        self._closed = False
        self._dirty: list[Circuit] = []     # circuits with queued output
        #: Beacons (through a caRepeater, if one runs) speed up finding restarted or
        #: new servers; the client never starts a repeater itself.
        self.listen_beacons = listen_beacons
        self.repeater_registered = False
        self._register_at = 0.0 if listen_beacons else None
        self._beacon_tracker: Any = None    # made at the first beacon
        self._listening_since = time.monotonic()
        self._beacon_callbacks: list[Callable[[tuple[str, int], int, Any], None]] = []
        self._last_anomaly = 0.0

    def _resolve(self, entries: Iterable[tuple[str, int]], variable: str
                 ) -> list[tuple[str, int]]:
        """``(ip, port)`` of each ``(host, port)`` entry of ``variable``; a host that
        does not resolve is reported (on_warning) and left out."""
        out = []
        for host, port in entries:
            try:
                out.append((_net.resolve(host), port))
            except OSError:
                self.on_warning(f"Unable to resolve {variable} entry", host)
        return out

    # -- public API ----------------------------------------------------------

    def pv(self, name: str, priority: int = 0) -> PV:
        """The PV object for ``name`` (created and searched for on first use)."""
        return self.pvs_for((name,), priority)[0]

    def pvs_for(self, names: Iterable[str], priority: int = 0) -> list[PV]:
        """PV objects for many names; all are searched in the first batch."""
        pvs = self.pvs
        searching = self._searching
        by_search_id = self._by_search_id
        now = time.monotonic()
        search_id = self._next_search_id
        out = []
        for name in names:
            key = (name, priority)
            pv = pvs.get(key)
            if pv is None:      # a new PV: its search id, and its first search now
                if not name or "\0" in name or (len(name) > NAME_CHARS_SAFE
                                                  and name_too_long(name)):
                    raise ValueError(f"invalid PV name {name[:60]!r}: empty, over "
                                     f"{MAX_NAME_LENGTH} bytes or holding a NUL")
                pv = pvs[key] = PV(self, name, priority)
                search_id = (search_id + 1) & 0xFFFFFFFF
                pv.search_id = search_id
                pv.next_search = now
                searching[search_id] = by_search_id[search_id] = pv
            out.append(pv)
        if search_id != self._next_search_id:
            self._next_search_id = search_id
            self._search_due = min(self._search_due, now)
        return out

    def wait_connected(self, pvs: Sequence[PV], timeout: float | None) -> bool:
        """Run until every PV is connected or ``timeout`` (None: forever) passes."""
        pending = [pv for pv in pvs if not pv.connected]
        first = 0       # pending[:first] are connected (they mostly connect in order)

        def done() -> bool:
            nonlocal first
            n = len(pending)
            while first < n and pending[first].state == CONNECTED:
                first += 1
            return first == n
        return self.run_until(done, timeout)

    def run_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Process I/O until ``predicate()`` is true or ``timeout`` expires."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not predicate():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return predicate()
            self.process(None if deadline is None else deadline - now)
        return True

    def read(self, pv: PV, data_type: int | None = None, count: int | None = None,
             callback: Callable[[Operation], None] | None = None) -> Operation:
        """Start a READ_NOTIFY; the Operation's result is the ReadNotifyResponse."""
        return self.read_many([(pv, data_type, count)], callback)[0]

    def read_many(self, requests: Iterable[tuple[PV, int | None, int | None]],
                  callback: Callable[[Operation], None] | None = None) -> list[Operation]:
        """Start READ_NOTIFYs for many ``(pv, data_type, count)`` (None: native); as
        :meth:`read` for each, with each circuit's requests encoded in one go."""
        ops = []
        batches: dict[Circuit, tuple[list[Operation], list[Any]]] = {}
        for pv, data_type, count in requests:
            op = Operation(pv, "read", callback)
            ops.append(op)
            if pv.state != CONNECTED:
                op._finish(error=DisconnectedError(pv.name, "not connected"))
                continue
            if not pv.access_rights & 1:
                op._finish(error=AccessDeniedError(pv.name, "no read access"))
                continue
            circuit: Circuit = pv.circuit  # type: ignore[assignment]  # (connected: set)
            batch = batches.get(circuit)
            if batch is None:
                batch = batches[circuit] = ([], [])
            batch[0].append(op)
            batch[1].append((pv.channel, data_type, count))
        for circuit, (circuit_ops, reads) in batches.items():
            ioids, data = circuit.core.read_notify_many(reads)
            circuit.ops.update(zip(ioids, circuit_ops))
            circuit.write(data)
        return ops

    def write(self, pv: PV, data: Any, data_type: int | None = None,
              count: int | None = None, notify: bool = False,
              callback: Callable[[Operation], None] | None = None) -> Operation:
        """Start a WRITE (done once sent) or WRITE_NOTIFY (done when the server says)."""
        op = Operation(pv, "write", callback)
        if not pv.connected:
            op._finish(error=DisconnectedError(pv.name, "not connected"))
            return op
        if not pv.write_access:
            op._finish(error=AccessDeniedError(pv.name, "Write access denied"))
            return op
        circuit, channel = pv.link()
        request = channel.write(data, data_type=data_type, data_count=count, notify=notify)
        if notify:
            circuit.ops[request.ioid] = op
        circuit.send(request)
        if not notify:
            op._finish(result=None)
        return op

    def wait(self, ops: Sequence[Operation], timeout: float | None) -> bool:
        """Run until every operation is done or the timeout passes."""
        pending = list(ops)

        def done() -> bool:
            while pending and pending[-1].done:
                pending.pop()
            return not pending
        return self.run_until(done, timeout)

    def sync(self, pv: PV, timeout: float | None) -> bool:
        """Round-trip an ECHO on ``pv``'s circuit: every earlier reply (e.g. an ERROR
        for a plain WRITE) has arrived when it returns True."""
        circuit = pv.circuit
        if circuit is None or circuit.closed:
            return False
        target = circuit.echoes + 1
        circuit.send(EchoRequest())
        return self.run_until(lambda: circuit.echoes >= target or circuit.closed, timeout) \
            and not circuit.closed

    def subscribe(self, pv: PV, callback: Callable[..., None], data_type: int | str | None
                  = "time", count: int | None = None, mask: int = 5) -> Subscription:
        """Monitor ``pv``; re-established after every reconnect.

        ``data_type`` is a DBR id, a family ("native", "status", "time", "graphic",
        "control") applied to the native type on each connect, or None (native).
        """
        sub = Subscription(pv, callback, data_type, count, mask)
        pv.subscriptions.append(sub)
        if pv.connected:
            self._install(sub)
        return sub

    def on_beacon(self, callback: Callable[[tuple[str, int], int, Any], None]
                  ) -> Callable[[tuple[str, int], int, Any], None]:
        """Call ``callback(server_address, beacon_id, anomaly)`` for each beacon heard
        (needs ``listen_beacons=True`` and a caRepeater); ``anomaly`` is None or the
        ``catools.client.beacons.BeaconAnomaly`` it shows (a new, restarted or
        reappeared server, or a shortened period), on which the Context also searches
        at once for its unconnected PVs. Returns ``callback`` (a decorator)."""
        self._beacon_callbacks.append(callback)
        return callback

    def close(self, clear_channels: bool = True) -> None:
        """Clear channels politely (unless ``clear_channels`` is False: the server frees
        them when the circuit closes, as for libca's ``ca_context_destroy``) and close
        every socket."""
        if self._closed:
            return
        self._closed = True
        circuits = list(self.circuits.values())
        circuits += [c for c in self._name_servers.values() if c not in circuits]
        for circuit in circuits:
            if not circuit.closed and not circuit.connecting:
                try:
                    clears = [pv.channel.clear() for pv in circuit.pvs.values()
                              if clear_channels and pv.channel is not None and pv.connected]
                    if clears:
                        circuit.send(*clears)
                    if circuit.outbuf:
                        circuit.sock.setblocking(True)
                        circuit.sock.settimeout(0.2)
                        circuit.sock.sendall(bytes(circuit.outbuf))
                except (OSError, LocalProtocolError):
                    pass
            circuit.close()
        for pv in self.pvs.values():
            pv.state = CLOSED
        self.poller.unregister(self.udp)
        self.udp.close()
        self.poller.close()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def host_label(self, address: str) -> str:
        """The name cainfo shows for a server address (reverse lookup, cached)."""
        label = self._host_labels.get(address)
        if label is None:
            try:
                label = _socket.gethostbyaddr(address)[0]
            except OSError:
                label = address
            self._host_labels[address] = label
        return label

    # -- the loop ------------------------------------------------------------

    def process(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` for I/O or a timer, then handle what happened."""
        now = time.monotonic()
        due = self._timers(now)
        if self._dirty:
            dirty, self._dirty = self._dirty, []
            for circuit in dirty:
                circuit.flush()
        wait = due - now if due is not None else None
        if timeout is not None:
            wait = timeout if wait is None else min(wait, timeout)
        if wait is not None and wait < 0:
            wait = 0
        for circuit, events in self.poller.wait(wait):
            if circuit is None:
                self._read_udp()
                continue
            if circuit.closed:
                continue
            if events & WRITE:
                circuit.on_writable()
                if circuit.closed:
                    continue
            if events & READ:
                self._read_circuit(circuit)

    def _timers(self, now: float) -> float | None:
        """Run searches and echo checks that are due; return the next due time."""
        nxt: float | None = None
        if self._register_at is not None and not self.repeater_registered:
            if now >= self._register_at:
                self._register_with_repeater()
                self._register_at = now + REGISTER_RETRY
            nxt = self._register_at
        if self._searching:
            # _search_due is never later than the earliest next_search (it may be earlier:
            # then one pass finds nothing due and recomputes it)
            if now >= self._search_due:
                # replies already received come first: no search again for what they answer
                self._read_udp()
                due = [pv for pv in self._searching.values() if pv.next_search <= now]
                if due:
                    self._send_searches(due, now)
                self._search_due = min((pv.next_search for pv in self._searching.values()),
                                       default=now + 3600.0)
            nxt = self._search_due
        if self._search_backlog:
            if now >= self._backlog_due:
                self._send_backlog(now)
            if self._search_backlog:
                nxt = self._backlog_due if nxt is None else min(nxt, self._backlog_due)
        if self._ns_addresses and self._searching:
            t = self._connect_name_servers(now)
            if t is not None:
                nxt = t if nxt is None else min(nxt, t)
        conn_tmo = self.config.conn_tmo
        # a server that accepts but never answers fails like one that refuses
        handshake = min(conn_tmo, ECHO_TIMEOUT)
        for circuit in list(self.circuits.values()):
            if circuit.closed:
                continue
            sent = circuit.creates_sent_at
            if circuit.established_at is None:      # connecting, or no reply yet
                t = circuit.created_at + handshake
                if now >= t:
                    self._circuit_lost(circuit, "")
                    continue
            elif sent is not None and circuit.creates_answered_at < sent and \
                    circuit.echo_sent is None:      # silent since channels were requested
                t = max(sent, circuit.last_recv) + handshake
                if now >= t:
                    self._circuit_lost(circuit, "Virtual circuit unresponsive")
                    continue
            elif circuit.echo_sent is not None:
                if now - circuit.echo_sent > ECHO_TIMEOUT:
                    self._circuit_lost(circuit, "Virtual circuit unresponsive")
                    continue
                t = circuit.echo_sent + ECHO_TIMEOUT
            elif now - circuit.last_recv >= conn_tmo:
                circuit.echo_sent = now
                circuit.send(EchoRequest())
                t = now + ECHO_TIMEOUT
            else:
                t = circuit.last_recv + conn_tmo
            nxt = t if nxt is None else min(nxt, t)
        if self._searching and (nxt is None or self._search_due < nxt):
            nxt = self._search_due      # (PVs of circuits lost just now search again)
        return nxt

    # -- circuits ------------------------------------------------------------

    def _read_circuit(self, circuit: Circuit) -> None:
        try:
            data = circuit.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        circuit.last_recv = now = time.monotonic()
        circuit.echo_sent = None
        if data and circuit.established_at is None:
            self._established(circuit, now)
        core = circuit.core
        core.recv(data)
        dispatch = _DISPATCH
        while True:
            try:
                commands = core.next_commands()
            except RemoteProtocolError as exc:
                if getattr(exc, "recoverable", False):
                    self._bad_reply(circuit, exc)   # the circuit stays; next message
                    if circuit.closed:
                        return
                    continue
                self._circuit_lost(circuit, f"protocol error: {exc}")
                return
            if not commands:
                return
            for command in commands:
                handler = dispatch.get(command.__class__)
                if handler is not None:
                    handler(self, circuit, command)
                    if circuit.closed:
                        return
                elif command is DISCONNECTED:
                    self._circuit_lost(circuit)
                    return

    def _established(self, circuit: Circuit, now: float) -> None:
        """The server's first bytes on ``circuit``: the handshake is answered."""
        circuit.established_at = now
        self._refused.discard(circuit.address)
        if circuit.name_server and circuit.address in self._ns_missed:
            self._ns_missed.discard(circuit.address)
            self._boost_searches(now)   # what it missed while it was down

    def _bad_reply(self, circuit: Circuit, exc: RemoteProtocolError) -> None:
        """A recoverable protocol error: drop the channel it concerns (found from the
        offending message's header), keep the circuit and the other channels."""
        header = getattr(exc, "header", None)
        pv = None
        if header is not None:
            command, p1, p2 = header.command, header.parameter1, header.parameter2
            if command == EventAddResponse.ID:      # p2: the subscription id
                sub = circuit.subs.get(p2)
                pv = sub.pv if sub is not None else None
            elif command in _IOID_REPLIES:
                op = circuit.ops.get(p2)
                pv = op.pv if op is not None else None
            elif command in _CID_REPLIES:
                pv = circuit.pvs.get(p1)
        if pv is None or pv.circuit is not circuit:
            host = f"{self.host_label(circuit.address[0])}:{circuit.address[1]}"
            self.on_warning("Bad message from server (ignored)", f"{host} {exc}")
            return
        self._drop_channel(circuit, pv, str(exc))

    def _drop_channel(self, circuit: Circuit, pv: PV, reason: str) -> None:
        """Clear ``pv``'s channel alone (CLEAR_CHANNEL), report it, and search for it
        again after DROP_RETRY."""
        channel = pv.channel
        if channel is not None:
            circuit.pvs.pop(channel.cid, None)
            if channel.sid is not None:
                try:
                    circuit.send(channel.clear())
                except LocalProtocolError:
                    pass
        for subscriptionid in [i for i, sub in circuit.subs.items() if sub.pv is pv]:
            del circuit.subs[subscriptionid]
        for ioid in [i for i, op in circuit.ops.items() if op.pv is pv]:
            circuit.ops.pop(ioid)._finish(error=DisconnectedError(pv.name, reason))
        self.on_warning("Channel dropped after a bad reply", f"{pv.name} {reason}")
        self._lose_pv(pv, time.monotonic(), retry_after=DROP_RETRY)

    def _on_update(self, circuit: Circuit, command: Any) -> None:
        sub = circuit.subs.get(command.subscriptionid)
        if sub is not None and not sub.cancelled:
            sub.callback(sub, "update", command)

    def _on_io_reply(self, circuit: Circuit, command: Any) -> None:
        """A READ_NOTIFY or WRITE_NOTIFY reply ends its operation (status in p1)."""
        op = circuit.ops.pop(command.ioid, None)
        if op is None:
            return
        if command.status & 1:
            op._finish(result=command)
        else:
            op._finish(error=CaStatusError(op.pv.name, command.status))

    def _on_created(self, circuit: Circuit, command: Any) -> None:
        circuit.creates_answered_at = circuit.last_recv
        pv = circuit.pvs.get(command.cid)
        if pv is None:
            return
        data_type = command.data_type
        type_changed = pv.native_type != data_type and pv.native_type != -1
        pv.native_type = data_type
        pv.native_count = command.data_count
        channel = pv.channel
        pv.access_rights = 0 if channel is None else int(channel.access_rights)
        pv.state = CONNECTED
        pv.disconnected_at = None
        for sub in pv._subscriptions or ():
            if type_changed:
                sub.data_type = None
            self._install(sub)
            sub.callback(sub, "connected", None)
        if pv._connection_callbacks:
            for callback in list(pv._connection_callbacks):
                callback(pv, True)

    def _on_access(self, circuit: Circuit, command: Any) -> None:
        pv = circuit.pvs.get(command.cid)
        if pv is None:
            return
        rights = command.access_rights & 3
        changed = pv.access_rights != rights
        pv.access_rights = rights
        if changed and pv.state == CONNECTED and pv._access_callbacks:
            for callback in list(pv._access_callbacks):
                callback(pv)

    def _on_create_fail(self, circuit: Circuit, command: Any) -> None:
        circuit.creates_answered_at = circuit.last_recv
        pv = circuit.pvs.pop(command.cid, None)
        if pv is not None:
            self._lose_pv(pv, time.monotonic(), retry_after=1.0)

    def _on_server_disconn(self, circuit: Circuit, command: Any) -> None:
        pv = circuit.pvs.pop(command.cid, None)
        if pv is not None:
            self._lose_pv(pv, time.monotonic())

    def _on_error(self, circuit: Circuit, command: Any) -> None:
        header = command.original_header
        status = command.status
        if header.command in (15, 19, 3):
            op = circuit.ops.pop(header.parameter2, None)
            if op is not None:
                op._finish(error=CaStatusError(op.pv.name, status, command.error_message))
                return
        pv = circuit.pvs.get(command.cid)
        name = pv.name if pv is not None else None
        if header.command == 4 and pv is not None:
            pv.write_errors.append(CaStatusError(pv.name, status, command.error_message))
            return
        if header.command == 1:
            sub = circuit.subs.pop(header.parameter2, None)
            if sub is not None:
                sub.subscriptionid = None
                sub.callback(sub, "error", command)
                return
        from ..protocol import ca_message
        self.on_warning(ca_message(status), f"{name or ''} {command.error_message}".strip())

    def _install(self, sub: Subscription) -> None:
        pv = sub.pv
        if sub.cancelled or not pv.connected:
            return
        requested = sub.requested_type
        if callable(requested):
            data_type = requested(pv.native_type)
        elif isinstance(requested, str):
            data_type = promote(pv.native_type, requested)
        elif requested is None:
            data_type = pv.native_type
        else:
            data_type = requested
        sub.data_type = data_type
        count = sub.count
        if count and pv.native_count and count > pv.native_count:
            count = pv.native_count     # as libca/camonitor: never more than the channel has
        circuit, channel = pv.link()
        request = channel.subscribe(data_type=data_type, data_count=count, mask=sub.mask)
        sub.subscriptionid = request.subscriptionid
        circuit.subs[request.subscriptionid] = sub
        circuit.send(request)

    def _circuit_lost(self, circuit: Circuit, reason: str = "Virtual circuit disconnect"
                      ) -> None:
        if circuit.closed:
            return
        circuit.close()
        now = time.monotonic()
        address = circuit.address
        retry = self._count_failure(address, circuit.connect_error, circuit.established_at,
                                     now)
        if self._name_servers.get(address) is circuit:
            del self._name_servers[address]
            self._ns_missed.add(address)        # its searches in flight are lost
        key = (address, circuit.priority)
        if self.circuits.get(key) is circuit:
            del self.circuits[key]
        for op in list(circuit.ops.values()):
            op._finish(error=DisconnectedError(op.pv.name, reason or "not connected"))
        circuit.ops.clear()
        was_connected = [pv for pv in circuit.pvs.values() if pv.connected]
        for pv in list(circuit.pvs.values()):   # searched again once it may reconnect
            self._lose_pv(pv, now, retry_after=retry - now)
        circuit.pvs.clear()
        circuit.subs.clear()
        if was_connected and reason:
            host = f"{self.host_label(circuit.address[0])}:{circuit.address[1]}"
            self.on_warning(reason, host)

    def _lose_pv(self, pv: PV, now: float, retry_after: float = 0.0) -> None:
        was_connected = pv.connected
        pv.circuit = None
        pv.channel = None
        pv.server = None
        pv.access_rights = 0
        if pv.state == CONNECTED:
            pv.state = PREVIOUSLY_CONNECTED
            pv.disconnected_at = now
        for sub in pv._subscriptions or ():
            sub.subscriptionid = None
        if was_connected:
            for sub in list(pv._subscriptions or ()):
                sub.callback(sub, "disconnected", None)
            for callback in list(pv._connection_callbacks or ()):
                callback(pv, False)
        if not self._closed:
            self._start_search(pv, now)
            pv.next_search = now + retry_after


def _errlog(line: str) -> None:
    """One line on stderr, as libca's errlogPrintf."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _print_ca_exception(message: str, context: str) -> None:
    """libca's CA.Client.Exception block on stderr (ANSI-free)."""
    stamp = time.strftime("%a %b %d %Y %H:%M:%S", time.localtime())
    frac = f"{time.time() % 1:.9f}"[1:]
    sys.stderr.write(
        "CA.Client.Exception...............................................\n"
        f'    Warning: "{message}"\n'
        f'    Context: "{context}"\n'
        f"    Current Time: {stamp}{frac}\n"
        "..................................................................\n")
    sys.stderr.flush()


_DISPATCH: dict[type, Callable[[Context, Circuit, Any], None]] = {
    EventAddResponse: Context._on_update,
    ReadNotifyResponse: Context._on_io_reply,
    WriteNotifyResponse: Context._on_io_reply,
    CreateChanResponse: Context._on_created,
    AccessRightsResponse: Context._on_access,
    CreateChFailResponse: Context._on_create_fail,
    ServerDisconnResponse: Context._on_server_disconn,
    ErrorResponse: Context._on_error,
    SearchResponse: lambda self, circuit, command: self._on_search_response(
        command.cid, command.address if command.ip != "255.255.255.255"
        else (circuit.address[0], command.port)),
    NotFoundResponse: lambda self, circuit, command: None,
    VersionResponse: lambda self, circuit, command: None,
    EchoResponse: lambda self, circuit, command: setattr(circuit, "echoes",
                                                         circuit.echoes + 1),
    EventCancelResponse: lambda self, circuit, command: None,
}

__all__ = ["Context", "PV", "Circuit", "Operation", "Subscription", "NEVER_CONNECTED",
           "PREVIOUSLY_CONNECTED", "CONNECTED", "CLOSED", "ClearChannelRequest",
           "CaTimeoutError"]
