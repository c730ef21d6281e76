"""One TCP client of the server: its circuit, input framing state and output queue with
flow control (``_Client``), its subscriptions (``_Sub``) and large replies made as they
are sent (``_Stream``).

Output is owed in order: ``out`` holds bytes ready to send, ``later`` what follows them,
bytes or streams, which are turned into bytes a chunk at a time when ``out`` runs low.
``queued`` counts every byte owed (flow control: a client that owes more than HIGH_WATER
has its monitor updates coalesced, above PAUSE_READING its requests wait); the server
counts the bytes made and not yet sent by all clients (``Server.output_held``, bounded by
OUTPUT_BUDGET, see the serve section of catools(1)).
"""
from __future__ import annotations

import selectors
import socket
from collections import deque
from typing import TYPE_CHECKING, Any, Iterator

from ..protocol import SERVER, VirtualCircuit
from ._pvdb import PV

if TYPE_CHECKING:
    from ._server import Server

#: Above this many owed output bytes a client's monitor updates are coalesced.
HIGH_WATER = 1 << 20
#: Above this many owed output bytes we stop processing (and reading) the client's
#: requests; they resume once it owes less than half of it.
PAUSE_READING = 4 << 20
#: A stream makes its next chunk when the bytes ready for its client fall below this.
REFILL = 128 << 10


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


class _Stream:
    """``size`` bytes of one message, made by ``chunks`` as they are needed."""

    __slots__ = ("left", "chunks")

    def __init__(self, size: int, chunks: Iterator[bytes]) -> None:
        self.left = size
        self.chunks = chunks

    def take(self) -> bytes:
        """The next chunk (never more than is left; zeros if the maker falls short)."""
        chunk = next(self.chunks, b"")
        if not chunk or len(chunk) > self.left:
            chunk = (chunk or bytes(min(self.left, REFILL)))[:self.left]
        self.left -= len(chunk)
        return chunk


class _Client:
    """One TCP client: socket, circuit, input framing and output queue."""

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
        self.out = bytearray()             # ready to send
        self.later: deque[Any] = deque()   # bytearrays and _Streams owed after ``out``
        self.queued = 0                    # every byte owed: out + later
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
        if not self.queued:
            self.server._dirty.append(self)
        self.queued += len(data)
        self.server.output_held += len(data)
        later = self.later
        if not later:
            self.out += data
        elif isinstance(later[-1], bytearray):
            later[-1] += data
        else:
            later.append(bytearray(data))

    def send_stream(self, stream: _Stream) -> None:
        """Queue a message whose bytes are made as the client takes them."""
        if self.closed or not stream.left:
            return
        if not self.queued:
            self.server._dirty.append(self)
        self.queued += stream.left
        self.later.append(stream)

    def _refill(self) -> None:
        """Move owed bytes into ``out`` up to REFILL (a stream makes one chunk)."""
        later, out = self.later, self.out
        while later and len(out) < REFILL:
            item = later[0]
            if isinstance(item, bytearray):
                out += item
                later.popleft()
                continue
            chunk = item.take()
            self.server.output_held += len(chunk)
            out += chunk
            if not item.left:
                later.popleft()

    def flush(self) -> None:
        """Send what the socket takes now; wait for writability for the rest. Held-back
        monitor updates go out as soon as the client owes little again, whichever way
        its output drained."""
        if self.closed:
            return
        if self.later and len(self.out) < REFILL:
            self._refill()
        if self.out:
            try:
                sent = self.sock.send(self.out)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.server._drop(self)
                return
            del self.out[:sent]
            self.queued -= sent
            self.server.output_held -= sent
        if not self.queued and self.closing:
            self.server._drop(self)
            return
        if self.backlog and self.queued < PAUSE_READING // 2:
            self.backlog = False           # take the waiting requests now
            self.server._process_input(self, b"")
            if self.closed:
                return
        if self.pending and not self.events_off and self.queued < HIGH_WATER // 2 \
                and not self.closing:
            self.server._flush_pending(self)
            if self.closed:
                return
        self._update_interest()

    def on_writable(self) -> None:
        self.flush()

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
