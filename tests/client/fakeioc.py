"""A small scriptable CA server for the client's hostile cases (raw sockets, threads,
127.0.0.1 only).

It answers searches for its PVs, VERSION, CREATE_CHAN (ACCESS_RIGHTS then the reply),
ECHO, CLEAR_CHANNEL, EVENT_ADD (one update of the current value), EVENT_CANCEL,
READ_NOTIFY, WRITE and WRITE_NOTIFY (DBR_DOUBLE values only). A test changes what it
does by overriding :meth:`ScriptedIoc.answer` (the default answers are in
:meth:`ScriptedIoc.default_answer`) and counts what it got in ``requests`` and
``search_names``.
"""
from __future__ import annotations

import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from epics_env import ca_header, pad8  # noqa: E402

MINOR = 13
ECA_NORMAL = 1
ECA_PUTFAIL = 0xA0        # (ECA_PUTFAIL: 20 << 3 | error)


def double_payload(values: list[float]) -> bytes:
    return pad8(b"".join(struct.pack(">d", v) for v in values))


class Conn:
    """One client connection: its socket and its channels (sid -> name)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.channels: dict[int, str] = {}
        self.cids: dict[int, int] = {}              # sid -> the client's cid
        self.subs: dict[int, tuple[int, int]] = {}  # subscription id -> (sid, dtype)
        self.lock = threading.Lock()

    def send(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)


class ScriptedIoc:
    """Serve ``pvs`` (name -> list of doubles) on ``port`` until :meth:`stop`."""

    def __init__(self, port: int, pvs: dict[str, list[float]]) -> None:
        self.port = port
        self.pvs = pvs
        self.requests: list[tuple[int, str, int, int]] = []   # (cmd, name, p2, count)
        self.search_names: list[str] = []
        self.conns: list[Conn] = []
        self.stopping = False
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", port))
        self.tcp.listen(8)
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._accept, daemon=True)]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping = True
        for sock in (self.udp, self.tcp, *(c.sock for c in self.conns)):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self.threads:
            thread.join(5)

    def __enter__(self) -> "ScriptedIoc":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, cmd: int, name: str | None = None) -> int:
        return sum(1 for c, n, _, _ in list(self.requests)
                   if c == cmd and (name is None or n == name))

    # -- messages a test may send itself
    @staticmethod
    def update(subscriptionid: int, values: list[float], status: int = ECA_NORMAL) -> bytes:
        payload = double_payload(values)
        return ca_header(1, len(payload), 6, len(values), status, subscriptionid) + payload

    @staticmethod
    def read_reply(ioid: int, values: list[float]) -> bytes:
        payload = double_payload(values)
        return ca_header(15, len(payload), 6, len(values), ECA_NORMAL, ioid) + payload

    @staticmethod
    def error(raw_header: bytes, cid: int, status: int, text: bytes = b"refused") -> bytes:
        payload = pad8(raw_header + text + b"\0")
        return ca_header(11, len(payload), 0, 0, cid, status) + payload

    def created(self, conn: Conn, name: str, cid: int) -> bytes:
        sid = len(conn.channels) + 100
        conn.channels[sid] = name
        conn.cids[sid] = cid
        return (ca_header(22, 0, 0, 0, cid, 3)
                + ca_header(18, 0, 6, len(self.pvs[name]), cid, sid))

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
                if cmd == 6:
                    name = body.split(b"\0")[0].decode(errors="replace")
                    self.search_names.append(name)
                    if name in self.pvs:
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
                sock, _ = self.tcp.accept()
            except OSError:
                return
            conn = Conn(sock)
            self.conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: Conn) -> None:
        buf = b""
        try:
            conn.send(ca_header(0, 0, 0, MINOR))
            while True:
                chunk = conn.sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 16:
                    cmd, psize, dtype, count, p1, p2 = struct.unpack_from(">HHHHII", buf)
                    if len(buf) < 16 + psize:
                        break
                    raw, body = buf[:16], buf[16:16 + psize]
                    buf = buf[16 + psize:]
                    name = body.split(b"\0")[0].decode(errors="replace") if cmd == 18 \
                        else conn.channels.get(p1, "")
                    self.requests.append((cmd, name, p2, count))
                    reply = self.answer(conn, cmd, dtype, count, p1, p2, body, raw)
                    if reply:
                        conn.send(reply)
        except OSError:
            return
        finally:
            conn.sock.close()

    def answer(self, conn: Conn, cmd: int, dtype: int, count: int, p1: int, p2: int,
               body: bytes, raw: bytes) -> bytes:
        """The reply to one request (override to script the server)."""
        return self.default_answer(conn, cmd, dtype, count, p1, p2, body, raw)

    def default_answer(self, conn: Conn, cmd: int, dtype: int, count: int, p1: int,
                       p2: int, body: bytes, raw: bytes) -> bytes:
        if cmd == 18:                                   # CREATE_CHAN
            name = body.split(b"\0")[0].decode(errors="replace")
            if name not in self.pvs:
                return ca_header(26, 0, 0, 0, p1, 0)
            return self.created(conn, name, p1)
        if cmd == 23:                                   # ECHO
            return ca_header(23)
        if cmd == 12:                                   # CLEAR_CHANNEL
            conn.channels.pop(p1, None)
            return ca_header(12, 0, 0, 0, p1, p2)
        name = conn.channels.get(p1)
        if name is None:
            return b""
        if cmd == 1:                                    # EVENT_ADD
            conn.subs[p2] = (p1, dtype)
            return self.update(p2, self.pvs[name])
        if cmd == 2:                                    # EVENT_CANCEL
            conn.subs.pop(p2, None)
            return ca_header(1, 0, dtype, count, p1, p2)
        if cmd == 15:                                   # READ_NOTIFY
            return self.read_reply(p2, self.pvs[name])
        if cmd in (4, 19):                              # WRITE, WRITE_NOTIFY
            self.pvs[name] = [struct.unpack_from(">d", body, 8 * i)[0] for i in range(count)]
            if cmd == 19:
                return ca_header(19, 0, dtype, count, ECA_NORMAL, p2)
        return b""
