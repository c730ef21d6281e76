"""Value conversions of the server, on arrays and bytes, a chunk at a time.

A PV stores its values in its native type: an ``array.array`` for numbers (FLOAT kept
as double, as it was written), a tuple of bytes for strings. Reads convert a slice of
that storage to a DBR base type and encode it to big-endian wire bytes
(:func:`iter_out`, in chunks of about CHUNK_BYTES); writes convert what a client sent
(an array, or a sequence of 40-byte string slots) to native storage (:func:`convert_in`,
one chunk per call, so that the server's loop runs between chunks). The conversions
are softIoc's (see tests/server/test_write_parity.py); numbers of the same type are
copied as arrays, others go element by element within one chunk only.
"""
from __future__ import annotations

import math
import re
import struct
import sys
from array import array
from typing import Any, Iterator, Sequence

from ..protocol import MAX_STRING_SIZE, ChannelType

STRING, SHORT, FLOAT, ENUM, CHAR, LONG, DOUBLE = range(7)
_FLOATS = (FLOAT, DOUBLE)
#: bits and signedness of the integer types
INT_RANGES = {SHORT: (16, True), ENUM: (16, False), CHAR: (8, False), LONG: (32, True)}
#: array typecode of each native type as stored (None: a tuple of bytes)
STORAGE = (None, "h", "d", "H", "B", "i", "d")
#: array typecode of each DBR base type on the wire
WIRE = (None, "h", "f", "H", "B", "i", "d")
ELEMENT_SIZE = (MAX_STRING_SIZE, 2, 4, 2, 1, 4, 8)
#: bytes of wire data converted at a time (reads) and elements per chunk (writes)
CHUNK_BYTES = 128 << 10
_SWAP = sys.byteorder == "little"
assert array("i").itemsize == 4 and array("h").itemsize == 2


