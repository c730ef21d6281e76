"""Turning decoded CA values into the text the EPICS C tools print.

All functions return ``str``. Raw bytes from the wire that the C tools print
unescaped (enum state strings, units, class names) are decoded with
``utf-8``/``surrogateescape``; encode output with :data:`ENCODING`/:data:`ERRORS`
to get the exact bytes back.
"""

from __future__ import annotations

import math
import re
import struct
import time
from array import array
from collections.abc import Callable, Iterator, Sequence

from ..hints import TYPE_CHECKING
from ..protocol import EPICS2UNIX_EPOCH, MAX_ENUM_STATES, dbr_type, decode_dbr
from ._names import (
    DBR_CHAR, DBR_DOUBLE, DBR_ENUM, DBR_FLOAT, DBR_LONG, DBR_SHORT, DBR_STRING,
    dbr_base_type, is_ctrl, is_gr,
)
from ._options import FormatOptions

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

__all__ = [
    "ENCODING", "ERRORS", "EPICS_EPOCH_OFFSET", "MAX_ENUM_STATES",
    "escape_bytes", "raw_text", "c_float", "format_long", "round_to_long",
    "iter_values", "iter_payload_values", "join_values", "char_string", "format_timestamp",
    "time_diff_seconds", "epics_now", "TimestampFormatter",
]

ENCODING = "utf-8"
ERRORS = "surrogateescape"
#: Seconds between the Unix epoch and the EPICS epoch (1990-01-01 UTC).
EPICS_EPOCH_OFFSET = EPICS2UNIX_EPOCH
#: Values formatted by one ``%`` operation: few enough that a chunk's float objects
#: (~200 KB) and text (< 128 KB) live in memory the allocators keep and reuse (with
#: 64 Ki values each chunk emptied pymalloc arenas and had its text mapped afresh:
#: ~8,600 more page faults for a million doubles).
CHUNK = 8192

# --------------------------------------------------------------------------- strings

_SPECIAL = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v",
            0x5C: "\\\\", 0x27: "\\'", 0x22: '\\"', 0: "\\0"}
#: Character -> its escape, filled as characters are met (a table of all 256 costs
#: start-up time that few runs need).
_ESCAPES: dict[str, str] = {}
_NEEDS_ESCAPE = r"[^\x20\x21\x23-\x26\x28-\x5b\x5d-\x7e]"   # compiled on first use


def _escape_sub(m: re.Match) -> str:
    char = m.group()
    text = _ESCAPES.get(char)
    if text is None:
        code = ord(char)
        text = _ESCAPES[char] = _SPECIAL.get(code, f"\\x{code:02x}")
    return text


def escape_bytes(raw: bytes | bytearray) -> str:
    """``epicsStrnEscapedFromRaw``: C escapes for \\a\\b\\f\\n\\r\\t\\v\\\\ \\' \\" \\0,
    ``\\xhh`` (lower-case hex) for other bytes outside printable ASCII."""
    s = raw.decode("latin-1")
    if s.isascii() and s.isprintable() and '"' not in s and "'" not in s \
            and "\\" not in s:
        return s
    return re.sub(_NEEDS_ESCAPE, _escape_sub, s)


def raw_text(raw: bytes | str | None) -> str:
    """Bytes printed unescaped by C (``%s``): cut at NUL, decoded losslessly."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw.split("\0", 1)[0]
    return bytes(raw).split(b"\0", 1)[0].decode(ENCODING, ERRORS)


def char_string(data: Sequence[int], limit: int | None = None) -> str:
    """``-S`` text of a CHAR array: bytes up to the first NUL (and ``limit``), escaped."""
    b = data.tobytes() if isinstance(data, array) else bytes(x & 0xFF for x in data)
    if limit is not None:
        b = b[:limit]
    return escape_bytes(b.split(b"\0", 1)[0])


# --------------------------------------------------------------------------- numbers

def c_float(fmt: str, value: float) -> str:
    """``sprintf(fmt, value)`` for a double, with glibc's ``-nan`` for negative NaN."""
    if value != value and math.copysign(1.0, value) < 0:
        return (fmt % math.nan).replace("nan", "-nan", 1)
    return fmt % value


def format_long(value: int, base: str | None) -> str:
    """``sprint_long``: decimal, ``0x%X``, ``0o%o`` or binary without prefix, as a 32-bit int."""
    if base is None:
        return "%d" % value
    u = value & 0xFFFFFFFF
    if base == "x":
        return "0x%X" % u
    if base == "o":
        return "0o%o" % u
    return format(u, "b")


def round_to_long(value: float) -> int:
    """Round half away from zero and convert to a C ``int`` (x86: out of range -> INT_MIN)."""
    x = value + 0.5 if value > 0.0 else value - 0.5
    if x != x or not -2147483649.0 < x < 2147483648.0:
        return -2147483648
    return int(x)


