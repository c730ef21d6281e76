"""Finding servers: UDP and name-server searches with libca's bursts and back-off,
search replies, beacons, and the connect back-off per server (a part of ``Context``)."""
from __future__ import annotations

import errno
import os
import time
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, cast

from ..protocol import (MAX_UDP_SEND, Beacon, RemoteProtocolError, RepeaterConfirmResponse,
                        RepeaterRegisterRequest, SearchResponse, int_to_ip,
                        search_datagrams, search_replies)
from ._circuit import Circuit
from ._pv import PV
from ._search import (BURST, BURST_GAP, MIN_PERIOD, RECONNECT_PERIOD, RECONNECT_WINDOW,
                      next_period)

if TYPE_CHECKING:
    from _socket import socket

    from ..config import ClientConfig
    from ..protocol import Broadcaster
    from ._backoff import Backoff
    from ._context import Context

#: next_search of a PV whose search datagram waits in the backlog (set when it is sent)
PARKED = 3600.0
#: The most names a search datagram holds (the shortest: 16-byte header + 8 bytes).
_NAMES_PER_DATAGRAM = (MAX_UDP_SEND - 16) // 24
#: Re-search period of unresolved channels right after a beacon anomaly.
ANOMALY_PERIOD = 1.0
#: sendto errors that are not the destination's fault (retried with the next search).
_TRANSIENT_SEND = (errno.EINTR, errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNREFUSED)

_next_search_key = attrgetter("next_search")