def chunk_elements(base: int) -> int:
    """Elements of DBR base type ``base`` in one chunk."""
    return max(1, CHUNK_BYTES // ELEMENT_SIZE[base])


# --------------------------------------------------------------------------- scalars

def wrap_int(value: Any, bits: int, signed: bool) -> int:
    """C conversion to an integer type as an x86-64 IOC does it: a float goes through a
    32-bit int (truncated; NaN and out-of-range give INT_MIN), then the value wraps
    modulo 2**bits (softIoc: 1e10 written as DBR_DOUBLE to a longout reads -2147483648)."""
    if isinstance(value, float):
        if value != value or not -2147483649.0 < value < 2147483648.0:
            value = -(1 << 31)
        else:
            value = int(value)
    value = int(value) & ((1 << bits) - 1)
    if signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def as_float32(value: float) -> float:
    """A double cast to C float (out of range becomes +-inf, as on x86-64)."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


_INT_PREFIX = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_FLOAT_PREFIX = re.compile(rb"""[ \t\n\v\f\r]*([+-]?)(?:
      (0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?)
    | ((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)
    | (inf(?:inity)?)
    | (nan(?:\([0-9a-z_]*\))?))""", re.X | re.I)
FLT_MAX = 3.4028234663852886e38
FLT_MIN = 1.1754943508222875e-38


def strtod(raw: bytes) -> float:
    """A client's string as the IOC converts it to a double (C ``strtod`` on its longest
    numeric prefix: hex, inf and nan accepted, the rest ignored); ValueError when there
    is no number or it over- or underflows (ERANGE)."""
    match = _FLOAT_PREFIX.match(raw)
    if match is None:
        raise ValueError(f"{raw!r} is not a number")
    sign, hexa, decimal, inf, _nan = match.groups()
    if inf:
        return -math.inf if sign == b"-" else math.inf
    if not (hexa or decimal):
        return math.nan
    text = (hexa or decimal).decode("ascii")
    value = float.fromhex(text) if hexa else float(text)
    digits = re.split("[pP]", text[2:])[0] if hexa else re.split("[eE]", text)[0]
    if math.isinf(value) or (value < sys.float_info.min and digits.strip("0.") != ""):
        raise ValueError(f"{raw!r} is out of range")
    return -value if sign == b"-" else value


def strtol(raw: bytes, low: int, high: int) -> int:
    """A client's string as the IOC converts it to an integer (C ``strtol`` base 10 on
    its longest prefix, the rest ignored: '1e3' is 1, '0x10' is 0); ValueError when
    there is no number or it is outside ``low..high``."""
    match = _INT_PREFIX.match(raw)
    if match is None:
        raise ValueError(f"{raw!r} is not an integer")
    value = int(match.group(1))
    if not low <= value <= high:
        raise ValueError(f"{raw!r} is out of range")
    return value


def format_number(value: float | int, native: ChannelType | int, precision: int) -> str:
    """A number as RSRV converts it to DBR_STRING (floats use the PV's precision;
    exponent form from 1e7 up)."""
    if native not in _FLOATS:
        return str(int(value))
    prec = max(0, min(int(precision), 17))
    if value != value or value in (math.inf, -math.inf) or abs(value) >= 1e7:
        return f"{value:.{prec}e}"
    return f"{value:.{prec}f}"


def zero(native: int) -> Any:
    return b"" if native == STRING else (0.0 if native in _FLOATS else 0)


def storage(native: int, items: Sequence[Any]) -> Any:
    """Validated native elements as stored: an array, or a tuple of bytes."""
    code = STORAGE[native]
    if code is None:
        return tuple(items)
    if isinstance(items, array) and items.typecode == code:
        return items
    return array(code, items)


# --------------------------------------------------------------------------- reads

def convert_out(pv: Any, part: Sequence[Any], target: int) -> Any:
    """Native elements ``part`` of ``pv`` as DBR base type ``target``: an array (numbers)
    or a list of bytes (strings), element by element as RSRV's database access."""
    native = pv.native_type
    code = WIRE[target]
    if code is not None and STORAGE[native] == code:
        return array(code, part)                       # the same type: a copy
    if code in ("f", "d") and native != STRING:
        return array(code, part)                       # C casts to float/double
    if target == STRING:
        if native == STRING:
            return list(part)
        if native == ENUM:
            return [_enum_text(pv, v) for v in part]
        return [format_number(v, native, pv.precision).encode() for v in part]
    if native == STRING:
        numbers: Sequence[Any] = [_lenient(v) for v in part]
    else:
        numbers = part
    assert code is not None         # (only STRING has no typecode)
    if code in ("f", "d"):
        return array(code, [float(v) for v in numbers])
    bits, signed = INT_RANGES[target]
    return array(code, [wrap_int(v, bits, signed) for v in numbers])


def _lenient(raw: bytes) -> float:
    try:  # RSRV reads an unparsable string as 0 without failing the get
        return strtod(raw)
    except ValueError:
        return 0


def _enum_text(pv: Any, value: int) -> bytes:
    strings = pv.enum_strings
    if value < len(strings):
        return strings[value].encode()
    if not strings:
        return str(value).encode()
    # as an mbbo: undefined states read empty, from 16 on "Illegal Value"
    return b"" if value < 16 else b"Illegal Value"


def encode_out(pv: Any, part: Sequence[Any], target: int) -> bytes:
    """:func:`convert_out` as wire bytes (big-endian numbers, 40-byte string slots)."""
    native = pv.native_type
    if target == STRING and native != STRING and native != ENUM:
        if native in _FLOATS:
            prec = max(0, min(int(pv.precision), 17))
            fixed, expo = f"%-40.{prec}f", f"%-40.{prec}e"
            text = "".join([fixed % v if -1e7 < v < 1e7 else expo % v for v in part])
        else:
            text = "".join(["%-40d" % v for v in part])
        return text.encode("ascii").replace(b" ", b"\0")
    values = convert_out(pv, part, target)
    if WIRE[target] is None:
        return b"".join(v[:MAX_STRING_SIZE - 1].ljust(MAX_STRING_SIZE, b"\0")
                        for v in values)
    if _SWAP and values.itemsize > 1:
        values.byteswap()
    return values.tobytes()


