"""Subscriptions of all clients, and the updates posted when a PV changes.

A change (from any thread) is queued and woken up for; the loop then merges the changes
of each PV and sends one update per matching subscription, encoding each requested type
and count once. A congested client (or one that sent EVENTS_OFF) has its updates held
back and coalesced: the latest value goes out once it owes little again.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Callable

from ..protocol import EventAddResponse
from ._connection import _Client, _Sub
from ._handlers import too_large
from ._pvdb import PV
from ._replies import Cache, send_dbr

if TYPE_CHECKING:
    from ._server import Server


class Monitors:
    """The subscriptions in force, by PV, and the PV changes not yet posted.

    ``on_pv_change`` is every served PV's listener (``wake()`` is called when it runs
    outside the loop's thread); ``dispatch()`` posts the queued changes.
    """

    def __init__(self, server: "Server", in_loop: Callable[[], bool],
                 wake: Callable[[], None]) -> None:
        self.server = server
        self.by_pv: dict[PV, set[_Sub]] = {}
        self.posted: deque[tuple[PV, int]] = deque()
        self._in_loop = in_loop
        self._wake = wake

    def on_pv_change(self, pv: PV, mask: int) -> None:
        self.posted.append((pv, mask))
        if not self._in_loop():
            self._wake()

    def add(self, sub: _Sub) -> None:
        """Start a subscription: its first update goes out now."""
        sub.client.subs[sub.subid] = sub
        self.by_pv.setdefault(sub.pv, set()).add(sub)
        self.send_update(sub.client, sub)

    def remove(self, client: _Client, subid: int) -> None:
        sub = client.subs.pop(subid, None)
        client.pending.pop(subid, None)
        if sub is not None:
            self.by_pv.get(sub.pv, set()).discard(sub)

    def dispatch(self) -> None:
        """Post the changes queued since the last call."""
        merged: dict[PV, int] = {}
        while self.posted:
            pv, mask = self.posted.popleft()
            merged[pv] = merged.get(pv, 0) | mask
        for pv, mask in merged.items():
            encoded: Cache = {}                        # one encoding per type and count
            for sub in list(self.by_pv.get(pv, ())):
                if sub.mask & mask:
                    self._post(sub, encoded)

    def _post(self, sub: _Sub, encoded: Cache | None = None) -> None:
        client = sub.client
        if client.closed or client.closing:
            return
        if client.congested:
            client.pending[sub.subid] = sub
            return
        client.pending.pop(sub.subid, None)
        self.send_update(client, sub, encoded)

    def flush_pending(self, client: _Client) -> None:
        """Send ``client``'s held-back updates while it has room."""
        while client.pending and not client.congested:
            subid = next(iter(client.pending))
            self.send_update(client, client.pending.pop(subid))

    def send_update(self, client: _Client, sub: _Sub, encoded: Cache | None = None
                    ) -> None:
        key = (sub.data_type, sub.count)
        server = self.server
        if (encoded is None or key not in encoded) and sub.request is not None and \
                too_large(server, client, sub.request[0], sub.request[1], sub.pv):
            return
        # the same value for another subscriber reuses the encoded payload
        send_dbr(server, client, EventAddResponse, sub.data_type, sub.count, sub.pv,
                 sub.subid, cache=encoded)


__all__ = ["Monitors"]
