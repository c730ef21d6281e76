"""DBR data types 0..38, declared once as a table, with their codecs.

Families are ``plain, STS, TIME, GR, CTRL`` (``id = base + 7 * family``) over the seven
native types, plus PUT_ACKT, PUT_ACKS, STSACK_STRING and CLASS_NAME. Each type is a
metadata ``struct`` layout followed by its value elements. Numeric arrays go through
``array.array`` with one byte swap; strings are 40-byte NUL-terminated slots.
"""
from __future__ import annotations

import enum
import struct
import sys
from array import array

from ..hints import TYPE_CHECKING
from ._constants import (EPICS2UNIX_EPOCH, MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE,
                         MAX_STRING_SIZE)
from ._records import Record

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterable, Sequence

_SWAP = sys.byteorder == "little"

# ---------------------------------------------------------------------------
# The table.  One row per native type:
#   name, array typecode (None: 40-byte strings), element size, struct code of limits,
#   whether GR/CTRL carry a precision.
# ---------------------------------------------------------------------------


class _Native(Record):
    __slots__ = ()

    name: str
    typecode: str | None
    elem: int
    limit: str | None
    has_precision: bool


NATIVE_TYPES: tuple[_Native, ...] = (
    _Native("STRING", None, MAX_STRING_SIZE, None, False),
    _Native("SHORT", "h", 2, "h", False),
    _Native("FLOAT", "f", 4, "f", True),
    _Native("ENUM", "H", 2, None, False),
    _Native("CHAR", "B", 1, "B", False),
    _Native("LONG", "i", 4, "i", False),
    _Native("DOUBLE", "d", 8, "d", True),
)

FAMILIES = ("native", "status", "time", "graphic", "control")
_FAMILY_PREFIX = ("", "STS_", "TIME_", "GR_", "CTRL_")

#: Alignment pad before the value in STS and TIME structures (C struct layout).
_STS_PAD = {"CHAR": 1, "DOUBLE": 4}
_TIME_PAD = {"SHORT": 2, "ENUM": 2, "CHAR": 3, "DOUBLE": 4}

_LIMITS_GR = ("upper_disp_limit", "lower_disp_limit", "upper_alarm_limit",
              "upper_warning_limit", "lower_warning_limit", "lower_alarm_limit")
_LIMITS_CTRL = _LIMITS_GR + ("upper_ctrl_limit", "lower_ctrl_limit")
_ENUM_BLOCK = MAX_ENUM_STATES * MAX_ENUM_STRING_SIZE


def _metadata_layout(native: _Native, family: int) -> tuple[str, tuple[str, ...]]:
    """struct format (without byte order) and field names of a family's metadata."""
    name = native.name
    if family == 0:
        return "", ()
    if family == 1 or (family >= 3 and name == "STRING"):
        # GR_STRING and CTRL_STRING are sent as STS_STRING.
        return "hh" + "x" * _STS_PAD.get(name, 0), ("status", "severity")
    if family == 2:
        return ("hhII" + "x" * _TIME_PAD.get(name, 0),
                ("status", "severity", "secs", "nsecs"))
    if name == "ENUM":
        return f"hhh{_ENUM_BLOCK}s", ("status", "severity", "no_str", "strs")
    limits = _LIMITS_CTRL if family == 4 else _LIMITS_GR
    fmt = "hh"
    names: tuple[str, ...] = ("status", "severity")
    if native.has_precision:
        fmt += "h2x"
        names += ("precision",)
    fmt += f"8s{len(limits)}{native.limit}"
    names += ("units",) + limits
    if name == "CHAR":
        fmt += "x"
    return fmt, names


class DbrType(Record):
    """Everything about one DBR type id."""

    __slots__ = ()

    id: int
    name: str                 # "TIME_DOUBLE"; the C name is "DBR_" + name
    native: int               # base type 0..6 of the value (STRING for specials)
    family: int               # 0..4, or -1 for the special types
    meta: struct.Struct       # metadata before the first value
    meta_fields: tuple[str, ...]
    value_offset: int
    elem_size: int
    typecode: str | None      # array typecode, None for strings

    @property
    def size(self) -> int:
        """C ``sizeof`` of the structure with one element (``dbr_size``)."""
        return self.value_offset + self.elem_size