def iter_out(pv: Any, values: Sequence[Any], target: int, count: int) -> Iterator[bytes]:
    """Wire bytes of ``count`` elements of ``values`` as ``target``, zero-filled past
    the end, in chunks."""
    step = chunk_elements(target)
    have = min(count, len(values))
    for start in range(0, have, step):
        yield encode_out(pv, values[start:min(have, start + step)], target)
    left = (count - have) * ELEMENT_SIZE[target]
    while left > 0:
        size = min(left, CHUNK_BYTES)
        yield bytes(size)
        left -= size


# --------------------------------------------------------------------------- writes

def convert_in(pv: Any, part: Sequence[Any], source: int) -> tuple[Any, Exception | None]:
    """Elements a client wrote (``source`` base type) as native storage of ``pv``, as
    softIoc's records convert them: ``(converted, None)``, or, when an element cannot
    be converted, ``(the elements before it, the error)``."""
    native = pv.native_type
    if source != STRING:
        if native == STRING:
            if source in _FLOATS:
                return tuple(format_number(v, source, pv.precision).encode()
                             for v in part), None
            return tuple(str(int(v)).encode() for v in part), None
        code = STORAGE[native]
        assert code is not None     # (only STRING has no typecode)
        if native == FLOAT:
            return array("d", array("f", part)), None           # through C float
        if native == DOUBLE or (isinstance(part, array) and part.typecode == code):
            return array(code, part), None
        bits, signed = INT_RANGES[native]
        return array(code, [wrap_int(v, bits, signed) for v in part]), None
    out: list[Any] = []
    try:
        for raw in part:
            out.append(_string_in(pv, raw))
    except (ValueError, OverflowError) as exc:
        return storage(native, out), exc
    return storage(native, out), None


def _string_in(pv: Any, raw: Any) -> Any:
    """One string element written to ``pv`` -> native (ValueError where softIoc fails)."""
    native = pv.native_type
    raw = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
    raw = raw.split(b"\0", 1)[0]
    if native == STRING:
        return raw[:MAX_STRING_SIZE - 1]      # raw bytes, UTF-8 or not
    if native == ENUM:
        text = raw.decode("utf-8", "replace")
        if text in pv.enum_strings:
            return pv.enum_strings.index(text)
        index = strtol(raw, 0, 0xFFFF)
        if pv.enum_strings and index >= len(pv.enum_strings):
            raise ValueError("enum index out of range")
        return index
    if not raw and pv.count == 1 and native in (LONG, DOUBLE):
        return zero(native)   # '' writes 0 to a longout/ao; a waveform element refuses it
    if native in _FLOATS:
        number = strtod(raw)
        if native == FLOAT:
            if math.isfinite(number) and number and not FLT_MIN <= abs(number) <= FLT_MAX:
                raise ValueError(f"{raw!r} is out of range")
            return as_float32(number)
        return number
    if native == CHAR:                                 # like a waveform of FTVL CHAR
        return strtol(raw, -128, 127) & 0xFF
    bits, signed = INT_RANGES[native]
    half = 1 << (bits - 1)
    return strtol(raw, -half, half - 1) if signed else strtol(raw, 0, (1 << bits) - 1)


class StringSlots:
    """A DBR_STRING payload's elements (40-byte slots of ``raw``) as a sequence of
    bytes cut at their NUL, made one slice at a time (no list of the whole)."""

    def __init__(self, raw: bytes | bytearray, count: int) -> None:
        self.raw = raw
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.count)
            return [self[i] for i in range(start, stop, step)]
        if not 0 <= index < self.count:
            raise IndexError(index)
        slot = bytes(self.raw[index * MAX_STRING_SIZE:(index + 1) * MAX_STRING_SIZE])
        return slot.split(b"\0", 1)[0]
