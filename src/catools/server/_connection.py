"""One TCP client of the server: its circuit, input framing state and output buffer with
flow control (``_Client``), and its subscriptions (``_Sub``)."""
from __future__ import annotations

import selectors
import socket
from typing import TYPE_CHECKING, Any

from ..protocol import SERVER, VirtualCircuit
from ._pvdb import PV

if TYPE_CHECKING:
    from ._server import Server

#: Above this many buffered output bytes a client's monitor updates are coalesced.
HIGH_WATER = 1 << 20
#: Above this many buffered output bytes we stop processing (and reading) the client's
#: requests; they resume once the buffer is below half of it.
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
    """One TCP client: socket, circuit, input framing and output buffer."""

    def __init__(self, server: "Server", sock: socket.socket, address: tuple[str, int]):
        self.server = server
        self.sock = sock
        self.address = address
        self.circuit = VirtualCircuit(SERVER, address,
                                      max_payload_size=server.config.max_payload_size)
        self.inbuf = bytearray()
        self.skip = 0                      # bytes of an oversized message to discard
        self.backlog = False               # unprocessed requests wait in inbuf
        self.reserved = 0                  # input budget held for a big request
        self.waiting = False               # waits for input budget (not read)
        self.out = bytearray()
        self.pvs: dict[int, PV] = {}       # sid -> PV
        self.subs: dict[int, _Sub] = {}    # subid -> subscription
        self.pending: dict[int, _Sub] = {}  # coalesced updates waiting for room
        self.events_off = False
        self.closing = False
        self.closed = False
        self.events = selectors.EVENT_READ

    # -- output -------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Queue bytes for the client; the server flushes every client once per loop
        iteration, so a burst of updates leaves in few segments (one send call)."""
        if self.closed or not data:
            return
        if not self.out:
            self.server._dirty.append(self)
        self.out += data

    def flush(self) -> None:
        """Send what the socket takes now; wait for writability for the rest."""
        if self.closed or not self.out:
            return
        try:
            sent = self.sock.send(self.out)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.server._drop(self)
            return
        del self.out[:sent]
        if not self.out and self.closing:
            self.server._drop(self)
            return
        if self.backlog and len(self.out) < PAUSE_READING // 2:
            self.backlog = False           # take the waiting requests now
            self.server._process_input(self, b"")
            if self.closed:
                return
        self._update_interest()

    def on_writable(self) -> None:
        self.flush()
        if self.closed or self.closing:
            return
        if self.pending and not self.events_off and len(self.out) < HIGH_WATER // 2:
            self.server._flush_pending(self)
            self._update_interest()

    @property
    def congested(self) -> bool:
        """True while monitor updates should be held back (and coalesced)."""
        return self.events_off or len(self.out) > HIGH_WATER

    def _update_interest(self) -> None:
        if self.closed:
            return
        events = 0
        if not self.closing and not self.backlog and not self.waiting and \
                len(self.out) < PAUSE_READING:
            events |= selectors.EVENT_READ
        if self.out:
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
