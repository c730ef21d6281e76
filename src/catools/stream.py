"""Buffered, non-blocking TCP for both ends: what is sent waits in an output buffer that
the owner's loop flushes (once per turn: a burst leaves in few segments), and what
arrives is read in one call.

:class:`Stream` is a client's circuit (and the base of the rest); :class:`QueuedStream`
a server's connection, which also owes messages made a chunk at a time as they are
sent (:class:`ChunkSource`), counts every byte it owes (``queued``, for flow control)
and the bytes made and not yet sent (``held``, shared by all connections: an
:class:`OutputBudget`). A poller is anything with ``modify(sock, events)`` and
``unregister(sock)`` (and ``register(sock, events, data)`` for :meth:`Stream.connect`).
"""
from __future__ import annotations

import _socket  # (the C module: socket.py's wrapper costs ~1.2 ms to import)
import errno
import select
from collections import deque
from .hints import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Iterator

#: Poller event bits (those of select.poll and epoll; not selectors' EVENT_*).
READ = select.POLLIN
WRITE = select.POLLOUT
_RECV_SIZE = 1 << 17
#: A queued stream makes its next chunk when the bytes ready fall below this.
REFILL = 128 << 10


def _noop() -> None:
    pass


class Stream:
    """A connected (or connecting) non-blocking TCP socket, registered with ``poller``.

    ``on_dirty()`` is called when output is first queued (the caller flushes later);
    ``on_broken()`` when a send fails or the connect is refused (``connect_error``).
    """

    __slots__ = ("sock", "poller", "outbuf", "connecting", "closed", "connect_error",
                 "writable_wanted", "on_dirty", "on_broken")

    def __init__(self, sock: Any, poller: Any, on_dirty: Callable[[], None],
                 on_broken: Callable[[], None], *, connecting: bool = False) -> None:
        self.sock = sock
        self.poller = poller
        self.outbuf = bytearray()
        self.connecting = connecting
        self.closed = False
        #: the errno of a failed connect (reported once per failure streak)
        self.connect_error = 0
        self.on_dirty = on_dirty
        self.on_broken = on_broken
        self.writable_wanted = connecting        # until the connection completes

    @classmethod
    def connect(cls, address: tuple[str, int], poller: Any, owner: Any,
                on_dirty: Callable[[], None], on_broken: Callable[[], None]) -> "Stream":
        """Start connecting to ``address``; the socket is registered with ``poller``
        (its data: ``owner``) for reading and, until connected, writing."""
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_KEEPALIVE, 1)
        err = sock.connect_ex(address)
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            sock.close()
            raise OSError(err, f"connect to {address[0]}:{address[1]}: "
                               f"{errno.errorcode.get(err)}")
        poller.register(sock, READ | WRITE, owner)
        return cls(sock, poller, on_dirty, on_broken, connecting=True)

    def write(self, data: bytes) -> None:
        """Queue bytes (a burst of requests goes out in few segments)."""
        if self.closed:
            return
        if not self.outbuf and not self.connecting:
            self.on_dirty()
        self.outbuf += data

    def flush(self) -> None:
        """Send what the socket takes now; wait for writability for the rest."""
        if self.closed or self.connecting or not self.outbuf:
            return
        if self._send() is not None:
            self._watch_writable(bool(self.outbuf))

    def _send(self) -> int | None:
        """Send what the socket takes of ``outbuf`` now and drop it from there; the
        count sent, or None when the connection broke (``on_broken`` was called)."""
        try:
            sent = self.sock.send(self.outbuf)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.on_broken()
            return None
        del self.outbuf[:sent]
        return sent

    def recv(self) -> bytes | None:
        """What arrived (b'': the peer closed or the connection broke; None: nothing)."""
        try:
            return self.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b""

    def _watch_writable(self, wanted: bool) -> None:
        if wanted != self.writable_wanted:
            self.writable_wanted = wanted
            self.poller.modify(self.sock, READ | WRITE if wanted else READ)

    def on_writable(self) -> None:
        """The socket is writable: finish connecting, send what is queued."""
        if self.connecting:
            err = self.sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
            if err:
                self.connect_error = err
                self.on_broken()
                return
            self.connecting = False
        self.flush()
        if not self.closed and not self.outbuf:
            self._watch_writable(False)

    def send_now(self, timeout: float = 0.2) -> None:
        """Send what is queued, blocking up to ``timeout`` (before a close)."""
        if self.closed or self.connecting or not self.outbuf:
            return
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(timeout)
            self.sock.sendall(bytes(self.outbuf))
        except OSError:
            pass

    def close(self) -> None:
        """Unregister and close the socket (once)."""
        if self.closed:
            return
        self.closed = True
        self.poller.unregister(self.sock)
        self.sock.close()


class ChunkSource:
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


class OutputBudget:
    """Output bytes made and not yet sent by a set of queued streams (``held``)."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = 0


class QueuedStream(Stream):
    """An accepted connection whose output is owed in order: ``outbuf`` holds bytes
    ready to send, ``later`` what follows them, bytes or :class:`ChunkSource`, turned
    into bytes a chunk at a time when ``outbuf`` runs low. ``queued`` counts every byte
    owed; ``budget.held`` the bytes made and not sent. The owner watches the socket's
    readiness itself: ``on_flushed()`` is called after each flush that did not break.
    """

    __slots__ = ("later", "queued", "budget", "on_flushed")

    def __init__(self, sock: Any, poller: Any, budget: OutputBudget,
                 on_dirty: Callable[[], None], on_broken: Callable[[], None],
                 on_flushed: Callable[[], None] = _noop) -> None:
        super().__init__(sock, poller, on_dirty, on_broken)
        self.later: deque[Any] = deque()   # bytearrays and ChunkSources owed after outbuf
        self.queued = 0
        self.budget = budget
        self.on_flushed = on_flushed

    def write(self, data: bytes) -> None:
        """Queue bytes after everything owed."""
        if self.closed or not data:
            return
        if not self.queued:
            self.on_dirty()
        self.queued += len(data)
        self.budget.held += len(data)
        later = self.later
        if not later:
            self.outbuf += data
        elif isinstance(later[-1], bytearray):
            later[-1] += data
        else:
            later.append(bytearray(data))

    def write_source(self, source: ChunkSource) -> None:
        """Queue a message whose bytes are made as the peer takes them."""
        if self.closed or not source.left:
            return
        if not self.queued:
            self.on_dirty()
        self.queued += source.left
        self.later.append(source)

    def _refill(self) -> None:
        """Move owed bytes into ``outbuf`` up to REFILL (a source makes one chunk)."""
        later, out = self.later, self.outbuf
        while later and len(out) < REFILL:
            item = later[0]
            if isinstance(item, bytearray):
                out += item
                later.popleft()
                continue
            chunk = item.take()
            self.budget.held += len(chunk)
            out += chunk
            if not item.left:
                later.popleft()

    def flush(self) -> None:
        """Send what the socket takes now, then ``on_flushed()``."""
        if self.closed:
            return
        if self.later and len(self.outbuf) < REFILL:
            self._refill()
        if self.outbuf:
            sent = self._send()
            if sent is None:
                return
            self.queued -= sent
            self.budget.held -= sent
        self.on_flushed()

    def on_writable(self) -> None:
        self.flush()

    def release(self) -> None:
        """Give back to the budget what was made and will not be sent (on a drop)."""
        self.budget.held -= len(self.outbuf) + sum(
            len(item) for item in self.later if isinstance(item, bytearray))


__all__ = ["Stream", "QueuedStream", "ChunkSource", "OutputBudget", "READ", "WRITE",
           "REFILL"]
