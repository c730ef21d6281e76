"""Small facts about this host, found with the standard library (Linux ioctls)."""
from __future__ import annotations

import _socket  # (the C module: socket.py's wrapper costs ~1.2 ms to import)
import os
from typing import Callable, Iterable


def broadcast_addresses() -> list[str]:
    """libca's automatic search list: the broadcast address (or point-to-point peer)
    of every up, non-loopback interface; 127.0.0.1 when there is none."""
    from ..netinfo import interfaces
    out: list[str] = []
    for interface in interfaces():
        if interface.broadcast not in out:
            out.append(interface.broadcast)
    return out or ["127.0.0.1"]


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
                label = _socket.gethostbyaddr(address)[0]
            except OSError:
                label = address
            self._labels[address] = label
        return label
