"""A tiny, deliberately misbehaving CA server for CLI tests (raw sockets, threads).

It speaks just enough Channel Access for caget/caput/cainfo (ours and the C tools) to
connect: UDP SEARCH replies, VERSION, CREATE_CHAN (any native count, extended header
when large), ACCESS_RIGHTS, ECHO, CLEAR_CHANNEL, and READ_NOTIFY / EVENT_ADD answered
by a per-PV policy: ``"short"`` replies with fewer elements than requested, ``"fail"``
sends a READ_NOTIFY reply with a failing status and no elements, ``"error"`` sends an
ERROR message instead of a reply. Everything binds to 127.0.0.1 only.
"""
from __future__ import annotations

import os
import socket
import struct
import sys
import threading
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from epics_env import CaEnv, ca_header, pad8  # noqa: E402

ECA_GETFAIL = 0x98
MINOR = 13
#: Bytes of the metadata of the plain, STS and TIME DBR families.
META_SIZE = {"plain": 0, "sts": 4, "time": 12}


def header(cmd: int, psize: int, dtype: int, count: int, p1: int, p2: int) -> bytes:
    """A standard header, or the extended one when the size or count needs it."""
    if psize >= 0xFFFF or count >= 0xFFFF:
        return (struct.pack(">HHHHII", cmd, 0xFFFF, dtype, 0, p1, p2)
                + struct.pack(">II", psize, count))
    return ca_header(cmd, psize, dtype, count, p1, p2)


def dbr_bytes(dtype: int, values: list[float]) -> bytes:
    """A DBR_<type>, DBR_STS_<type> or DBR_TIME_<type> payload (numeric types only;
    zero alarm and time stamp; the padding C's structures have)."""
    base, family = dtype % 7, ("plain", "sts", "time")[dtype // 7]
    meta = bytearray(META_SIZE[family])
    # the C structs pad the metadata so that the value is aligned
    pad = {(1, "time"): 2, (3, "time"): 2, (4, "time"): 3, (6, "time"): 4, (4, "sts"): 1,
           (6, "sts"): 4}.get((base, family), 0)
    if base == 0:
        data = b"".join(f"{v:g}".encode().ljust(40, b"\0") for v in values)
        return bytes(meta) + data
    code = {1: ">h", 2: ">f", 3: ">H", 4: ">b", 5: ">i", 6: ">d"}[base]
    data = b"".join(struct.pack(code, int(v) if base not in (2, 6) else v) for v in values)
    return bytes(meta) + bytes(pad) + data


@dataclass
class FakePV:
    """A channel: native DBF type (numeric), native count, read policy and values."""
    native_type: int = 6
    native_count: int = 5
    policy: str = "short"          # "short", "fail", "error"
    values: tuple[float, ...] = (1.5, 2.5)


class FakeServer:
    """Serve ``pvs`` on the port pair of a :class:`CaEnv` until :meth:`stop`."""

    def __init__(self, ca_env: CaEnv, pvs: dict[str, FakePV]) -> None:
        self.pvs = pvs
        self.port = ca_env.port
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(8)
        self.stopping = False
        self.clients: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._accept, daemon=True)]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping = True
        for sock in (self.udp, self.tcp, *self.clients):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self.threads:
            thread.join(5)

    def __enter__(self) -> "FakeServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- UDP
    def _serve_udp(self) -> None:
        while not self.stopping:
            try:
                data, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            off, replies = 0, b""
            while off + 16 <= len(data):
                cmd, psize, _dt, _count, p1, p2 = struct.unpack_from(">HHHHII", data, off)
                body = data[off + 16:off + 16 + psize]
                off += 16 + psize
                if cmd == 6 and body.split(b"\0")[0].decode(errors="replace") in self.pvs:
                    replies += ca_header(6, 8, self.port, 0, 0xFFFFFFFF, p1)
                    replies += struct.pack(">H6x", MINOR)
            if replies:
                try:
                    self.udp.sendto(ca_header(0, 0, 0, MINOR) + replies, peer)
                except OSError:
                    pass

    # -- TCP
    def _accept(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            self.clients.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        channels: dict[int, FakePV] = {}
        buf = b""
        try:
            conn.sendall(ca_header(0, 0, 0, MINOR))
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 16:
                    cmd, psize, dtype, count, p1, p2 = struct.unpack_from(">HHHHII", buf)
                    size = 16
                    if psize == 0xFFFF:
                        if len(buf) < 24:
                            break
                        psize, count = struct.unpack_from(">II", buf, 16)
                        size = 24
                    if len(buf) < size + psize:
                        break
                    raw_header, body = buf[:size], buf[size:size + psize]
                    buf = buf[size + psize:]
                    reply = self._answer(channels, cmd, dtype, count, p1, p2, body,
                                         raw_header)
                    if reply:
                        conn.sendall(reply)
        except OSError:
            return
        finally:
            conn.close()

    def _answer(self, channels: dict[int, FakePV], cmd: int, dtype: int, count: int,
                p1: int, p2: int, body: bytes, raw_header: bytes) -> bytes:
        if cmd == 18:                                   # CREATE_CHAN
            name = body.split(b"\0")[0].decode(errors="replace")
            pv = self.pvs.get(name)
            if pv is None:
                return ca_header(26, 0, 0, 0, p1, 0)
            sid = len(channels) + 100
            channels[sid] = pv
            return (ca_header(22, 0, 0, 0, p1, 3)
                    + header(18, 0, pv.native_type, pv.native_count, p1, sid))
        if cmd == 23:                                   # ECHO
            return ca_header(23)
        if cmd == 12:                                   # CLEAR_CHANNEL
            return ca_header(12, 0, 0, 0, p1, p2)
        if cmd in (15, 1):                              # READ_NOTIFY, EVENT_ADD
            pv = channels.get(p1)
            if pv is None:
                return b""
            ioid = p2
            if pv.policy == "error" or dtype > 20:      # (no GR/CTRL encoder here)
                text = b"fake server: read refused\0"
                payload = pad8(raw_header + text)
                return ca_header(11, len(payload), 0, 0, p1, ECA_GETFAIL) + payload
            if pv.policy == "fail":
                payload = pad8(dbr_bytes(dtype, []))
                return header(cmd, len(payload), dtype, 0, ECA_GETFAIL, ioid) + payload
            values = list(pv.values)
            if count:
                values = values[:count]
            payload = pad8(dbr_bytes(dtype, values))
            return header(cmd, len(payload), dtype, len(values), 1, ioid) + payload
        return b""
