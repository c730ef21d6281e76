"""Small socket helpers of the server: binding and interface broadcast addresses."""
from __future__ import annotations

import socket


def interface_broadcasts(interfaces: list[str]) -> list[str]:
    """Broadcast addresses of the up, non-loopback IPv4 interfaces; with
    ``interfaces`` (EPICS_CAS_INTF_ADDR_LIST) only those whose address is listed."""
    from ..netinfo import interfaces as host_interfaces
    out: list[str] = []
    for interface in host_interfaces():
        if interfaces and interface.address not in interfaces and "0.0.0.0" not in interfaces:
            continue
        if interface.broadcast not in out:
            out.append(interface.broadcast)
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