def _signed_chars(data: Sequence[int]) -> Sequence[int]:
    if isinstance(data, array):
        if data.typecode == "b":
            return data
        if data.typecode == "B":
            return array("b", data.tobytes())
    return [x - 256 if x > 127 else x for x in data]


def _enum_text(idx: int, strs: Sequence[bytes] | None) -> str:
    if idx >= MAX_ENUM_STATES:
        return "Illegal Value (%d)" % idx
    if strs is None or idx >= len(strs):
        return "Enum Index Overflow (%d)" % idx
    return raw_text(strs[idx])


def _pattern(fmt: str, sep: str, n: int, lead: str) -> str:
    """``lead`` then ``n`` times ``fmt`` joined by ``sep``, as one ``%`` format."""
    key = (fmt, sep, n, lead)
    pattern = _PATTERNS.get(key)
    if pattern is None:
        fmt_sep = fmt + sep.replace("%", "%%")
        pattern = lead.replace("%", "%%") + fmt_sep * (n - 1) + fmt
        if n == CHUNK:          # (the one shape every chunk but the last has)
            if len(_PATTERNS) > 16:
                _PATTERNS.clear()
            _PATTERNS[key] = pattern
    return pattern


_PATTERNS: dict[tuple[str, str, int, str], str] = {}


def _fast_join(fmt: str, sep: str, chunk: Sequence, lead: str = "") -> str:
    n = len(chunk)
    if n == 0:
        return lead
    return _pattern(fmt, sep, n, lead) % tuple(chunk)


def _chunk_unpacker(data: Sequence) -> Callable[..., tuple] | None:
    """``unpack_from(data, offset)``: CHUNK elements of ``data`` as a tuple, read in
    place (no slice, no second copy), if ``data`` is an array of numbers (not CHAR:
    _signed_chars takes those as arrays); else None."""
    typecode = data.typecode if isinstance(data, array) else "B"
    if typecode not in "hHiIlLqQfd":
        return None
    unpack = _UNPACKERS.get(typecode)
    if unpack is None:
        unpack = struct.Struct("@%d%s" % (CHUNK, typecode)).unpack_from
        _UNPACKERS[typecode] = unpack
    return unpack


_UNPACKERS: dict[str, Callable[..., tuple]] = {}


def iter_values(data_type: int, data: Sequence, opts: FormatOptions,
                metadata: object = None, *, start: int = 0,
                stop: int | None = None) -> Iterator[str]:
    """Yield pieces whose concatenation is the C tool's values joined by the separator.

    This is ``val2str`` for every element in ``data[start:stop]``. Large arrays are
    handled in chunks of CHUNK values, each a single ``%`` operation (a piece after
    the first begins with its separator).
    """
    n = len(data) if stop is None else min(stop, len(data))
    unpack = _chunk_unpacker(data) if n - start >= CHUNK else None
    chunks: Iterator[Sequence]
    if unpack is None:
        chunks = (data[lo:min(lo + CHUNK, n)] for lo in range(start, n, CHUNK))
    else:
        typecode, size = data.typecode, data.itemsize  # type: ignore[attr-defined]
        chunks = _unpacked(unpack, data, size, 0, start, n, "@" + typecode)
    yield from _pieces(data_type, chunks, opts, metadata)


def iter_payload_values(data_type: int, payload: bytes | memoryview, count: int,
                        opts: FormatOptions, metadata: object = None, *,
                        stop: int | None = None) -> Iterator[str]:
    """:func:`iter_values` of the ``count`` elements of a DBR ``payload`` as received:
    numbers are read a chunk at a time straight from it, in network byte order (no
    array is made of them); strings and CHAR arrays are decoded first."""
    row = dbr_type(data_type)
    typecode = row.typecode
    n = count if stop is None else min(stop, count)
    if typecode is None or typecode == "B" or \
            row.value_offset + count * row.elem_size > len(payload):
        _, data = decode_dbr(data_type, payload, count)   # (short: raises as it does)
        yield from iter_values(data_type, data, opts, metadata, stop=stop)
        return
    unpack = _WIRE_UNPACKERS.get(typecode)
    if unpack is None:
        unpack = struct.Struct(">%d%s" % (CHUNK, typecode)).unpack_from
        _WIRE_UNPACKERS[typecode] = unpack
    yield from _pieces(data_type, _unpacked(unpack, payload, row.elem_size,
                                            row.value_offset, 0, n, ">" + typecode),
                       opts, metadata)


_WIRE_UNPACKERS: dict[str, Callable[..., tuple]] = {}