def _build_table() -> tuple[DbrType, ...]:
    rows: list[DbrType] = []
    for family in range(5):
        for base, native in enumerate(NATIVE_TYPES):
            fmt, names = _metadata_layout(native, family)
            meta = struct.Struct(">" + fmt)
            rows.append(DbrType(base + 7 * family, _FAMILY_PREFIX[family] + native.name,
                                base, family, meta, names, meta.size, native.elem,
                                native.typecode))
    specials = (
        ("PUT_ACKT", 3, "", (), 2, "H"),
        ("PUT_ACKS", 3, "", (), 2, "H"),
        ("STSACK_STRING", 0, "HHHH", ("status", "severity", "ackt", "acks"),
         MAX_STRING_SIZE, None),
        ("CLASS_NAME", 0, "", (), MAX_STRING_SIZE, None),
    )
    for offset, (name, native_base, fmt, names, elem, tc) in enumerate(specials):
        meta = struct.Struct(">" + fmt)
        rows.append(DbrType(35 + offset, name, native_base, -1, meta, names, meta.size,
                            elem, tc))
    return tuple(rows)


DBR_TYPES: tuple[DbrType, ...] = _build_table()
MAX_DBR_TYPE = len(DBR_TYPES) - 1

_ALIASES = {"SHORT": "INT"}


def _enum_members() -> list[tuple[str, int]]:
    members = []
    for row in DBR_TYPES:
        members.append((row.name, row.id))
        for canonical, alias in _ALIASES.items():
            if row.name.endswith(canonical) and row.family >= 0:
                members.append((row.name[: -len(canonical)] + alias, row.id))
    return members


def _build_channel_type() -> Any:
    # (members come from the DBR table, which mypy cannot read)
    channel_type = enum.IntEnum("ChannelType", _enum_members())  # type: ignore[misc]
    channel_type.__doc__ = "DBR type ids 0..38 (SHORT canonical, INT an alias)."
    channel_type.__module__ = __name__
    return channel_type


def _lazy(name: str) -> Any:
    """ChannelType (an IntEnum of 39 types and their aliases) and field_types, built once
    on first use: a one-shot caget needs neither, and enum creation costs start-up."""
    value = globals().get(name)
    if value is not None:
        return value
    if name == "ChannelType":
        value = _build_channel_type()
    else:
        ct = _lazy("ChannelType")
        value = {fam: {ct(b): ct(b + 7 * i) for b in range(7)}
                 for i, fam in enumerate(FAMILIES)}
    globals()[name] = value
    return value


