"""The receive buffer of a circuit: bytes as they arrive, cut into messages in one place.

A message is a 16-byte header (24 bytes when its 16-bit payload size is 0xFFFF: the
extended form, whose two extra words are the payload size and the element count) and
its payload. Bytes are consumed only when a whole message is there, and the payload
size is checked against the limit before anything waits for, or joins, its bytes.
A server's buffer drains a message that is too large (``drain_oversize``): its header is
consumed, its payload skipped as it arrives, and the error says to answer ECA_TOLARGE
and go on, as RSRV does.
A message of ASSEMBLE bytes or more that is not all here yet is assembled in one buffer
of its size as it arrives (``data`` is then a read-only view of it): received pieces
are copied in and dropped, not kept until the last one comes and joined.
"""
from __future__ import annotations

from ._errors import RemoteProtocolError, eca_code
from ._headers import (EXTENDED_HEADER, EXTENDED_MARKER, Frame, Header, frame_at,
                       unpack_header)

#: Default bound on one message's payload (EPICS_CA_MAX_ARRAY_BYTES is passed in by I/O).
DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024
#: A message this large (header included) is assembled in place as it arrives.
ASSEMBLE = 1 << 20


class ReceiveBuffer:
    """Received bytes not yet parsed, joined lazily: O(bytes read) in all.

    .. attribute:: data

       The joined bytes (immutable: a payload view stays valid after more arrives):
       ``bytes``, or a read-only ``memoryview`` of an assembled large message.

    .. attribute:: pos

       Offset in ``data`` of the first unparsed byte. A reader that walks ``data``
       itself (the client's batch fast path) advances it past what it took.

    .. attribute:: eof

       The peer closed the stream (``feed(b'')``).

    .. attribute:: head

       Offset in ``data`` of the header of the message last framed or peeked at.

    ``drain_oversize``: a message above the limit is skipped, not left in place (see
    :meth:`frame`).
    """

    __slots__ = ("data", "pos", "eof", "head", "drain_oversize", "_chunks", "_pending",
                 "_skip", "_big", "_want")

    def __init__(self, drain_oversize: bool = False) -> None:
        self.data: bytes | memoryview = b""
        self.pos = 0
        self.eof = False
        self.head = 0
        self.drain_oversize = drain_oversize
        self._chunks: list[bytes] = []
        self._pending = 0          # bytes in _chunks
        self._skip = 0             # bytes of a drained message still to come
        self._big: bytearray | None = None  # a large message being assembled
        self._want = 0             # bytes of it still to come

    def feed(self, data: bytes) -> None:
        """Add received bytes; ``b''`` marks the end of the stream."""
        if not data:
            self.eof = True
            return
        if self._skip:
            cut = min(self._skip, len(data))
            self._skip -= cut
            data = data[cut:]
            if not data:
                return
        big = self._big
        if big is not None:
            want = self._want
            if len(data) < want:
                big += data
                self._want = want - len(data)
                return
            big += data if len(data) == want else memoryview(data)[:want]
            self._assembled(big)
            data = data[want:]
            if not data:
                return
        self._chunks.append(bytes(data))
        self._pending += len(data)

    def __len__(self) -> int:
        """Bytes received but not yet parsed."""
        big = self._big
        return len(self.data) - self.pos + self._pending + (0 if big is None else len(big))

    def clear(self) -> None:
        """Drop everything buffered (the stream is over)."""
        self.data = b""
        self.pos = 0
        self._chunks.clear()
        self._pending = 0
        self._big = None
        self._want = 0

    def _assemble(self, size: int) -> None:
        """Go on receiving the message at ``pos`` (``size`` bytes, not all here) into a
        buffer of its own: what is here is copied in now, the rest as it comes (the
        buffer grows as it is filled: not zeroed first)."""
        big = bytearray(memoryview(self.data)[self.pos:])
        for chunk in self._chunks:
            big += chunk
        self._chunks.clear()
        self._pending = 0
        self.data = b""
        self.pos = 0
        self._big = big
        self._want = size - len(big)

    def _assembled(self, big: bytearray) -> None:
        """The large message (``big``) is all here: it becomes ``data``."""
        self.data = memoryview(big).toreadonly()
        self.pos = 0
        self._big = None
        self._want = 0

    def compact(self) -> None:
        """Drop the bytes already parsed (gives a large buffer's memory back)."""
        if self.pos:
            self.data = bytes(self.data[self.pos:])
            self.pos = self.head = 0

    def take(self, size: int) -> bytes | memoryview:
        """Consume up to ``size`` buffered bytes, raw (a payload read past the framing;
        a view when ``data`` is an assembled message's)."""
        if len(self.data) - self.pos < size and self._pending:
            self._fill(0)
        start = self.pos
        self.pos = end = min(start + size, len(self.data))
        return self.data[start:end]

    def header_bytes(self) -> bytes:
        """The raw header (16 or 24 bytes) of the message last framed or peeked at."""
        data, head = self.data, self.head
        frame = frame_at(data, head)
        return bytes(data[head:head + EXTENDED_HEADER.size if frame is None else frame[6]])

    def peek(self) -> tuple[Header, int] | None:
        """The next message's header and header size, nothing consumed; None until the
        header is all here (its payload may not be)."""
        if len(self.data) - self.pos < 24 and self._pending:
            self._fill(0)
        parsed = unpack_header(self.data, self.pos)
        if parsed is not None:
            self.head = self.pos
        return parsed

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``pos`` (which becomes 0); False if they
        have not all been received yet."""
        if len(self.data) - self.pos + self._pending < need:
            return False
        self.data = b"".join([self.data[self.pos:], *self._chunks])
        self.pos = 0
        self._chunks.clear()
        self._pending = 0
        return True

    def frame(self, max_payload: int) -> Frame | None:
        """Take the next whole message: its header fields and ``data[start:end]``, its
        payload; None until all of it is here. A payload announced larger than
        ``max_payload`` raises RemoteProtocolError: nothing consumed, or, with
        ``drain_oversize``, the message is consumed (its payload skipped as it comes)
        and the error is ``recoverable`` with ``status`` ECA_TOLARGE."""
        buf = self.data
        pos = self.pos
        if len(buf) - pos < 16:         # (the common way out: all of it parsed)
            if not self._fill(16):
                return None
            buf, pos = self.data, 0
        frame = frame_at(buf, pos)
        if frame is None:               # an extended header, not all in ``data``
            if not self._fill(EXTENDED_HEADER.size):
                return None
            buf, pos = self.data, 0
            frame = frame_at(buf)
            if frame is None:           # (not reached: 24 bytes are there)
                return None
        if frame[1] > max_payload:
            cmd, psize, dtype, count, p1, p2, start, _ = frame
            error = RemoteProtocolError(f"message of {psize} payload bytes exceeds the "
                                        f"limit of {max_payload} (command {cmd})")
            if self.drain_oversize:
                self.head = pos
                self._drain(start, psize)
                error.header = Header(cmd, psize, dtype, count, p1, p2)
                error.recoverable, error.status = True, eca_code("ECA_TOLARGE")
            raise error
        end = frame[7]
        if end > len(buf):
            if not self._fill(end - pos):
                if end - pos >= ASSEMBLE:
                    self._assemble(end - pos)
                return None
            frame = frame[:6] + (frame[6] - pos, end - pos)
            pos = 0
            end = frame[7]
        self.head = pos
        self.pos = end
        return frame

    def _drain(self, start: int, size: int) -> None:
        """Consume a message whose payload (``size`` bytes from ``data[start]``) is
        skipped: what is buffered now, and the rest as it arrives."""
        cut = min(size, len(self.data) - start)
        self.pos = start + cut
        size -= cut
        chunks = self._chunks
        while size and chunks:
            cut = min(size, len(chunks[0]))
            chunks[0] = chunks[0][cut:]
            if not chunks[0]:
                del chunks[0]
            self._pending -= cut
            size -= cut
        self._skip = size


def short_frame_limit(max_payload: int) -> int:
    """The largest payload a walker that reads only 16-byte headers may take: a size of
    0xFFFF marks the extended header, which such a walker must leave to ``frame``."""
    return min(max_payload, EXTENDED_MARKER - 1)
