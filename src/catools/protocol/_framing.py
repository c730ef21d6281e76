"""The receive buffer of a circuit: bytes as they arrive, cut into messages in one place.

A message is a 16-byte header (24 bytes when its 16-bit payload size is 0xFFFF: the
extended form, whose two extra words are the payload size and the element count) and
its payload. Bytes are consumed only when a whole message is there, and the payload
size is checked against the limit before anything waits for, or joins, its bytes.
"""
from __future__ import annotations

from ._errors import RemoteProtocolError
from ._headers import EXTENDED_MARKER, HEADER

#: Default bound on one message's payload (EPICS_CA_MAX_ARRAY_BYTES is passed in by I/O).
DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024

#: ``(command, payload_size, data_type, data_count, parameter1, parameter2, start, end)``:
#: a message's header fields (size and count widened) and where its payload lies.
Frame = tuple[int, int, int, int, int, int, int, int]

_unpack_header = HEADER.unpack_from


class ReceiveBuffer:
    """Received bytes not yet parsed, joined lazily: O(bytes read) in all.

    .. attribute:: data

       The joined bytes (immutable: a payload view stays valid after more arrives).

    .. attribute:: pos

       Offset in ``data`` of the first unparsed byte. A reader that walks ``data``
       itself (the client's batch fast path) advances it past what it took.

    .. attribute:: eof

       The peer closed the stream (``feed(b'')``).
    """

    __slots__ = ("data", "pos", "eof", "_chunks", "_pending")

    def __init__(self) -> None:
        self.data = b""
        self.pos = 0
        self.eof = False
        self._chunks: list[bytes] = []
        self._pending = 0          # bytes in _chunks

    def feed(self, data: bytes) -> None:
        """Add received bytes; ``b''`` marks the end of the stream."""
        if not data:
            self.eof = True
            return
        self._chunks.append(bytes(data))
        self._pending += len(data)

    def __len__(self) -> int:
        """Bytes received but not yet parsed."""
        return len(self.data) - self.pos + self._pending

    def clear(self) -> None:
        """Drop everything buffered (the stream is over)."""
        self.data = b""
        self.pos = 0
        self._chunks.clear()
        self._pending = 0

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
        ``max_payload`` raises RemoteProtocolError (nothing consumed)."""
        buf = self.data
        pos = self.pos
        if len(buf) - pos < 16:
            if not self._fill(16):
                return None
            buf, pos = self.data, 0
        cmd, psize, dtype, count, p1, p2 = _unpack_header(buf, pos)
        start = pos + 16
        if psize == EXTENDED_MARKER:
            if len(buf) - pos < 24:
                if not self._fill(24):
                    return None
                buf, pos = self.data, 0
            start = pos + 24
            psize = int.from_bytes(buf[pos + 16:pos + 20], "big")
            count = int.from_bytes(buf[pos + 20:start], "big")
        if psize > max_payload:
            raise RemoteProtocolError(f"message of {psize} payload bytes exceeds the limit "
                                      f"of {max_payload} (command {cmd})")
        end = start + psize
        if end > len(buf):
            if not self._fill(end - pos):
                return None
            start -= pos
            end -= pos
        self.pos = end
        return cmd, psize, dtype, count, p1, p2, start, end


def short_frame_limit(max_payload: int) -> int:
    """The largest payload a walker that reads only 16-byte headers may take: a size of
    0xFFFF marks the extended header, which such a walker must leave to ``frame``."""
    return min(max_payload, EXTENDED_MARKER - 1)
