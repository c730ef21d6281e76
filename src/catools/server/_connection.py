"""One TCP client of the server: its circuit, output stream with flow control
(``_Client``) and its subscriptions (``_Sub``).

Output is owed in order (a ``catools.stream.QueuedStream``: large replies are made a
chunk at a time as they are sent); ``queued`` counts every byte owed (flow control: a
client that owes more than HIGH_WATER has its monitor updates coalesced, above
PAUSE_READING its requests wait); the server counts the bytes made and not yet sent by
all clients (``Server.output_held``, bounded by OUTPUT_BUDGET, see the serve section of
catools(1)).
"""
from __future__ import annotations

import selectors
import socket
from typing import TYPE_CHECKING, Any

from ..protocol import SERVER, VirtualCircuit
from ..stream import REFILL, QueuedStream
from ._pvdb import PV

if TYPE_CHECKING:
    from ._server import Server

#: Above this many owed output bytes a client's monitor updates are coalesced.
HIGH_WATER = 1 << 20
#: Above this many owed output bytes we stop processing (and reading) the client's
#: requests; they resume once it owes less than half of it.
PAUSE_READING = 4 << 20


class _Sub:
    """One subscription of one client."""

    __slots__ = ("client", "subid", "channel", "pv", "data_type", "count", "mask",
                 "request")

    def __init__(self, client: "_Client", subid: int, channel: Any, pv: PV,
                 data_type: int, count: int, mask: int, request: Any = None) -> None:
        self.client = client
        self.subid = subid
        self.channel = channel
        self.pv = pv
        self.data_type = data_type
        self.count = count
        self.mask = mask
        self.request = request             # (EVENT_ADD command, raw header) for ERRORs


class _Client:
    """One TCP client: socket, circuit (which frames its input) and output stream."""

    def __init__(self, server: "Server", sock: socket.socket, address: tuple[str, int]):
        self.server = server
        self.sock = sock
        self.address = address
        self.circuit = VirtualCircuit(SERVER, address, drain_oversize=True,
                                      max_payload_size=server.config.max_payload_size)
        self.body: Any = None              # a large write received in place (_bigwrite)
        self.job: Any = None               # a write being converted, step by step
        self.backlog = False               # unprocessed requests wait in the circuit
        self.reserved = 0                  # input budget held for a big request
        self.waiting = False               # waits for input budget (not read)
        self.stream = QueuedStream(sock, server._selector, server.budget,
                                   lambda: server._dirty.append(self),
                                   lambda: server._drop(self), self._after_flush)
        #: queue bytes for the client; the server flushes every client once per loop
        #: turn, so a burst of updates leaves in few segments (one send call)
        self.send = self.stream.write
        #: queue a message whose bytes are made as the client takes them
        self.send_stream = self.stream.write_source
        self.flush = self.stream.flush
        self.on_writable = self.stream.flush
        self.pvs: dict[int, PV] = {}       # sid -> PV
        self.subs: dict[int, _Sub] = {}    # subid -> subscription
        self.pending: dict[int, _Sub] = {}  # coalesced updates waiting for room
        self.events_off = False
        self.closing = False
        self.closed = False
        self.events = selectors.EVENT_READ

    # -- output (a catools.stream.QueuedStream) ---------------------------------

    @property
    def queued(self) -> int:
        """Every output byte owed (flow control)."""
        return self.stream.queued

    def _after_flush(self) -> None:
        """Held-back work resumes as soon as the client owes little again, whichever
        way its output drained: its waiting requests, then its coalesced updates."""
        stream = self.stream
        if not stream.queued and self.closing:
            self.server._drop(self)
            return
        if self.backlog and stream.queued < PAUSE_READING // 2:
            self.backlog = False           # take the waiting requests now
            self.server._process_input(self, b"")
            if self.closed:
                return
        if self.pending and not self.events_off and stream.queued < HIGH_WATER // 2 \
                and not self.closing:
            self.server._flush_pending(self)
            if self.closed:
                return
        self._update_interest()

    @property
    def congested(self) -> bool:
        """True while monitor updates should be held back (and coalesced)."""
        return self.events_off or self.queued > HIGH_WATER

    def _update_interest(self) -> None:
        if self.closed:
            return
        events = 0
        if not self.closing and not self.backlog and not self.waiting and \
                self.job is None and self.queued < PAUSE_READING:
            events |= selectors.EVENT_READ
        if self.queued:
            events |= selectors.EVENT_WRITE
        if events == self.events:
            return
        selector = self.server._selector
        if not events:
            if self.closing:  # pragma: no cover - dropped earlier when nothing is left
                self.server._drop(self)
                return
            selector.unregister(self.sock)     # waits for input budget, nothing to send
        elif not self.events:
            selector.register(self.sock, events, self)
        else:
            selector.modify(self.sock, events, self)
        self.events = events


__all__ = ["HIGH_WATER", "PAUSE_READING", "REFILL"]
