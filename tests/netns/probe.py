"""Readiness probe run inside a rig namespace: ``probe.py ADDRESS PORT PV TIMEOUT``.

Sends a CA search for PV to ADDRESS:PORT (a broadcast address is fine) every 10 ms and
prints ``<time.monotonic()> <tcp port>`` at the first matching reply (exit 0), or exits
1 after TIMEOUT seconds.
"""
from __future__ import annotations

import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from epics_env import search_datagram  # noqa: E402

SEARCH = 6
SEARCH_ID = 0x5EA4C


def main(address: str, port: str, pv: str, timeout: str) -> int:
    datagram = search_datagram(pv, SEARCH_ID)
    deadline = time.monotonic() + float(timeout)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.bind(("", 0))
        s.settimeout(0.01)
        while time.monotonic() < deadline:
            try:
                s.sendto(datagram, (address, int(port)))
            except OSError:
                pass            # e.g. no route yet
            try:
                while True:
                    data = s.recv(65535)
                    now = time.monotonic()
                    off = 0
                    while off + 16 <= len(data):
                        cmd, psize, dtype, _c, _p1, p2 = struct.unpack_from(">HHHHII", data,
                                                                           off)
                        if cmd == SEARCH and p2 == SEARCH_ID:
                            print(f"{now:.6f} {dtype}", flush=True)
                            return 0
                        off += 16 + psize
            except (socket.timeout, ConnectionRefusedError):
                pass
    print(f"no reply for {pv} from {address}:{port}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