def __getattr__(name: str) -> Any:
    if name in ("ChannelType", "field_types"):
        return _lazy(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def dbr_type(data_type: int) -> DbrType:
    """The table row of a DBR type id (IntEnum or int)."""
    if not 0 <= data_type <= MAX_DBR_TYPE:
        raise ValueError(f"invalid DBR type {data_type!r}")
    return DBR_TYPES[data_type]


def native_type(data_type: int) -> Any:
    """The native (plain) type of any DBR type, as a ChannelType."""
    return _lazy("ChannelType")(dbr_type(data_type).native)


def promote(data_type: int, family: str) -> Any:
    """The DBR type (a ChannelType) of ``family`` (native/status/time/graphic/control)
    for a type's base."""
    return _lazy("field_types")[family][native_type(data_type)]


def dbr_name(data_type: int) -> str:
    """``DBR_...`` name as the C tools print it (``DBR_invalid`` out of range)."""
    return "DBR_" + DBR_TYPES[data_type].name if 0 <= data_type <= MAX_DBR_TYPE \
        else "DBR_invalid"


def dbf_name(native: int) -> str:
    """``DBF_...`` name of a native type as the C tools print it."""
    if native == -1:
        return "TYPENOTCONN"
    return "DBF_" + NATIVE_TYPES[native].name if 0 <= native <= 6 else "DBF_invalid"


def data_size(data_type: int, count: int) -> int:
    """Bytes of a DBR structure with ``count`` elements (unpadded)."""
    row = DBR_TYPES[data_type]
    return row.value_offset + count * row.elem_size


# ---------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------


_METADATA_FIELDS = ("status", "severity", "timestamp", "units", "precision",
                    "upper_disp_limit", "lower_disp_limit", "upper_alarm_limit",
                    "upper_warning_limit", "lower_warning_limit", "lower_alarm_limit",
                    "upper_ctrl_limit", "lower_ctrl_limit", "enum_strings", "ackt", "acks")


class DBRMetadata:
    """Metadata carried by STS/TIME/GR/CTRL/STSACK types; None where a type has none.

    ``timestamp`` is ``(seconds since 1990-01-01 UTC, nanoseconds)``; ``units`` and
    ``enum_strings`` are bytes, cut at their NUL. Fields, in order: status, severity,
    timestamp, units, precision, upper/lower_disp_limit, upper_alarm_limit,
    upper_warning_limit, lower_warning_limit, lower_alarm_limit, upper/lower_ctrl_limit,
    enum_strings, ackt, acks.
    """

    # (no __slots__: a field not set reads as the class's None, so that a reply's
    # metadata is made with the few fields its DBR type carries; see ``_sts_time``)
    status: int | None = None
    severity: int | None = None
    timestamp: tuple[int, int] | None = None
    units: bytes | None = None
    precision: int | None = None
    upper_disp_limit: Any = None
    lower_disp_limit: Any = None
    upper_alarm_limit: Any = None
    upper_warning_limit: Any = None
    lower_warning_limit: Any = None
    lower_alarm_limit: Any = None
    upper_ctrl_limit: Any = None
    lower_ctrl_limit: Any = None
    enum_strings: list[bytes] | None = None
    ackt: int | None = None
    acks: int | None = None

    def __init__(self, status: int | None = None, severity: int | None = None,
                 timestamp: tuple[int, int] | None = None, units: bytes | None = None,
                 precision: int | None = None, upper_disp_limit: Any = None,
                 lower_disp_limit: Any = None, upper_alarm_limit: Any = None,
                 upper_warning_limit: Any = None, lower_warning_limit: Any = None,
                 lower_alarm_limit: Any = None, upper_ctrl_limit: Any = None,
                 lower_ctrl_limit: Any = None, enum_strings: list[bytes] | None = None,
                 ackt: int | None = None, acks: int | None = None) -> None:
        self.status = status
        self.severity = severity
        self.timestamp = timestamp
        self.units = units
        self.precision = precision
        self.upper_disp_limit = upper_disp_limit
        self.lower_disp_limit = lower_disp_limit
        self.upper_alarm_limit = upper_alarm_limit
        self.upper_warning_limit = upper_warning_limit
        self.lower_warning_limit = lower_warning_limit
        self.lower_alarm_limit = lower_alarm_limit
        self.upper_ctrl_limit = upper_ctrl_limit
        self.lower_ctrl_limit = lower_ctrl_limit
        self.enum_strings = enum_strings
        self.ackt = ackt
        self.acks = acks

    @property
    def posix_timestamp(self) -> float | None:
        """Seconds since the Unix epoch, or None without a timestamp."""
        if self.timestamp is None:
            return None
        secs, nsecs = self.timestamp
        return secs + EPICS2UNIX_EPOCH + nsecs * 1e-9

    def items(self) -> list[tuple[str, Any]]:
        """The fields that are set, in declaration order."""
        return [(name, getattr(self, name)) for name in _METADATA_FIELDS
                if getattr(self, name) is not None]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DBRMetadata):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _METADATA_FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "DBRMetadata(" + ", ".join(f"{k}={v!r}" for k, v in self.items()) + ")"


def _cstr(raw: bytes) -> bytes:
    nul = raw.find(b"\0")
    return raw if nul < 0 else raw[:nul]


def _to_bytes(value: bytes | str, size: int) -> bytes:
    """Encode a NUL-terminated fixed field (str as UTF-8), truncated to fit a NUL."""
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return raw[: size - 1]


def decode_metadata(row: DbrType, payload: bytes | memoryview) -> DBRMetadata:
    """Decode the metadata part of a DBR payload."""
    return _META_DECODERS[row.id](row, payload)


def _decode_plain(row: DbrType, payload: bytes | memoryview) -> DBRMetadata:
    return DBRMetadata()


_new = object.__new__


