"""IPv4 interfaces of this host, found with the standard library (Linux ioctls).

Used by the client (automatic search list) and the server (automatic beacon list);
neither calls it when its EPICS_*_AUTO_* variable is off.
"""
from __future__ import annotations

import socket
import struct
import sys
from typing import NamedTuple

_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_SIOCGIFDSTADDR = 0x8917
_SIOCGIFBRDADDR = 0x8919
_IFF_UP, _IFF_BROADCAST, _IFF_LOOPBACK, _IFF_POINTOPOINT = 0x1, 0x2, 0x8, 0x10


class Interface(NamedTuple):
    """One up, non-loopback interface: its address and where to broadcast (the
    broadcast address, or the peer of a point-to-point link)."""

    name: str
    address: str
    broadcast: str


def interfaces() -> list[Interface]:
    """Up, non-loopback IPv4 interfaces with a broadcast address or a point-to-point
    peer (empty where the ioctls are not available)."""
    if not sys.platform.startswith("linux"):
        return []
    import fcntl

    out: list[Interface] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
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
            out.append(Interface(name, socket.inet_ntoa(address[20:24]),
                                 socket.inet_ntoa(target[20:24])))
    return out