def _unpacked(unpack: Callable[..., tuple], buffer: Any, size: int, offset: int,
              start: int, n: int, code: str) -> Iterator[tuple]:
    """Elements ``start:n`` of ``buffer`` (``size`` bytes each from ``offset``) as tuples
    of CHUNK (``unpack``) and a shorter last one (``code``: byte order and typecode)."""
    for lo in range(start, n, CHUNK):
        if lo + CHUNK <= n:
            yield unpack(buffer, offset + lo * size)
        else:
            yield struct.unpack_from("%s%d%s" % (code[0], n - lo, code[1]), buffer,
                                     offset + lo * size)


def _pieces(data_type: int, chunks: Iterator[Sequence], opts: FormatOptions,
            metadata: object) -> Iterator[str]:
    base = dbr_base_type(data_type)
    lead = ""
    for chunk in chunks:
        yield _format_chunk(base, data_type, chunk, opts, metadata, lead)
        lead = opts.separator


def _format_chunk(base: int, data_type: int, chunk: Sequence, opts: FormatOptions,
                  metadata: object, lead: str = "") -> str:
    sep = opts.separator
    if base in (DBR_DOUBLE, DBR_FLOAT):
        if opts.float_base is not None:
            fb = opts.float_base
            return lead + sep.join([format_long(round_to_long(v), fb) for v in chunk])
        fmt = opts.float_format
        s = _fast_join(fmt, sep, chunk, lead)
        # redo with glibc's sign-aware NaN spelling ("n" first: one memchr, where a
        # search for "nan" reads every character; only nan and inf have an n)
        if "n" in s and "nan" in s:
            s = lead + sep.join([c_float(fmt, v) for v in chunk])
        return s
    if base in (DBR_LONG, DBR_SHORT):
        if opts.int_base is None:
            return _fast_join("%d", sep, chunk, lead)
        ib = opts.int_base
        return lead + sep.join([format_long(v, ib) for v in chunk])
    if base == DBR_CHAR:
        return _fast_join("%d", sep, _signed_chars(chunk), lead)
    if base == DBR_STRING:
        return lead + sep.join([escape_bytes(v) if isinstance(v, (bytes, bytearray))
                                else escape_bytes(str(v).encode(ENCODING, ERRORS))
                                for v in chunk])
    if base == DBR_ENUM:
        if (is_gr(data_type) or is_ctrl(data_type)) and not opts.enum_as_number:
            strs = getattr(metadata, "enum_strings", None)
            return lead + sep.join([_enum_text(v, strs) for v in chunk])
        return _fast_join("%d", sep, chunk, lead)
    raise ValueError(f"cannot format DBR type {data_type}")


def join_values(data_type: int, data: Sequence, opts: FormatOptions,
                metadata: object = None) -> str:
    """All values of ``data`` as one string, joined by the separator."""
    return "".join(iter_values(data_type, data, opts, metadata))


# --------------------------------------------------------------------------- time

def epics_now() -> tuple[int, int]:
    """Current time as an EPICS ``(seconds since 1990, nanoseconds)`` pair."""
    ns = time.time_ns()
    s, n = divmod(ns, 1_000_000_000)
    return s - EPICS_EPOCH_OFFSET, n


class TimestampFormatter:
    """``epicsTimeToStrftime`` with ``%Y-%m-%d %H:%M:%S.%06f`` in local time.

    Microseconds are rounded half up but never carried into the seconds (clamped at
    999999); ``(0, 0)`` prints ``<undefined>``; nanoseconds >= 1e9 print ``OVF``.
    The seconds part is cached, so repeated stamps cost little.
    """

    __slots__ = ("_sec", "_prefix")

    def __init__(self) -> None:
        self._sec: int | None = None
        self._prefix = ""

    def __call__(self, stamp: tuple[int, int] | None) -> str:
        if stamp is None:
            stamp = (0, 0)
        sec, nsec = stamp
        if sec == 0 and nsec == 0:
            return "<undefined>"
        if sec != self._sec:
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S.", time.localtime(
                (sec & 0xFFFFFFFF) + EPICS_EPOCH_OFFSET))
            self._sec = sec
        if nsec >= 1_000_000_000:
            return self._prefix + "OVF"
        frac = nsec + 500
        if frac >= 1_000_000_000:
            frac = 999_999_999
        return "%s%06d" % (self._prefix, frac // 1000)


_default_ts = TimestampFormatter()


def format_timestamp(stamp: tuple[int, int] | None) -> str:
    """Format one EPICS timestamp as the C tools do (see :class:`TimestampFormatter`)."""
    return _default_ts(stamp)


def time_diff_seconds(left: tuple[int, int], right: tuple[int, int]) -> float:
    """``epicsTimeDiffInSeconds``: seconds difference wrapped as int32, in double."""
    ds = ((left[0] - right[0] + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    ns = ds * 1_000_000_000 + (left[1] - right[1])
    return float(ns) * 1e-9
