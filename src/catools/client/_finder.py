"""Finding servers, the I/O half: the search datagrams that the
:class:`~._search.SearchScheduler` makes go out on the UDP port (and to the name
servers' circuits); replies, beacons and the caRepeater's confirmation come in."""
from __future__ import annotations

import time

from ..hints import TYPE_CHECKING
from ..protocol import (CLIENT, Beacon, Broadcaster, RemoteProtocolError,
                        RepeaterConfirmResponse, SearchResponse, search_replies)
from ._callbacks import CallbackQueue
from ._circuit import Circuit
from ._pool import CircuitPool
from ._pv import PV
from ._search import SearchScheduler
from ._udp import UdpPort

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable

#: Seconds between repeater registration attempts until one is confirmed.
REGISTER_RETRY = 5.0
Address = tuple[str, int]


class Finder:
    """Searches out, replies and beacons in, through ``udp``; PVs found go to
    ``pool``. With ``listen_beacons`` it registers with the caRepeater on
    ``repeater_port`` (every REGISTER_RETRY seconds until confirmed)."""

    def __init__(self, udp: UdpPort, search: SearchScheduler, pool: CircuitPool,
                 callbacks: CallbackQueue, targets: list[Address], *, server_port: int,
                 repeater_port: int, listen_beacons: bool) -> None:
        self.udp = udp
        self.search = search
        self.pool = pool
        self.callbacks = callbacks
        self.targets = targets
        self.server_port = server_port
        self.repeater_port = repeater_port
        self.broadcaster = Broadcaster(CLIENT)
        self.repeater_registered = False
        self.register_at = 0.0 if listen_beacons else None
        self.beacon_callbacks: list[Callable[[Address, int, Any], None]] = []
        search.on_duplicate = self._duplicate

    def timers(self, now: float) -> float | None:
        """Register, send the searches due; the next time to call."""
        nxt: float | None = None
        if self.register_at is not None and not self.repeater_registered:
            if now >= self.register_at:
                self.udp.register(self.repeater_port)
                self.register_at = now + REGISTER_RETRY
            nxt = self.register_at
        search = self.search
        pool = self.pool
        if search.searching or search.backlog:
            if search.searching and now >= search.due_at:
                self.read()         # replies already here first: no search for those
            datagrams, t = search.poll(now)
            for datagram in datagrams:
                self.udp.send(datagram, self.targets)
                if pool.name_servers:
                    pool.search_name_servers(datagram, now)
            if t is not None:
                nxt = t if nxt is None else min(nxt, t)
        if pool.name_servers and search.searching:
            t = pool.connect_name_servers(now)
            if t is not None:
                nxt = t if nxt is None else min(nxt, t)
        return nxt

    def read(self) -> None:
        """Handle every datagram waiting: search replies (channels are opened once all
        are read, one write per circuit), beacons, the repeater's confirmation."""
        pool = self.pool
        creates: dict[Circuit, list[PV]] = {}
        try:
            for data, sender in self.udp.receive():
                replies = search_replies(data)
                if replies is not None:         # (nearly every datagram a client gets)
                    for address, priority, pvs in self.search.found_many(replies, sender[0]):
                        pool.attach(address, priority, pvs, creates)
                    continue
                self.broadcaster.recv(data, sender)
                try:
                    commands = self.broadcaster.next_commands()
                except RemoteProtocolError:
                    continue        # a bad datagram from someone: drop it
                for command in commands:
                    if isinstance(command, SearchResponse):
                        pool.search_reply(None, command.cid, command.address, creates)
                    elif isinstance(command, Beacon):
                        self._on_beacon(command, sender)
                    elif isinstance(command, RepeaterConfirmResponse):
                        self.repeater_registered = True
        finally:
            pool.create(creates)

    def _on_beacon(self, command: Any, sender: Address) -> None:
        """A beacon: to the on_beacon callbacks; an anomaly (a new or restarted server)
        forgets that server's connect back-off (the scheduler searches at once)."""
        key, anomaly = self.search.beacon(command, sender, time.monotonic(),
                                          self.server_port)
        for callback in self.beacon_callbacks:
            self.callbacks.call(callback, key, command.beacon_id, anomaly)
        if anomaly is not None:
            self.pool.backoff.reset(key)


    def _duplicate(self, pv: PV, address: Address) -> None:
        self.pool.warn("Identical process variable names on multiple servers",
                       f'Channel: "{pv.name}", Connecting to: {pv.host}, Ignored: '
                       f"{self.pool.host_label(address[0])}:{address[1]}")


__all__ = ["Finder", "REGISTER_RETRY"]