def sts_time(status: int, severity: int, timestamp: tuple[int, int] | None = None
             ) -> DBRMetadata:
    """``DBRMetadata(status, severity, timestamp)``, made with only those fields set
    (the others read as the class's None): the metadata of a STS or TIME reply."""
    md = _new(DBRMetadata)
    md.status = status
    md.severity = severity
    if timestamp is not None:
        md.timestamp = timestamp
    return md


def _decode_sts(row: DbrType, payload: bytes | memoryview) -> DBRMetadata:
    status, severity = row.meta.unpack_from(payload, 0)
    return sts_time(status, severity)


def _decode_time(row: DbrType, payload: bytes | memoryview) -> DBRMetadata:
    status, severity, secs, nsecs = row.meta.unpack_from(payload, 0)
    return sts_time(status, severity, (secs, nsecs))


def _decode_general(row: DbrType, payload: bytes | memoryview) -> DBRMetadata:
    values = dict(zip(row.meta_fields, row.meta.unpack_from(payload, 0)))
    md = DBRMetadata(status=values["status"], severity=values["severity"])
    if "secs" in values:
        md.timestamp = (values["secs"], values["nsecs"])
    if "units" in values:
        md.units = _cstr(values["units"])
        for name in _LIMITS_CTRL:
            if name in values:
                setattr(md, name, values[name])
        if "precision" in values:
            md.precision = values["precision"]
    if "strs" in values:
        count = max(0, min(values["no_str"], MAX_ENUM_STATES))
        block = values["strs"]
        md.enum_strings = [_cstr(block[i * MAX_ENUM_STRING_SIZE:(i + 1) * MAX_ENUM_STRING_SIZE])
                           for i in range(count)]
    if "ackt" in values:
        md.ackt = values["ackt"]
        md.acks = values["acks"]
    return md


_META_DECODERS = tuple(
    _decode_plain if not row.meta_fields else
    _decode_sts if row.meta_fields == ("status", "severity") else
    _decode_time if row.meta_fields == ("status", "severity", "secs", "nsecs") else
    _decode_general for row in DBR_TYPES)


def _scalar_decoder(row: DbrType) -> Any:
    """One struct call for metadata + the single value of a numeric plain/STS/TIME
    type (the shape of nearly every monitor update), or None."""
    if row.typecode is None or row.family not in (0, 1, 2):
        return None
    whole = struct.Struct(row.meta.format + row.typecode)
    unpack, tc = whole.unpack_from, row.typecode
    if row.family == 0:
        def decode(payload: Any) -> tuple[DBRMetadata | None, array]:
            return None, array(tc, unpack(payload))
    elif row.family == 1:
        def decode(payload: Any) -> tuple[DBRMetadata | None, array]:
            status, severity, value = unpack(payload)
            md = _new(DBRMetadata)          # (sts_time, inline)
            md.status = status
            md.severity = severity
            return md, array(tc, (value,))
    else:
        def decode(payload: Any) -> tuple[DBRMetadata | None, array]:
            status, severity, secs, nsecs, value = unpack(payload)
            md = _new(DBRMetadata)
            md.status = status
            md.severity = severity
            md.timestamp = (secs, nsecs)
            return md, array(tc, (value,))
    return decode


#: Per DBR type: a fast decoder for count 1, or None: ``(metadata, values)`` (metadata
#: None for the plain types).
SCALAR_DECODERS = tuple(_scalar_decoder(row) for row in DBR_TYPES)


#: Per DBR type: ``(unpack_from, offset)``, so that ``unpack_from(payload, offset)[0]``
#: is the first value of a numeric DBR payload (one struct call: what a many-PV get
#: prints), or None for the string types.
FIRST_VALUE = tuple(None if row.typecode is None else
                    (struct.Struct(">" + row.typecode).unpack_from, row.value_offset)
                    for row in DBR_TYPES)


def encode_metadata(row: DbrType, metadata: DBRMetadata | None) -> bytes:
    """Encode the metadata part of a DBR structure (zero where a field is None)."""
    if not row.meta_fields:
        return b""
    md = metadata if metadata is not None else DBRMetadata()
    out: list[Any] = []
    for name in row.meta_fields:
        if name == "secs":
            out.append((md.timestamp or (0, 0))[0])
        elif name == "nsecs":
            out.append((md.timestamp or (0, 0))[1])
        elif name == "units":
            out.append(_to_bytes(md.units or b"", 8))
        elif name == "no_str":
            out.append(len(md.enum_strings or ()))
        elif name == "strs":
            strs = list(md.enum_strings or ())[:MAX_ENUM_STATES]
            out.append(b"".join(_to_bytes(s, MAX_ENUM_STRING_SIZE).ljust(
                MAX_ENUM_STRING_SIZE, b"\0") for s in strs))
        else:
            value = getattr(md, name)
            out.append(0 if value is None else value)
    return row.meta.pack(*out)


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


