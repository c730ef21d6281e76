"""Hostile Channel Access clients made of raw sockets, for tests and bench/hostile_serve.py.

Nothing here imports catools: the same attacks run against ``catools serve`` and against
softIoc. Every function closes the sockets it opens, except those it returns.
"""
from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager

HEADER = struct.Struct(">HHHHII")
ECA_NORMAL = 1
ECA_TOLARGE = 72
CMD_VERSION, CMD_EVENT_ADD, CMD_WRITE, CMD_ERROR, CMD_ECHO = 0, 1, 4, 11, 23
CMD_READ_NOTIFY, CMD_CREATE_CHAN, CMD_WRITE_NOTIFY = 15, 18, 19
DBR_DOUBLE = 6


def header(cmd: int, psize: int = 0, dtype: int = 0, count: int = 0, p1: int = 0,
           p2: int = 0) -> bytes:
    """A request header; the extended form when size or count need it."""
    if psize >= 0xFFFF or count >= 0xFFFF:
        return HEADER.pack(cmd, 0xFFFF, dtype, 0, p1, p2) + struct.pack(">II", psize, count)
    return HEADER.pack(cmd, psize, dtype, count, p1, p2)


def pad8(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def connect(port: int, timeout: float = 5.0, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


class Reader:
    """Frames the server's messages on one socket: ``(cmd, dtype, count, p1, p2, body)``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.closed = False

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self.closed:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def next(self, timeout: float = 5.0) -> tuple[int, int, int, int, int, bytes] | None:
        """The next message, or None at timeout or end of stream."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 16:
                cmd, psize, dtype, count, p1, p2 = HEADER.unpack_from(self.buf)
                hsize = 16
                if psize == 0xFFFF and len(self.buf) >= 24:
                    psize, count = struct.unpack_from(">II", self.buf, 16)
                    hsize = 24
                if psize != 0xFFFF or hsize == 24:
                    if len(self.buf) >= hsize + psize:
                        body = bytes(self.buf[hsize:hsize + psize])
                        del self.buf[:hsize + psize]
                        return cmd, dtype, count, p1, p2, body
            if not self._fill(deadline):
                return None

    def until(self, cmd: int, timeout: float = 5.0) -> tuple[int, int, int, int, int, bytes]:
        """Skip messages up to the first with command ``cmd``; AssertionError if none."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.next(max(0.0, deadline - time.monotonic()))
            if message is None:
                raise AssertionError(f"no message {cmd} (closed={self.closed})")
            if message[0] == cmd:
                return message

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """True once the server closes the circuit (messages before that are dropped)."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            self.buf.clear()
            if not self._fill(deadline) and not self.closed:
                return False
        return True


def open_channel(port: int, name: str, rcvbuf: int | None = None,
                 timeout: float = 5.0) -> tuple[socket.socket, Reader, int, int, int]:
    """A circuit with one channel: ``(sock, reader, sid, native type, count)``."""
    sock = connect(port, timeout, rcvbuf)
    payload = pad8(name.encode() + b"\0")
    sock.sendall(header(CMD_VERSION, 0, 0, 13) + header(CMD_CREATE_CHAN, len(payload), 0, 0,
                                                        1, 13) + payload)
    reader = Reader(sock)
    cmd, dtype, count, cid, sid, _ = reader.until(CMD_CREATE_CHAN, timeout)
    return sock, reader, sid, dtype, count


def echo_ok(sock: socket.socket, reader: Reader, timeout: float = 10.0) -> bool:
    """True if the circuit still answers an ECHO (after whatever came before)."""
    try:
        sock.sendall(header(CMD_ECHO))
        reader.until(CMD_ECHO, timeout)
    except (AssertionError, OSError):
        return False
    return True


def error_status(message: tuple[int, int, int, int, int, bytes]) -> tuple[int, int, str]:
    """``(status, command of the quoted request, text)`` of an ERROR message."""
    cmd, _dtype, _count, _p1, status, body = message
    assert cmd == CMD_ERROR, message[:5]
    quoted = 24 if struct.unpack_from(">H", body, 2)[0] == 0xFFFF else 16
    text = body[quoted:].split(b"\0", 1)[0].decode(errors="replace")
    return status, struct.unpack_from(">H", body)[0], text


def vm_kb(pid: int, field: str = "VmHWM") -> int:
    """A /proc/PID/status memory field in kB (VmHWM: peak resident set)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


# --------------------------------------------------------------------------- attacks

def pipelined_reads(port: int, name: str, requests: int = 1024) -> socket.socket:
    """16 bytes x ``requests`` of READ_NOTIFY (all elements) on ``name``, sent in one go
    by a client that never reads (tiny receive buffer). Returns the open socket."""
    sock, _reader, sid, dtype, _count = open_channel(port, name, rcvbuf=4096)
    sock.sendall(b"".join(header(CMD_READ_NOTIFY, 0, dtype, 0, sid, i)
                          for i in range(requests)))
    return sock


def huge_write(port: int, name: str, size: int, chunk: int = 1 << 20) -> tuple[bool, list]:
    """A WRITE_NOTIFY announcing ``size`` payload bytes, all sent; then an ECHO.
    Returns (ECHO answered, [(status, quoted command) of ERRORs], WRITE_NOTIFY statuses)."""
    sock, reader, sid, dtype, _count = open_channel(port, name)
    try:
        size -= size % 8
        sock.sendall(header(CMD_WRITE_NOTIFY, size, DBR_DOUBLE, size // 8, sid, 7))
        block = bytes(chunk)
        sent = 0
        while sent < size:
            part = min(chunk, size - sent)
            sock.sendall(block[:part])
            sent += part
        sock.sendall(header(CMD_ECHO))
        answered, messages = _until_echo(reader)
        replies = [("ERROR",) + error_status(m) if m[0] == CMD_ERROR
                   else ("WRITE_NOTIFY", m[3])
                   for m in messages if m[0] in (CMD_ERROR, CMD_WRITE_NOTIFY)]
        return answered, replies
    finally:
        sock.close()


def huge_count_reads(port: int, name: str, counts: tuple[int, ...],
                     linger: float = 0.5) -> tuple[bool, list]:
    """READ_NOTIFY then EVENT_ADD with each element count; then ECHO, and what comes
    in ``linger`` s after it (RSRV posts a subscription's first update, or its ERROR,
    from another thread). Returns (ECHO answered, replies sorted: ("ERROR", status,
    quoted cmd, text) or (cmd, status, count))."""
    sock, reader, sid, dtype, _count = open_channel(port, name)
    try:
        requests = []
        for i, count in enumerate(counts):
            requests.append(header(CMD_READ_NOTIFY, 0, dtype, count, sid, 100 + i))
            body = struct.pack(">fffHH", 0, 0, 0, 1, 0)      # DBE_VALUE
            requests.append(header(CMD_EVENT_ADD, len(body), dtype, count, sid, 200 + i)
                            + body)
        sock.sendall(b"".join(requests) + header(CMD_ECHO))
        answered, messages = _until_echo(reader, linger)
        replies = [_reply(message) for message in messages]
        return answered, sorted(replies, key=repr) if answered else replies
    finally:
        sock.close()


def _until_echo(reader: Reader, linger: float = 0.0
                ) -> tuple[bool, list[tuple[int, int, int, int, int, bytes]]]:
    """The messages before the reply to an ECHO just sent, and those that come within
    ``linger`` s after it; ``(False, messages)`` if the ECHO is not answered in 30 s."""
    messages = []
    while True:
        message = reader.next(30.0)
        if message is None:
            return False, messages
        if message[0] == CMD_ECHO:
            deadline = time.monotonic() + linger
            while linger and (late := reader.next(max(0.0, deadline - time.monotonic()))):
                messages.append(late)
            return True, messages
        messages.append(message)


def _reply(message: tuple[int, int, int, int, int, bytes]) -> tuple:
    if message[0] == CMD_ERROR:
        return ("ERROR",) + error_status(message)
    return message[0], message[3], message[2]


def oversize_header(port: int, cmd: int = 1, psize: int = 0xFFFFFFF8) -> tuple[list, bool]:
    """A correct circuit, then an extended header announcing ``psize`` bytes and only
    1 MB of them. Returns (ERRORs received, circuit still answering ECHO after the rest
    of the body would have been drained: not checked, the body never comes)."""
    sock = connect(port)
    reader = Reader(sock)
    try:
        sock.sendall(header(CMD_VERSION, 0, 0, 13) + header(cmd, psize, DBR_DOUBLE,
                                                            psize // 8, 0, 1))
        sock.sendall(bytes(1 << 20))
        errors = []
        while True:
            message = reader.next(3.0)
            if message is None:
                break
            if message[0] == CMD_ERROR:
                errors.append(error_status(message))
        return errors, not reader.closed
    finally:
        sock.close()


def garbage(port: int, size: int = 1 << 16, seed: int = 1) -> bool:
    """Random bytes after a VERSION; True if the server closed the circuit."""
    import random
    data = random.Random(seed).randbytes(size)
    sock = connect(port)
    try:
        try:
            sock.sendall(header(CMD_VERSION, 0, 0, 13) + data)
        except OSError:
            return True
        return Reader(sock).wait_closed(10.0)
    finally:
        sock.close()


@contextmanager
def slow_loris(port: int, connections: int = 50) -> Iterator[list[socket.socket]]:
    """``connections`` circuits that each send half a header and then nothing."""
    socks = []
    try:
        for _ in range(connections):
            sock = connect(port)
            sock.sendall(header(CMD_VERSION, 0, 0, 13)[:10])
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


@contextmanager
def many_channels(port: int, name: str, connections: int = 200) -> Iterator[int]:
    """``connections`` circuits, each with a channel to ``name``; yields how many
    connected."""
    socks = []
    try:
        for _ in range(connections):
            sock, _reader, _sid, _dtype, _count = open_channel(port, name)
            socks.append(sock)
        yield len(socks)
    finally:
        for sock in socks:
            sock.close()


def udp_garbage(port: int, datagrams: int = 2000, seed: int = 2) -> None:
    """Random datagrams and truncated searches at the server's UDP port."""
    import random
    rng = random.Random(seed)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(datagrams):
            if i % 2:
                data = header(CMD_VERSION, 0, 0, 13) + header(6, 0xFFF8, 5, 13, i, i)
            else:
                data = rng.randbytes(rng.randrange(1, 1500))
            try:
                sock.sendto(data, ("127.0.0.1", port))
            except OSError:
                pass

