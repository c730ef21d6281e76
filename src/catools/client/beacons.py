"""Server beacons: anomaly detection (sans-I/O) and a blocking listener.

:class:`BeaconTracker` follows libca's beacon hash entries: it estimates each server's
beacon period and reports a :class:`BeaconAnomaly` when a server appears, comes back
after missing beacons, or beacons faster than usual (as a rebooted server does). A
client searches again for its unresolved channels on an anomaly; ``casw`` prints them.

:class:`BeaconListener` receives beacons through a caRepeater (registering as libca
does) or directly on a bound UDP port.
"""
from __future__ import annotations

import select
import time
from typing import Callable, Iterator, NamedTuple

from ..protocol import (REPEATER_PORT, SERVER_PORT, Beacon, RepeaterConfirmResponse,
                        RepeaterRegisterRequest, frame_at, int_to_ip)

__all__ = ["BeaconAnomaly", "BeaconTracker", "BeaconListener", "BeaconEvent",
           "split_messages", "RegistrationError"]

Address = tuple[str, int]

#: Anomaly kinds (:attr:`BeaconAnomaly.kind`).
NEW = "new"                  # first heard after we started: a server that just came up
RESTARTED = "restarted"      # beacon ids restarted (or jumped) and the period changed
REAPPEARED = "reappeared"    # beacons missing for over 3.25 periods, then back
FASTER = "faster"            # period below 0.8 of the estimate (a server just booted)

_U32 = 0xFFFFFFFF
#: Beacon protocol minor version from which beacon ids are sequence numbers (CA 4.10).
SEQUENCED_VERSION = 10


class BeaconAnomaly(NamedTuple):
    """A beacon that should make a client search again for its lost channels."""

    address: Address          #: the server's (IPv4 address, TCP port)
    kind: str                 #: "new", "restarted", "reappeared" or "faster"
    beacon_id: int            #: id of this beacon
    period: float             #: beacon period estimate after this beacon (seconds)
    interval: float           #: seconds since the previous accepted beacon


class _Entry:
    """What is known about one server's beacons (libca's ``bhe``)."""

    __slots__ = ("time", "period", "last_id", "reset")

    def __init__(self, now: float, beacon_id: int) -> None:
        self.time = now
        self.period = -1.0            # no estimate until the second beacon
        self.last_id = beacon_id
        self.reset = False            # ids went back or jumped since the last accepted


class BeaconTracker:
    """Per-server beacon period estimates and anomaly detection, sans-I/O.

    ``start`` is when listening began (default: the first observation), in the clock
    of the ``now`` arguments. A server first heard within its first period after
    ``start`` is taken for one that was already up, not a new one. At most
    ``max_servers`` servers are remembered (the least recently heard is forgotten), so
    a flood of forged beacons cannot grow memory without bound.
    """

    def __init__(self, start: float | None = None, max_servers: int = 10000) -> None:
        self.start = start
        self.max_servers = max_servers
        self._entries: dict[Address, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, address: object) -> bool:
        return address in self._entries

    def period(self, address: Address) -> float | None:
        """The beacon period estimate of a server (None before its second beacon)."""
        entry = self._entries.get(address)
        return None if entry is None or entry.period < 0 else entry.period

    def last_time(self, address: Address) -> float | None:
        """When the last accepted beacon of a server arrived."""
        entry = self._entries.get(address)
        return None if entry is None else entry.time

    def forget(self, address: Address) -> None:
        """Drop what is known about a server."""
        self._entries.pop(address, None)

    def observe(self, address: tuple[str, int], beacon_id: int,
                now: float) -> BeaconAnomaly | None:
        """Account for a beacon of the server at ``address`` with id ``beacon_id``
        received at ``now`` (seconds); the anomaly it shows, if any."""
        return self._observe(address, beacon_id & _U32, now, True)

    def observe_beacon(self, beacon: Beacon, sender: Address | None, now: float,
                       default_port: int = SERVER_PORT) -> BeaconAnomaly | None:
        """:meth:`observe` for a decoded Beacon (see :func:`beacon_address`); ids of
        servers older than CA 4.10 are not sequence numbers and are not checked."""
        return self._observe(beacon_address(beacon, sender, default_port),
                             beacon.beacon_id, now, beacon.version >= SEQUENCED_VERSION)

    def _observe(self, address: Address, beacon_id: int, now: float,
                 sequenced: bool) -> BeaconAnomaly | None:
        if self.start is None:
            self.start = now
        entries = self._entries
        entry = entries.pop(address, None)
        if entry is None:
            # First beacon: wait for the second to tell a new server from one that
            # was already up when we started listening.
            while len(entries) >= self.max_servers:
                del entries[next(iter(entries))]
            entries[address] = _Entry(now, beacon_id)
            return None
        entries[address] = entry          # (most recently heard last)
        if sequenced:
            last = entry.last_id
            # (as libca counts it: one short across the wrap, so 2**32-1 -> 0 is 0)
            advance = beacon_id - last if beacon_id >= last else _U32 - last + beacon_id
            entry.last_id = beacon_id
            if advance == 0 or advance > _U32 - 256:
                # a duplicate (redundant route), or a step back: the id restarted
                if advance:
                    entry.reset = True
                return None
            if 1 < advance < 4:
                return None               # a few lost or duplicated beacons
            if advance != 1:
                entry.reset = True
        interval = now - entry.time
        kind: str | None = None
        if entry.period < 0:
            # second beacon: the first period estimate
            entry.period = interval
            if interval <= entry.time - self.start:
                kind = NEW
        else:
            if interval >= entry.period * 1.25:
                if interval >= entry.period * 3.25:
                    kind = REAPPEARED
            elif interval <= entry.period * 0.80:
                kind = FASTER
            entry.period = interval * 0.125 + entry.period * 0.875
            if kind is not None and entry.reset:
                kind = RESTARTED
        entry.time = now
        entry.reset = False
        if kind is None:
            return None
        return BeaconAnomaly(address, kind, beacon_id, entry.period, interval)