def decode_values(row: DbrType, payload: bytes | memoryview, count: int) -> array | list[bytes]:
    """Decode ``count`` elements following the metadata of ``payload``.

    Numeric types give an ``array.array`` (one copy, one byte swap); string types a
    list of bytes cut at each element's first NUL. Raises ValueError if short.
    """
    start = row.value_offset
    end = start + count * row.elem_size
    if end > len(payload):
        raise ValueError(f"DBR_{row.name} x{count} needs {end} bytes, got {len(payload)}")
    if row.typecode is None:
        mv = memoryview(payload)
        return [_cstr(bytes(mv[i:i + MAX_STRING_SIZE]))
                for i in range(start, end, MAX_STRING_SIZE)]
    if end - start > 4096:
        values = array(row.typecode)
        values.frombytes(memoryview(payload)[start:end])
    else:
        values = array(row.typecode, payload[start:end])
    if _SWAP and row.elem_size > 1:
        values.byteswap()
    return values


def encode_values(row: DbrType, values: Any) -> tuple[bytes, int]:
    """Encode values for ``row``; return ``(bytes, element count)``.

    Accepts a scalar, any sequence, an ``array.array``, or bytes for CHAR types.
    Strings (``str`` as UTF-8) are truncated to 39 bytes plus NUL.
    """
    if row.typecode is None:
        if isinstance(values, (str, bytes, bytearray)):
            values = [values]
        items = [_to_bytes(v, MAX_STRING_SIZE).ljust(MAX_STRING_SIZE, b"\0") for v in values]
        return b"".join(items), len(items)
    if row.typecode == "B" and isinstance(values, (bytes, bytearray, memoryview)):
        raw = bytes(values)
        return raw, len(raw)
    if isinstance(values, array) and values.typecode == row.typecode:
        arr = array(row.typecode, values)
    else:
        if isinstance(values, (int, float)):
            values = (values,)
        elif isinstance(values, (str, bytes)):
            raise TypeError(f"cannot encode {values!r} as DBR_{row.name}")
        try:
            arr = array(row.typecode, values)
        except TypeError:
            # floats into an integer array, or numpy-like scalars
            conv = float if row.typecode in "fd" else int
            arr = array(row.typecode, [conv(v) for v in values])
    if _SWAP and row.elem_size > 1:
        arr.byteswap()
    return arr.tobytes(), len(arr)


def encode_dbr(data_type: int, values: Any, metadata: DBRMetadata | None = None
               ) -> tuple[bytes, int]:
    """Encode a whole DBR structure (unpadded); return ``(bytes, count)``."""
    row = dbr_type(data_type)
    raw, count = encode_values(row, values)
    return encode_metadata(row, metadata) + raw, count


def decode_dbr(data_type: int, payload: bytes | memoryview, count: int
               ) -> tuple[DBRMetadata, array | list[bytes]]:
    """Decode a whole DBR structure of ``count`` elements."""
    row = dbr_type(data_type)
    if len(payload) < row.value_offset:
        raise ValueError(f"DBR_{row.name} metadata needs {row.value_offset} bytes, "
                         f"got {len(payload)}")
    return decode_metadata(row, payload), decode_values(row, payload, count)


def as_text(values: Iterable[bytes]) -> list[str]:
    """Decode string elements as UTF-8 (invalid bytes become backslash escapes)."""
    return [v.decode("utf-8", "backslashreplace") for v in values]


def is_string_type(data_type: int) -> bool:
    """True for types whose elements are 40-byte strings."""
    return DBR_TYPES[data_type].typecode is None


def sequence_of(values: Sequence[Any] | Any) -> Sequence[Any]:
    """Wrap a scalar as a one-element sequence."""
    if isinstance(values, (str, bytes, bytearray, int, float)):
        return [values]
    return values
