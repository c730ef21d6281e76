"""Small facts about this host, found with the standard library (Linux ioctls)."""
from __future__ import annotations

import os
import socket
import struct

_SIOCGIFFLAGS = 0x8913
_SIOCGIFBRDADDR = 0x8919
_SIOCGIFDSTADDR = 0x8917
_IFF_UP, _IFF_BROADCAST, _IFF_LOOPBACK, _IFF_POINTOPOINT = 0x1, 0x2, 0x8, 0x10


def broadcast_addresses() -> list[str]:
    """Broadcast address of every up, broadcast-capable, non-loopback interface, and
    the peer of point-to-point links (libca's automatic search list)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not Linux/Unix
        return ["255.255.255.255"]
    out: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            req = struct.pack("256s", name.encode()[:15])
            try:
                flags = struct.unpack_from("H", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS,
                                                            req), 16)[0]
                if not flags & _IFF_UP or flags & _IFF_LOOPBACK:
                    continue
                if flags & _IFF_BROADCAST:
                    raw = fcntl.ioctl(sock.fileno(), _SIOCGIFBRDADDR, req)
                elif flags & _IFF_POINTOPOINT:
                    raw = fcntl.ioctl(sock.fileno(), _SIOCGIFDSTADDR, req)
                else:
                    continue
            except OSError:
                continue
            address = socket.inet_ntoa(raw[20:24])
            if address not in out:
                out.append(address)
    return out or ["127.0.0.1"]


def host_name() -> str:
    """This host's name as gethostname() gives it."""
    return socket.gethostname()


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
        socket.inet_aton(host)
        if host.count(".") == 3:
            return host
    except OSError:
        pass
    return socket.gethostbyname(host)
