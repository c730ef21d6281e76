"""netinfo's interface list: the same as the socket module's ioctls give, without
importing the socket module (its enums cost ~2.5 ms of a caget that searches the
automatic list)."""
from __future__ import annotations

import fcntl
import socket
import struct
import subprocess
import sys

from catools import netinfo


def ioctl_interfaces() -> list[tuple[str, str, str]]:
    """The oracle: (name, address, broadcast or peer) read with the socket module."""
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            req = struct.pack("256s", name.encode()[:15])
            try:
                flags = struct.unpack_from("H", fcntl.ioctl(probe, 0x8913, req), 16)[0]
                if not flags & 0x1 or flags & 0x8:
                    continue
                kind = 0x8919 if flags & 0x2 else 0x8917 if flags & 0x10 else None
                if kind is None:
                    continue
                target = fcntl.ioctl(probe, kind, req)
                address = fcntl.ioctl(probe, 0x8915, req)
            except OSError:
                continue
            out.append((name, socket.inet_ntoa(address[20:24]),
                        socket.inet_ntoa(target[20:24])))
    return out


def test_interfaces_are_what_the_ioctls_give():
    found = netinfo.interfaces()
    assert [tuple(i) for i in found] == ioctl_interfaces()
    assert all(type(i) is netinfo.Interface for i in found)


def test_interfaces_do_not_import_the_socket_module():
    code = ("import sys; from catools import netinfo; netinfo.interfaces(); "
            "netinfo.HostLabels()('127.0.0.1'); "
            "print(sorted({'socket', 'encodings.idna'} & set(sys.modules)))")
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        timeout=30)
    assert (cp.returncode, cp.stdout, cp.stderr) == (0, "[]\n", "")


def test_a_reverse_lookup_names_the_host():
    assert netinfo.HostLabels()("127.0.0.1") == socket.gethostbyaddr("127.0.0.1")[0]
