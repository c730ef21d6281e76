"""The 16-byte message header and its 24-byte extended form."""
from __future__ import annotations

import struct
from itertools import repeat

from ..hints import TYPE_CHECKING
from ._records import Record

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Container, Iterable, Sequence

HEADER = struct.Struct(">HHHHII")
EXTENDED_HEADER = struct.Struct(">HHHHIIII")
_EXT_TAIL = struct.Struct(">II")
#: A 16-bit payload size of 0xFFFF marks the 24-byte extended header.
EXTENDED_MARKER = 0xFFFF


class Header(Record):
    """Decoded header fields (``payload_size``/``data_count`` already widened)."""

    __slots__ = ()

    command: int
    payload_size: int
    data_type: int
    data_count: int
    parameter1: int
    parameter2: int


def padded(size: int) -> int:
    """Round ``size`` up to the 8-byte alignment of CA payloads."""
    return (size + 7) & ~7


#: ``raw + NUL_PADS[len(raw) & 7]``: a name payload, NUL-terminated and padded to 8.
NUL_PADS = tuple(b"\0" * (8 - n) for n in range(8))


def pad(payload: bytes) -> bytes:
    """Zero-pad ``payload`` to a multiple of 8 bytes."""
    extra = -len(payload) & 7
    return payload + b"\0" * extra if extra else payload


#: Per payload size: the packer of a whole request whose payload is a name (``s`` pads
#: the name with NUL to that size).
_NAMED_PACKERS: dict[int, Any] = {}


def named_packer(size: int) -> Callable[..., bytes]:
    """``pack(command, size, data_type, data_count, p1, p2, name)``: a request (header
    and payload) whose payload is ``name``, NUL-padded to ``size`` bytes."""
    pack = _NAMED_PACKERS.get(size)
    if pack is None:
        pack = _NAMED_PACKERS[size] = struct.Struct(">HHHHII%ds" % size).pack
    return pack


def encode_names(names: Sequence[str]) -> list[bytes] | None:
    """Each name as a payload carries it (UTF-8, surrogateescape), encoded at once; None
    if a name holds a NUL."""
    if not names:
        return []
    joined = "\0".join(names)
    if joined.count("\0") != len(names) - 1:
        return None
    return joined.encode("utf-8", "surrogateescape").split(b"\0")


def name_payload_size(raws: Sequence[bytes]) -> int | None:
    """The payload size that every one of the encoded names ``raws`` takes
    (NUL-terminated, padded), or None if they take different sizes."""
    sizes = {padded(length + 1) for length in set(map(len, raws))}
    return sizes.pop() if len(sizes) == 1 else None


def pack_named(command: int, size: int, data_type: int, data_count: int,
               p1s: Iterable[int], p2s: Iterable[int], raws: Iterable[bytes]) -> bytes:
    """Requests whose payloads are the encoded names ``raws``, all of payload ``size``,
    one per ``p1s``/``p2s`` pair (their other header fields alike), packed in a C loop."""
    return b"".join(map(named_packer(size), repeat(command), repeat(size), repeat(data_type),
                        repeat(data_count), p1s, p2s, raws))


def pack_header(command: int, payload_size: int, data_type: int, data_count: int,
                parameter1: int, parameter2: int) -> bytes:
    """Pack a header, using the extended form when size or count need it."""
    if payload_size >= EXTENDED_MARKER or data_count >= EXTENDED_MARKER:
        return EXTENDED_HEADER.pack(command, EXTENDED_MARKER, data_type, 0, parameter1,
                                    parameter2, payload_size, data_count)
    return HEADER.pack(command, payload_size, data_type, data_count,
                       parameter1, parameter2)


#: ``(command, payload_size, data_type, data_count, parameter1, parameter2, start, end)``:
#: a message's header fields (size and count widened) and where its payload lies.
Frame = tuple[int, int, int, int, int, int, int, int]

_unpack = HEADER.unpack_from
_unpack_tail = _EXT_TAIL.unpack_from


def frame_at(data: bytes | bytearray | memoryview, pos: int = 0,
             extended: bool = True) -> Frame | None:
    """The message whose header starts at ``data[pos]``: its header fields and
    ``data[start:end]``, its payload; None when the header is not all there. The
    payload's ``end`` may lie beyond the data (not all received, or, in a datagram,
    truncated): callers check it. Any bytes are a header: nothing else is refused here.

    This is the one place the extended-header rule is written: a 16-bit payload size of
    0xFFFF means 8 more header bytes, the 32-bit payload size and element count.
    ``extended=False`` reads 0xFFFF as a plain size, as libca's UDP input (udpiiu.cpp)
    and casw read datagrams."""
    try:       # (a short header: struct.error, cheaper than checking the length first)
        cmd, psize, dtype, count, p1, p2 = _unpack(data, pos)
        if psize == EXTENDED_MARKER and extended:
            psize, count = _unpack_tail(data, pos + 16)
            return cmd, psize, dtype, count, p1, p2, pos + 24, pos + 24 + psize
    except struct.error:
        return None
    return cmd, psize, dtype, count, p1, p2, pos + 16, pos + 16 + psize


def unpack_header(data: bytes | bytearray | memoryview, offset: int = 0
                  ) -> tuple[Header, int] | None:
    """Decode the header at ``offset``; return ``(header, header_size)`` or None if short."""
    frame = frame_at(data, offset)
    if frame is None:
        return None
    return Header(*frame[:6]), frame[6] - offset


def quoted_header(raw: bytes) -> Header:
    """The request header an ERROR quotes, from whatever bytes it holds: widened when
    the 24-byte extended form is all there; a quote cut short of its extended tail keeps
    the 16-bit size and count, and bytes missing from a short quote read as zero."""
    raw = bytes(raw[:EXTENDED_HEADER.size])
    if len(raw) < HEADER.size:
        raw = raw.ljust(HEADER.size, b"\0")
    frame = frame_at(raw, 0, len(raw) == EXTENDED_HEADER.size)
    return Header(*frame[:6])  # type: ignore[index]


def next_free_id(last: int, used: Container[int]) -> int:
    """The first id after ``last`` that ``used`` does not hold; ids (CIDs, IOIDs,
    subscription and search ids) travel in the 32-bit parameter fields and wrap."""
    candidate = (last + 1) & 0xFFFFFFFF
    while candidate in used:
        candidate = (candidate + 1) & 0xFFFFFFFF
    return candidate