def beacon_address(beacon: Beacon, sender: Address | None,
                   default_port: int = SERVER_PORT) -> Address:
    """The server a beacon announces: its address field, else the sender's address
    (a repeater fills the field in); its port field, else ``default_port``."""
    host = beacon.address
    if host == "0.0.0.0" and sender is not None:
        host = sender[0]
    return host, beacon.server_port or default_port


# --------------------------------------------------------------------------- I/O

_BEACON_CODE = Beacon.ID
_CONFIRM_CODE = RepeaterConfirmResponse.ID


def split_messages(datagram: bytes) -> tuple[list[tuple[int, int, int, int, int]], bool]:
    """Header fields ``(command, data_type, data_count, parameter1, parameter2)`` of the
    messages of a datagram, and whether it ended in a truncated message (the rest is
    dropped, as casw does). A payload size of 0xFFFF is a size, not the extended-header
    marker: casw and libca's UDP input read datagrams so."""
    out: list[tuple[int, int, int, int, int]] = []
    pos, end = 0, len(datagram)
    while pos < end:
        frame = frame_at(datagram, pos, extended=False)
        if frame is None or frame[7] > end:
            return out, True
        cmd, _, dtype, count, p1, p2, _, pos = frame
        out.append((cmd, dtype, count, p1, p2))
    return out, False


class BeaconEvent(NamedTuple):
    """A beacon as :class:`BeaconListener` receives it."""

    beacon: Beacon
    sender: Address            #: where the datagram came from (the repeater, or a server)
    time: float                #: ``time.time()`` when it was received


class RegistrationError(OSError):
    """No caRepeater confirmed a registration."""


class BeaconListener:
    """Receive beacons: through the caRepeater on ``repeater_port`` (after
    :meth:`register`, as libca registers), or with ``direct`` by binding ``port``
    (default: the repeater port) on ``host`` itself.

    Iterating yields a :class:`BeaconEvent` per beacon; ``on_malformed`` (if given) is
    called for each truncated datagram.
    """

    def __init__(self, repeater_port: int = REPEATER_PORT, *, direct: bool = False,
                 host: str = "", port: int | None = None) -> None:
        self.repeater_port = repeater_port
        self.direct = direct
        self.confirmed = False
        self.on_malformed: Callable[[bytes, Address], None] | None = None
        import socket   # (here: the tracker alone, as a client uses it, needs no sockets)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if direct:     # (no SO_REUSEADDR: a repeater on the port keeps it)
                self.sock.bind((host, repeater_port if port is None else port))
            else:
                self.sock.bind(("", 0))
        except OSError:
            self.sock.close()
            raise

    def register(self, attempts: int = 100, interval: float = 0.1) -> None:
        """Register with the repeater until it confirms (RegistrationError if not)."""
        if self.direct:
            return
        message = bytes(RepeaterRegisterRequest("127.0.0.1"))
        target = ("127.0.0.1", self.repeater_port)
        for _ in range(attempts + 1):
            try:
                self.sock.sendto(message, target)
            except OSError:
                pass
            deadline = time.monotonic() + interval
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                    break
                try:
                    data = self.sock.recv(0x4000)
                except OSError:
                    continue          # (ECONNREFUSED: nobody on the repeater port yet)
                first = frame_at(data, extended=False)
                if first is not None and first[0] == _CONFIRM_CODE:
                    self.confirmed = True
                    return
        raise RegistrationError("unable to register with the CA repeater")

    def events(self, timeout: float | None = None) -> Iterator[BeaconEvent]:
        """Beacons as they arrive; ends after ``timeout`` seconds without any."""
        while True:
            if timeout is not None and not select.select([self.sock], [], [], timeout)[0]:
                return
            try:
                data, sender = self.sock.recvfrom(0x4000)
            except (ConnectionRefusedError, InterruptedError):
                continue
            now = time.time()
            messages, truncated = split_messages(data)
            for cmd, dtype, count, p1, p2 in messages:
                if cmd == _BEACON_CODE:
                    yield BeaconEvent(Beacon(version=dtype, server_port=count,
                                             beacon_id=p1, address=int_to_ip(p2)),
                                      sender, now)
            if truncated and self.on_malformed is not None:
                self.on_malformed(data, sender)

    __iter__ = events

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "BeaconListener":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

