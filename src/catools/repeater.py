"""A CA repeater (EPICS base's caRepeater): beacons and other datagrams sent to the
repeater port, fanned out to the CA clients of this host that registered.

Rules of EPICS base's repeater: bind the repeater port on INADDR_ANY (another repeater
holding it means there is nothing to do); a registration (REPEATER_REGISTER, or an empty
datagram) from a local address is confirmed with REPEATER_CONFIRM, and every other
client then gets a no-op message; a beacon whose address field is zero gets the
sender's address; every datagram is sent on to each registered client but its sender.
A client whose port is free again (checked by binding it) is dropped.
"""
from __future__ import annotations

import errno
import select
import socket
import struct
import sys
from typing import Callable, Iterable

from .protocol import REPEATER_PORT, Beacon, RepeaterConfirmResponse, RepeaterRegisterRequest
from .protocol import HEADER_SIZE as _HEADER_SIZE

__all__ = ["Repeater", "RepeaterBusy", "multicast_groups"]

Address = tuple[str, int]

_CODE = struct.Struct(">H")
_REGISTER = RepeaterRegisterRequest.ID
_BEACON = Beacon.ID
#: Sent to the other clients when one registers (a VERSION header, all zeros).
NOOP = bytes(_HEADER_SIZE)
#: Largest datagram received (libca's MAX_UDP_RECV).
MAX_UDP_RECV = 0xFFFF + 16


class RepeaterBusy(OSError):
    """Another repeater already holds the port."""


def multicast_groups(text: str) -> list[str]:
    """The IPv4 multicast addresses (224-239.x.x.x) of an address list ``host[:port]``
    entries the repeater joins; other entries are ignored."""
    out = []
    for entry in text.split():
        host = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
        try:
            packed = socket.inet_aton(host)
        except OSError:
            continue
        if host.count(".") == 3 and 224 <= packed[0] <= 239 and host not in out:
            out.append(host)
    return out


class _Client:
    __slots__ = ("address", "sock")

    def __init__(self, address: Address) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise

    def send(self, data: bytes) -> bool:
        try:
            self.sock.send(data)
        except OSError:
            return False
        return True

    def close(self) -> None:
        self.sock.close()


class Repeater:
    """The repeater on ``port`` (bound at construction: :class:`RepeaterBusy` if another
    repeater has it, OSError for other failures). ``groups``: multicast groups to join.
    ``on_error`` gets one line per problem worth reporting (default: stderr)."""

    def __init__(self, port: int = REPEATER_PORT, groups: Iterable[str] = (),
                 on_error: Callable[[str], None] | None = None) -> None:
        self.port = port
        self.on_error = on_error or _stderr
        #: registered clients by port (they are all on this host, as in EPICS base)
        self.clients: dict[int, _Client] = {}
        self._local: dict[str, bool] = {"127.0.0.1": True}
        self._stopping = False
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("", port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise RepeaterBusy(exc.errno, f"port {port} is in use by another "
                                   "repeater") from None
            raise
        self.sock = sock
        for group in groups:
            mreq = socket.inet_aton(group) + socket.inet_aton("0.0.0.0")
            try:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            except OSError as exc:
                self.on_error(f"caR: Socket mcast join to {group}:{port} failed: "
                              f"{exc.strerror or exc}")

    # -- one datagram -----------------------------------------------------------

    def handle(self, data: bytes, sender: Address) -> None:
        """Act on one datagram received from ``sender``."""
        if len(data) >= _HEADER_SIZE:
            code = _CODE.unpack_from(data)[0]
            if code == _REGISTER:
                self.register(sender)
                data = data[_HEADER_SIZE:]
                if not data:
                    return
            elif code == _BEACON and data[12:16] == b"\0\0\0\0":
                data = data[:12] + socket.inet_aton(sender[0]) + data[16:]
        elif not data:
            self.register(sender)
            return
        self.fan_out(data, sender)

    def register(self, sender: Address) -> None:
        """Register (or confirm again) the client at ``sender``."""
        host, port = sender[0], sender[1]
        if not self._is_local(host):
            return
        client = self.clients.get(port)
        new = client is None
        if client is None:
            try:
                client = _Client((host, port))
            except OSError as exc:
                self.on_error(f"CA Repeater: unable to connect client sock because "
                              f"\"{exc.strerror or exc}\"")
                return
            self.clients[port] = client
        if not client.send(bytes(RepeaterConfirmResponse(repeater_address=host))):
            self._drop(port)
        # the no-op keeps clients that hear no beacons from piling up dead sockets
        self.fan_out(NOOP, sender)
        if new:
            for other in list(self.clients):
                if not self._alive(other):
                    self._drop(other)

    def fan_out(self, data: bytes, sender: Address) -> None:
        """Send ``data`` to every client but ``sender``; drop clients that are gone."""
        for port, client in list(self.clients.items()):
            if client.address == (sender[0], sender[1]):
                continue
            if not client.send(data) and not self._alive(port):
                self._drop(port)

    # -- the loop ---------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Receive and handle datagrams until :meth:`stop` (or the socket closes)."""
        sock = self.sock
        while not self._stopping:
            try:
                if not select.select([sock], [], [], poll_interval)[0]:
                    continue
                data, sender = sock.recvfrom(MAX_UDP_RECV)
            except (ConnectionRefusedError, ConnectionResetError, InterruptedError):
                continue                  # (Linux reports ICMP errors on recv)
            except (OSError, ValueError):
                if self._stopping or sock.fileno() < 0:
                    return
                raise
            self.handle(data, sender)

    def stop(self) -> None:
        """Make :meth:`serve_forever` return."""
        self._stopping = True

    def close(self) -> None:
        self._stopping = True
        for port in list(self.clients):
            self._drop(port)
        self.sock.close()

    def __enter__(self) -> "Repeater":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ----------------------------------------------------------------

    def _drop(self, port: int) -> None:
        client = self.clients.pop(port, None)
        if client is not None:
            client.close()

    def _is_local(self, host: str) -> bool:
        """Only clients on this host may register: loopback, or an address of ours
        (one we can bind)."""
        known = self._local.get(host)
        if known is None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind((host, 0))
                    known = True
                except OSError:
                    known = False
            if len(self._local) < 256:
                self._local[host] = known
        return known

    def _alive(self, port: int) -> bool:
        """A client still holds its port (binding it fails with EADDRINUSE)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("", port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
                self.on_error(f"CA Repeater: Bind test error \"{exc.strerror or exc}\"")
                return False
        return False


def _stderr(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
