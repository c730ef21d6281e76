"""One TCP connection of the client: a socket and the VirtualCircuit that parses it."""
from __future__ import annotations

import _socket  # (the C module: see _context)
import errno
import time
from typing import TYPE_CHECKING, Any

from ..protocol import (CLIENT, ClientNameRequest, HostNameRequest, VersionRequest,
                        VirtualCircuit)
from ._poll import READ, WRITE

if TYPE_CHECKING:
    from ._context import Context
    from ._pv import PV, Operation, Subscription


class Circuit:
    """A TCP connection to one server at one priority, wrapping a VirtualCircuit."""

    def __init__(self, context: "Context", address: tuple[str, int], priority: int) -> None:
        self.context = context
        self.address = address
        self.priority = priority
        self.core = VirtualCircuit(CLIENT, address, priority,
                                   max_payload_size=context.config.max_payload_size)
        self.sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_KEEPALIVE, 1)
        self.connecting = True
        self.closed = False
        self.outbuf = bytearray()
        self.pvs: dict[int, PV] = {}                 # cid -> PV
        self.ops: dict[int, Operation] = {}          # ioid -> pending operation
        self.subs: dict[int, Subscription] = {}      # subscriptionid -> Subscription
        self.last_recv = self.created_at = time.monotonic()
        #: When the server first sent something (None: not yet; the handshake is due)
        self.established_at: float | None = None
        #: When channels were last requested, and when a CREATE_CHAN (or _FAIL) reply
        #: last came: a server silent while it owes replies fails like a silent one
        self.creates_sent_at: float | None = None
        self.creates_answered_at = 0.0
        #: The errno of a failed connect (reported once per failure streak)
        self.connect_error = 0
        self.echo_sent: float | None = None
        self.name_server = False
        self.echoes: int = 0
        err = self.sock.connect_ex(address)
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            self.sock.close()
            raise OSError(err, f"connect to {address[0]}:{address[1]}: {errno.errorcode.get(err)}")
        context.poller.register(self.sock, READ | WRITE, self)
        self.writable_wanted = True             # until the connection completes
        self.send(VersionRequest(priority=priority, version=13),
                  ClientNameRequest(context.user_name), HostNameRequest(context.host_name))

    def send(self, *commands: Any) -> None:
        """Encode through the core and write (buffered until the socket takes it)."""
        data = self.core.send(*commands)
        self.write(data)

    def write(self, data: bytes) -> None:
        """Queue bytes; the Context flushes every circuit once per loop iteration, so a
        burst of requests (thousands of creates or reads) goes out in few segments."""
        if self.closed:
            return
        if not self.outbuf and not self.connecting:
            self.context._dirty.append(self)
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
            self.context._circuit_lost(self)
            return
        del self.outbuf[:sent]
        self._watch_writable(bool(self.outbuf))

    def _watch_writable(self, wanted: bool) -> None:
        if wanted != self.writable_wanted:
            self.writable_wanted = wanted
            self.context.poller.modify(self.sock, READ | WRITE if wanted else READ)

    def on_writable(self) -> None:
        if self.connecting:
            err = self.sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
            if err:
                self.connect_error = err
                self.context._circuit_lost(self)
                return
            self.connecting = False
        self.flush()
        if not self.closed and not self.outbuf:
            self._watch_writable(False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.context.poller.unregister(self.sock)
        self.sock.close()
