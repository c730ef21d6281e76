"""This host's network facts and sockets, found with the standard library (Linux ioctls).

The one net module of the client and the server: the IPv4 interfaces (the client's
automatic search list, the server's automatic beacon list; neither asks for them when
its EPICS_*_AUTO_* variable is off), this host's and user's names, name resolution,
and the server's bound sockets. Importing it costs little (only ``_socket`` and ``os``):
``socket``, ``struct`` and ``fcntl`` are loaded by the functions that need them.
"""
from __future__ import annotations

import _socket  # (the C module: socket.py's wrapper costs ~1.2 ms to import)
import os
from .hints import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Callable, Iterable
    import socket

_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_SIOCGIFDSTADDR = 0x8917
_SIOCGIFBRDADDR = 0x8919
_IFF_UP, _IFF_BROADCAST, _IFF_LOOPBACK, _IFF_POINTOPOINT = 0x1, 0x2, 0x8, 0x10


class Interface(tuple):
    """One up, non-loopback interface: ``(name, address, broadcast)``, where
    ``broadcast`` is where to broadcast (the broadcast address, or the peer of a
    point-to-point link). A plain tuple subclass: a NamedTuple would cost ~65 us at
    every client's start."""

    __slots__ = ()

    def __new__(cls, name: str, address: str, broadcast: str) -> "Interface":
        return tuple.__new__(cls, (name, address, broadcast))

    @property
    def name(self) -> str:
        return self[0]

    @property
    def address(self) -> str:
        return self[1]

    @property
    def broadcast(self) -> str:
        return self[2]

    def __repr__(self) -> str:
        return f"Interface(name={self[0]!r}, address={self[1]!r}, broadcast={self[2]!r})"


def interfaces() -> list[Interface]:
    """Up, non-loopback IPv4 interfaces with a broadcast address or a point-to-point
    peer (empty where the ioctls are not available)."""
    import sys
    if not sys.platform.startswith("linux"):
        return []
    import fcntl
    import struct

    out: list[Interface] = []
    # (_socket, not socket: socket.py's enums cost 12M instructions, ~2.5 ms of a caget
    # that searches the automatic list)
    probe = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        for _, name in _socket.if_nameindex():
            req = struct.pack("256s", name.encode()[:15])
            try:
                flags = struct.unpack_from("H", fcntl.ioctl(probe, _SIOCGIFFLAGS, req), 16)[0]
                if not flags & _IFF_UP or flags & _IFF_LOOPBACK:
                    continue
                if flags & _IFF_BROADCAST:
                    target = fcntl.ioctl(probe, _SIOCGIFBRDADDR, req)
                elif flags & _IFF_POINTOPOINT:
                    target = fcntl.ioctl(probe, _SIOCGIFDSTADDR, req)
                else:
                    continue
                address = fcntl.ioctl(probe, _SIOCGIFADDR, req)
            except OSError:
                continue
            out.append(Interface(name, _socket.inet_ntoa(address[20:24]),
                                 _socket.inet_ntoa(target[20:24])))
    finally:
        probe.close()
    return out


def interface_broadcasts(only: list[str]) -> list[str]:
    """The broadcast targets of the up, non-loopback IPv4 interfaces, each once; with
    ``only`` (the server's EPICS_CAS_INTF_ADDR_LIST) those whose address is listed
    (all of them when it lists 0.0.0.0)."""
    out: list[str] = []
    for interface in interfaces():
        if only and interface.address not in only and "0.0.0.0" not in only:
            continue
        if interface.broadcast not in out:
            out.append(interface.broadcast)
    return out


def broadcast_addresses() -> list[str]:
    """libca's automatic search list: the broadcast address (or point-to-point peer)
    of every up, non-loopback interface; 127.0.0.1 when there is none."""
    return interface_broadcasts([]) or ["127.0.0.1"]


def host_name() -> str:
    """This host's name as gethostname() gives it."""
    return _socket.gethostname()


def user_name() -> str:
    """The login name libca would send."""
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return "unknown"


def resolve(host: str) -> str:
    """IPv4 address of ``host`` (a dotted address is returned as is)."""
    try:
        _socket.inet_aton(host)
        if host.count(".") == 3:
            return host
    except OSError:
        pass
    return _socket.gethostbyname(host)


def resolve_all(entries: Iterable[tuple[str, int]], variable: str,
                warn: Callable[[str, str], None]) -> list[tuple[str, int]]:
    """``(ip, port)`` of each ``(host, port)`` entry of ``variable``; a host that does
    not resolve is reported (``warn``) and left out."""
    out = []
    for host, port in entries:
        try:
            out.append((resolve(host), port))
        except OSError:
            warn(f"Unable to resolve {variable} entry", host)
    return out


class HostLabels:
    """The name cainfo shows for a server address: a reverse lookup, cached."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}

    def __call__(self, address: str) -> str:
        label = self._labels.get(address)
        if label is None:
            try:
                # (bytes: a str would be encoded by the idna codec, whose import
                # costs 5M instructions)
                label = _socket.gethostbyaddr(
                    address.encode("ascii"))[0]  # type: ignore[arg-type]  # (bytes work)
            except (OSError, UnicodeError):
                label = address
            self._labels[address] = label
        return label


def tcp_listener(host: str, port: int) -> socket.socket:
    """A non-blocking listening TCP socket on ``host:port`` (``port`` 0 = any)."""
    import socket
    return _bound(socket.SOCK_STREAM, host, port, backlog=64)


def udp_socket(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to ``host:port`` (shared with other servers)."""
    import socket
    return _bound(socket.SOCK_DGRAM, host, port)


def _bound(kind: int, host: str, port: int, backlog: int | None = None) -> socket.socket:
    """A non-blocking socket of ``kind`` bound to ``host:port`` with SO_REUSEADDR,
    listening with ``backlog`` if given (closed again if any step fails)."""
    import socket
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        if backlog is not None:
            sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
