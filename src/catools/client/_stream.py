"""The socket of a client circuit: a non-blocking TCP connection with an output buffer
that the Context flushes once per loop iteration."""
from __future__ import annotations

import _socket  # (the C module: socket.py's wrapper costs ~1.2 ms to import)
import errno
from typing import Any, Callable

from ._poll import READ, WRITE, Poller

_RECV_SIZE = 1 << 17


class Stream:
    """A connection to ``address`` registered with ``poller`` (its data: ``owner``).

    ``on_dirty()`` is called when output is first queued (the caller flushes later);
    ``on_broken()`` when a send fails or the connect is refused (``connect_error``).
    """

    __slots__ = ("sock", "poller", "outbuf", "connecting", "closed", "connect_error",
                 "writable_wanted", "on_dirty", "on_broken")

    def __init__(self, address: tuple[str, int], poller: Poller, owner: Any,
                 on_dirty: Callable[[], None], on_broken: Callable[[], None]) -> None:
        self.sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_KEEPALIVE, 1)
        self.poller = poller
        self.outbuf = bytearray()
        self.connecting = True
        self.closed = False
        #: the errno of a failed connect (reported once per failure streak)
        self.connect_error = 0
        self.on_dirty = on_dirty
        self.on_broken = on_broken
        err = self.sock.connect_ex(address)
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            self.sock.close()
            raise OSError(err, f"connect to {address[0]}:{address[1]}: {errno.errorcode.get(err)}")
        poller.register(self.sock, READ | WRITE, owner)
        self.writable_wanted = True             # until the connection completes

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
        try:
            sent = self.sock.send(self.outbuf)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.on_broken()
            return
        del self.outbuf[:sent]
        self._watch_writable(bool(self.outbuf))

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
        if self.closed:
            return
        self.closed = True
        self.poller.unregister(self.sock)
        self.sock.close()


__all__ = ["Stream"]