class Discovery:
    """The search half of :class:`~catools.client.Context` (its state is made in
    ``Context.__init__``)."""

    if TYPE_CHECKING:
        config: ClientConfig
        udp: socket
        broadcaster: Broadcaster
        backoff: Backoff
        circuits: dict[tuple[tuple[str, int], int], Circuit]
        search_targets: list[tuple[str, int]]
        repeater_registered: bool
        on_log: Callable[[str], None]
        on_warning: Callable[[str, str], None]
        _searching: dict[int, PV]
        _search_due: float
        _search_backlog: list[tuple[int, str]]
        _backlog_start: int
        _backlog_due: float
        _by_search_id: dict[int, PV]
        _servers: dict[tuple[str, int], tuple[str, int]]
        _sequence: int
        _send_failed: set[tuple[str, int]]
        _ns_addresses: list[tuple[str, int]]
        _name_servers: dict[tuple[str, int], Circuit]
        _ns_missed: set[tuple[str, int]]
        _refused: set[tuple[str, int]]
        _beacon_tracker: Any
        _listening_since: float
        _beacon_callbacks: list[Callable[[tuple[str, int], int, Any], None]]
        _last_anomaly: float

        def host_label(self, address: str) -> str: ...

    def _start_search(self, pv: PV, now: float) -> None:
        """Search again for a PV (its search id was given by pvs_for)."""
        self._searching[pv.search_id] = pv  # type: ignore[index]
        pv.next_search = now
        if now < self._search_due:
            self._search_due = now
        pv.period = MIN_PERIOD
        if pv.disconnected_at is not None and now - pv.disconnected_at < RECONNECT_WINDOW:
            pv.search_ceiling = RECONNECT_PERIOD
        else:
            pv.search_ceiling = self.config.max_search_period

    def _send_searches(self, due: list[PV], now: float) -> None:
        if not self.search_targets and not self._ns_addresses:
            for pv in due:
                pv.next_search = now + pv.search_ceiling
            return
        due.sort(key=_next_search_key)
        parked = now + PARKED
        backlog = self._search_backlog
        for pv in due:
            pv.next_search = parked         # until its datagram is sent
            backlog.append((pv.search_id, pv.name))  # type: ignore[arg-type]  # (set)
        self._send_backlog(now)

    def _send_backlog(self, now: float) -> None:
        """Encode and send the next BURST datagrams of the backlog (the rest follow
        BURST_GAP apart, so that the servers' receive buffers do not overflow and their
        replies are read in between; encoded as they go, the first leave at once)."""
        backlog = self._search_backlog
        start = self._backlog_start
        datagrams = search_datagrams(backlog[start:start + BURST * _NAMES_PER_DATAGRAM],
                                     self._sequence + 1, max_datagrams=BURST)
        self._sequence += len(datagrams)
        self._backlog_start = start = start + sum(len(ids) for _, ids in datagrams)
        if start >= len(backlog):
            backlog.clear()
            self._backlog_start = 0
        searching = self._searching
        earliest = self._search_due
        for datagram, ids in datagrams:
            for search_id in ids:           # the back-off counts from the sending
                pv = searching.get(search_id)
                if pv is not None:
                    period = pv.period
                    pv.next_search = t = now + period
                    pv.period = next_period(period, pv.search_ceiling)
                    if t < earliest:
                        earliest = t
            for target in self.search_targets:
                try:
                    self.udp.sendto(datagram, target)
                except BlockingIOError:
                    break
                except OSError as exc:
                    self._send_failed_to(target, exc)
            if self._ns_addresses:
                self._search_name_servers(datagram, now)
        self._backlog_due = now + BURST_GAP
        self._search_due = earliest

    def _send_failed_to(self, target: tuple[str, int], exc: OSError) -> None:
        """Report a sendto error once per destination, in libca's words."""
        if exc.errno in _TRANSIENT_SEND or target in self._send_failed:
            return
        self._send_failed.add(target)
        text = os.strerror(exc.errno) if exc.errno else str(exc)
        self.on_log(f'CAC: error = "{text}" sending UDP msg to {target[0]}:{target[1]}')

    def _search_name_servers(self, datagram: bytes, now: float) -> None:
        """Send a search datagram's requests over each name server's circuit (its
        UDP VERSION header is left out: the circuit sent its own)."""
        self._connect_name_servers(now)
        body = datagram[16:] if datagram[:2] == b"\0\0" else datagram
        for address in self._ns_addresses:
            circuit = self._name_servers.get(address)
            if circuit is None or circuit.closed:
                self._ns_missed.add(address)    # search again once it is back
            else:
                circuit.write(body)

    def _connect_name_servers(self, now: float) -> float | None:
        """Give each name server without a live circuit a new one, unless it is
        backing off; return the earliest time one of those may be tried again.

        A name server's circuit is also its priority-0 data circuit (as in libca: one
        TCP connection per name-server IOC)."""
        nxt: float | None = None
        for address in self._ns_addresses:
            circuit = self._name_servers.get(address)
            if circuit is not None and not circuit.closed:
                continue
            circuit = self.circuits.get((address, 0))
            if circuit is None or circuit.closed:
                retry = self.backoff.retry_at(address)
                if retry > now:
                    nxt = retry if nxt is None else min(nxt, retry)
                    continue
                try:
                    circuit = Circuit(cast("Context", self), address, 0)
                except OSError as exc:
                    retry = self._count_failure(address, exc.errno or 0, None, now)
                    nxt = retry if nxt is None else min(nxt, retry)
                    continue
                self.circuits[(address, 0)] = circuit
            circuit.name_server = True
            self._name_servers[address] = circuit
        return nxt

    def _count_failure(self, address: tuple[str, int], err: int,
                        established_at: float | None, now: float) -> float:
        """Count a lost or failed circuit to ``address`` for its back-off (``err``: the
        errno of a failed connect, said on stderr once until a circuit to it works);
        return the time of the next connect."""
        if err and address not in self._refused:
            self._refused.add(address)
            self.on_log(f'CAC: Unable to connect because "{os.strerror(err)}"')
        return self.backoff.failed(address, now, established_at)

    def _park(self, pv: PV, at: float) -> None:
        """Search for ``pv`` again at ``at`` (its server is backing off until then)."""
        pv.server = pv.circuit = None
        self._searching[pv.search_id] = pv  # type: ignore[index]
        pv.next_search = at
        pv.period = MIN_PERIOD
        if at < self._search_due:
            self._search_due = at

    def _boost_searches(self, now: float) -> None:
        """Search at once for every PV not connected (a server appeared or came back)."""
        for pv in self._searching.values():
            if pv.next_search > now + MIN_PERIOD:
                pv.next_search = now
                pv.period = min(pv.period, ANOMALY_PERIOD)
        self._search_due = now

    def _read_udp(self) -> None:
        creates: dict[Circuit, list[PV]] = {}     # PVs found, channels opened per circuit
        try:
            self._read_datagrams(creates)
        finally:
            for circuit, pvs in creates.items():
                if not circuit.closed:
                    self._create_channels(circuit, pvs)
                    continue
                # lost already: search again when its server may be tried again
                at = max(time.monotonic(), self.backoff.retry_at(circuit.address))
                for pv in pvs:
                    self._park(pv, at)

    def _read_datagrams(self, creates: dict["Circuit", list[PV]]) -> None:
        while True:
            try:
                data, address = self.udp.recvfrom(65535 + 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return          # e.g. ICMP port unreachable reported on the socket
            replies = search_replies(data)
            if replies is not None:         # (nearly every datagram a client gets)
                self._on_search_replies(replies, address[0], creates)
                continue
            self.broadcaster.recv(data, address)
            try:
                commands = self.broadcaster.next_commands()
            except RemoteProtocolError:
                continue        # a bad datagram from someone: drop it
            for command in commands:
                if isinstance(command, SearchResponse):
                    self._on_search_response(command.cid, command.address, creates)
                elif isinstance(command, Beacon):
                    self._on_beacon(command, address)
                elif isinstance(command, RepeaterConfirmResponse):
                    self.repeater_registered = True

    def _on_search_replies(self, replies: list[tuple[int, int, int, int]], host: str,
                           creates: dict["Circuit", list[PV]]) -> None:
        """The ``(port, ip, cid, version)`` replies of one datagram from ``host``."""
        searching = self._searching
        same = None     # (port, ip, priority) of the last reply that found a PV ...
        server: Any = None
        circuit: Any = None         # ... on this server and circuit
        batch: list[PV] = []
        for port, ip, cid, _ in replies:
            pv = searching.get(cid)
            if pv is not None and same is not None and not circuit.closed and \
                    same == (port, ip, pv.priority):
                # replies of one datagram mostly name PVs on one server: after the
                # first, only the PV changes (what _on_search_response does, inline)
                del searching[cid]
                pv.server = server
                pv.circuit = circuit
                batch.append(pv)
                continue
            self._on_search_response(cid, (host if ip == 0xFFFFFFFF else int_to_ip(ip), port),
                                     creates)
            if pv is not None and pv.circuit is not None:
                same = (port, ip, pv.priority)
                server, circuit = pv.server, pv.circuit
                batch = creates[circuit]

    def _register_with_repeater(self) -> None:
        target = ("127.0.0.1", self.config.repeater_port)
        try:
            self.udp.sendto(bytes(RepeaterRegisterRequest("127.0.0.1")), target)
        except OSError as exc:      # (refused: no repeater yet; retried later)
            self._send_failed_to(target, exc)

    def _on_beacon(self, command: Any, sender: tuple[str, int]) -> None:
        """Feed a beacon to the ``BeaconTracker`` (libca's and casw's rules; its module is
        imported at the first beacon, which keeps start-up light) and to the on_beacon
        callbacks. On an anomaly (a new or restarted server), forget that server's
        connect back-off and search unresolved channels now instead of at their
        back-off time."""
        from .beacons import BeaconTracker, beacon_address
        tracker = self._beacon_tracker
        if tracker is None:
            tracker = self._beacon_tracker = BeaconTracker(start=self._listening_since)
        port = self.config.server_port
        key = beacon_address(command, sender, port)
        now = time.monotonic()
        anomaly = tracker.observe_beacon(command, sender, now, port)
        for callback in list(self._beacon_callbacks):
            callback(key, command.beacon_id, anomaly)
        if anomaly is None:
            return
        self.backoff.reset(key)
        if now - self._last_anomaly < 0.2:
            return
        self._last_anomaly = now
        self._boost_searches(now)

    def _on_search_response(self, cid: int, address: tuple[str, int] | None,
                            creates: dict["Circuit", list[PV]] | None = None) -> None:
        pv = self._searching.pop(cid, None)
        if pv is None:
            self._check_duplicate(cid, address)
            return
        if address is None:
            self._searching[cid] = pv
            return
        address = self._servers.setdefault(address, address)   # one tuple per server
        pv.server = address
        key = (address, pv.priority)
        circuit = self.circuits.get(key)
        if circuit is None or circuit.closed:
            now = time.monotonic()
            retry = self.backoff.retry_at(address)
            if retry > now:     # the server failed lately: ask again once it may be tried
                self._park(pv, retry)
                return
            try:
                circuit = self.circuits[key] = Circuit(cast("Context", self), address,
                                                       pv.priority)
            except OSError as exc:
                self._park(pv, self._count_failure(address, exc.errno or 0, None, now))
                return
        pv.circuit = circuit
        if creates is None:
            self._create_channels(circuit, [pv])
        else:
            batch = creates.get(circuit)
            if batch is None:
                batch = creates[circuit] = []
            batch.append(pv)

    def _create_channels(self, circuit: "Circuit", pvs: list[PV]) -> None:
        """Open channels for PVs found on ``circuit`` (one CREATE_CHAN each, one write)."""
        channels, data = circuit.core.create_channels([pv.name for pv in pvs])
        by_cid = circuit.pvs
        for pv, channel in zip(pvs, channels):
            pv.channel = channel
            by_cid[channel.cid] = pv
        circuit.write(data)
        circuit.creates_sent_at = time.monotonic()

    def _check_duplicate(self, cid: int, address: tuple[str, int] | None) -> None:
        if address is None:
            return
        pv = self._by_search_id.get(cid)
        if pv is not None and pv.server is not None and pv.server != address:
            self.on_warning(
                "Identical process variable names on multiple servers",
                f'Channel: "{pv.name}", Connecting to: {pv.host}, Ignored: '
                f"{self.host_label(address[0])}:{address[1]}")
