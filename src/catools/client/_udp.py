"""The client's UDP socket: search datagrams out, replies and beacons in, and the
caRepeater registration."""
from __future__ import annotations

import _socket  # (the C module: socket.py's wrapper costs ~1.2 ms to import)
import errno
import os

from ..hints import TYPE_CHECKING
from ..protocol import RepeaterRegisterRequest

if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Iterable, Iterator

#: sendto errors that are not the destination's fault (retried with the next search).
_TRANSIENT_SEND = (errno.EINTR, errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNREFUSED)

Address = tuple[str, int]


class UdpPort:
    """A bound, non-blocking, broadcast-enabled UDP socket; ``on_log(line)`` hears of
    a destination that refuses datagrams (once per destination, in libca's words)."""

    def __init__(self, on_log: Callable[[str], None]) -> None:
        self.on_log = on_log
        self.sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        try:
            self.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 1 << 21)
        except OSError:
            pass
        self.sock.bind(("", 0))
        self._failed: set[Address] = set()      # reported once each
        # as libca: always (an EPICS_CA_ADDR_LIST entry may be a subnet broadcast)
        try:
            self.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_BROADCAST, 1)
        except OSError as exc:
            on_log(f'CAC: IP broadcasting enable failed because = "{exc.strerror}"')

    def send(self, datagram: bytes, targets: Iterable[Address]) -> None:
        """Send ``datagram`` to each target (a full socket buffer drops the rest: the
        next search sends them again)."""
        sendto = self.sock.sendto
        for target in targets:
            try:
                sendto(datagram, target)
            except BlockingIOError:
                return
            except OSError as exc:
                self._send_failed(target, exc)

    def _send_failed(self, target: Address, exc: OSError) -> None:
        if exc.errno in _TRANSIENT_SEND or target in self._failed:
            return
        self._failed.add(target)
        text = os.strerror(exc.errno) if exc.errno else str(exc)
        self.on_log(f'CAC: error = "{text}" sending UDP msg to {target[0]}:{target[1]}')

    def register(self, repeater_port: int) -> None:
        """Ask the local caRepeater to forward beacons (refused: retried later)."""
        self.send(bytes(RepeaterRegisterRequest("127.0.0.1")), [("127.0.0.1", repeater_port)])

    def receive(self) -> Iterator[tuple[bytes, Address]]:
        """The datagrams waiting, until none is left."""
        recvfrom = self.sock.recvfrom
        while True:
            try:
                yield recvfrom(65535 + 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return          # e.g. ICMP port unreachable reported on the socket

    def close(self) -> None:
        self.sock.close()


__all__ = ["UdpPort"]
