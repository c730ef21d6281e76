"""Small socket helpers of the server: binding and interface broadcast addresses."""
from __future__ import annotations

import socket
import struct
import sys

_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_SIOCGIFBRDADDR = 0x8919
_IFF_BROADCAST = 0x2
_IFF_LOOPBACK = 0x8


def interface_broadcasts(interfaces: list[str]) -> list[str]:
    """Broadcast addresses of the broadcast-capable, non-loopback IPv4 interfaces (Linux
    ioctls; empty elsewhere). With ``interfaces`` only those whose address is listed."""
    if not sys.platform.startswith("linux"):
        return []
    import fcntl

    out: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            req = struct.pack("256s", name.encode()[:15])
            try:
                flags = struct.unpack_from("H", fcntl.ioctl(probe, _SIOCGIFFLAGS, req), 16)[0]
                if not flags & _IFF_BROADCAST or flags & _IFF_LOOPBACK:
                    continue
                addr = socket.inet_ntoa(fcntl.ioctl(probe, _SIOCGIFADDR, req)[20:24])
                bcast = socket.inet_ntoa(fcntl.ioctl(probe, _SIOCGIFBRDADDR, req)[20:24])
            except OSError:
                continue
            if interfaces and addr not in interfaces and "0.0.0.0" not in interfaces:
                continue
            if bcast not in out:
                out.append(bcast)
    return out


def tcp_listener(host: str, port: int) -> socket.socket:
    """A non-blocking listening TCP socket on ``host:port`` (``port`` 0 = any)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def udp_socket(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to ``host:port`` (shared with other servers)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
