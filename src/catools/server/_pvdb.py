"""The server's data model: PVs holding a value plus metadata, with DBR conversions.

A :class:`PV` stores its value in its native type; :meth:`PV.read` converts it to any
DBR type (as RSRV's database access does: numbers to strings with the PV's precision,
enum indexes to their state strings ...) and :meth:`PV.put` converts what a client
wrote back. Every change notifies the PV's listeners with a DBE mask, which is how the
server posts subscription updates. No sockets here.
"""
from __future__ import annotations

import math
import re
import struct
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from ..protocol import (DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, EPICS2UNIX_EPOCH,
                        MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE, AlarmStatus, CAStatus, ChannelType, DBRMetadata, dbr_type)

#: Names accepted for ``PV(type=...)`` and the native DBR type of each.
TYPE_NAMES: dict[str, ChannelType] = {
    "string": ChannelType.STRING, "short": ChannelType.SHORT, "int": ChannelType.SHORT,
    "float": ChannelType.FLOAT, "enum": ChannelType.ENUM, "char": ChannelType.CHAR,
    "long": ChannelType.LONG, "double": ChannelType.DOUBLE,
}
_INT_RANGES = {ChannelType.SHORT: (16, True), ChannelType.ENUM: (16, False),
               ChannelType.CHAR: (8, False), ChannelType.LONG: (32, True)}
_FLOATS = (ChannelType.FLOAT, ChannelType.DOUBLE)
_NAN = float("nan")
SEVERITY_NAMES = {"NO_ALARM": 0, "MINOR": 1, "MAJOR": 2, "INVALID": 3}

Listener = Callable[["PV", int], None]


class PutError(Exception):
    """A client's write cannot be applied; ``status`` is the ECA code to answer."""

    def __init__(self, message: str, status: int = CAStatus.ECA_PUTFAIL) -> None:
        super().__init__(message)
        self.status = int(status)


def epics_timestamp(posix: float | None = None) -> tuple[int, int]:
    """``(seconds since 1990-01-01 UTC, nanoseconds)`` of a POSIX time (default: now)."""
    ns = time.time_ns() if posix is None else int(round(posix * 1e9))
    secs, nsecs = divmod(ns, 1_000_000_000)
    return max(0, secs - EPICS2UNIX_EPOCH), nsecs


def _wrap_int(value: Any, bits: int, signed: bool) -> int:
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


def _as_float32(value: float) -> float:
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
_FLT_MAX = 3.4028234663852886e38
_FLT_MIN = 1.1754943508222875e-38


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


def format_number(value: float | int, native: ChannelType, precision: int) -> str:
    """A number as RSRV converts it to DBR_STRING (floats use the PV's precision;
    exponent form from 1e7 up)."""
    if native not in _FLOATS:
        return str(int(value))
    prec = max(0, min(int(precision), 17))
    if value != value or value in (math.inf, -math.inf) or abs(value) >= 1e7:
        return f"{value:.{prec}e}"
    return f"{value:.{prec}f}"


@dataclass
class Snapshot:
    """One consistent state of a PV: values (native), alarm and timestamp."""

    values: tuple[Any, ...]
    status: int
    severity: int
    timestamp: tuple[int, int]


class PV:
    """A process variable served by :class:`catools.server.Server`.

    ``type`` is one of double, float, long, short, char, enum, string; ``count`` is the
    largest number of elements (the current number follows the last write). Limits are
    ``(low, high)`` pairs; the alarm and warning limits raise the alarm with
    ``alarm_severity``/``warning_severity`` (names or 0..3) like an ai record's
    HIHI/LOLO and HIGH/LOW. ``clamp=True`` clamps writes to the control limits (like an
    ao's DRVH/DRVL). ``read_only`` PVs reject client writes (``PV.write`` still works).
    """

    def __init__(self, name: str, type: str | ChannelType = "double", value: Any = None,
                 count: int | None = None, *, units: str = "", precision: int = 0,
                 display_limits: tuple[float, float] | None = None,
                 control_limits: tuple[float, float] | None = None,
                 alarm_limits: tuple[float, float] | None = None,
                 warning_limits: tuple[float, float] | None = None,
                 alarm_severity: int | str = 2, warning_severity: int | str = 1,
                 enum_strings: Sequence[str] = (), read_only: bool = False,
                 clamp: bool = False, class_name: str | None = None) -> None:
        if isinstance(type, str):
            if type.lower() not in TYPE_NAMES:
                raise ValueError(f"PV {name!r}: unknown type {type!r} (one of "
                                 f"{', '.join(n for n in TYPE_NAMES if n != 'int')})")
            native = TYPE_NAMES[type.lower()]
        else:
            native = ChannelType(type)
            if native > 6:
                raise ValueError(f"PV {name!r}: type must be a native DBR type")
        if not name or "\0" in name:
            raise ValueError(f"PV name {name!r} is empty or contains NUL")
        self.name = name
        self.native_type = native
        if count is None:
            count = len(value) if _is_sequence(value) and native is not ChannelType.STRING \
                else (len(value) + 1 if isinstance(value, str) and native is ChannelType.CHAR
                      else 1)
            if isinstance(value, (list, tuple)) and native is ChannelType.STRING:
                count = max(1, len(value))
        if count < 1:
            raise ValueError(f"PV {name!r}: count must be >= 1")
        self.count = int(count)
        self.units = units
        self.precision = int(precision)
        self.display_limits = tuple(display_limits) if display_limits else (0, 0)
        self.control_limits = tuple(control_limits) if control_limits else self.display_limits
        self.alarm_limits = tuple(alarm_limits) if alarm_limits else None
        self.warning_limits = tuple(warning_limits) if warning_limits else None
        self.alarm_severity = _severity(alarm_severity)
        self.warning_severity = _severity(warning_severity)
        if len(enum_strings) > MAX_ENUM_STATES:
            raise ValueError(f"PV {name!r}: at most {MAX_ENUM_STATES} enum strings")
        for s in enum_strings:
            if len(s.encode()) >= MAX_ENUM_STRING_SIZE:
                raise ValueError(f"PV {name!r}: enum string {s!r} is longer than "
                                 f"{MAX_ENUM_STRING_SIZE - 1} bytes")
        self.enum_strings = [str(s) for s in enum_strings]
        self.read_only = read_only
        self.clamp = clamp
        self.class_name = class_name or _default_class(native, self.count, read_only)
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        initial = self._to_native(value if value is not None else _zero(native))
        self._snapshot = self._make_snapshot(initial, None)

    # -- public state -------------------------------------------------------

    def __repr__(self) -> str:
        return f"<PV {self.name!r} {self.native_type.name} x{self.count} = {self.value!r}>"

    @property
    def snapshot(self) -> Snapshot:
        """The current values, alarm and timestamp (one consistent object)."""
        return self._snapshot

    @property
    def value(self) -> Any:
        """The value as Python: a scalar for count 1 (str for string/char PVs)."""
        values = self._snapshot.values
        if self.native_type is ChannelType.CHAR and self.count > 1:
            raw = bytes(values)
            return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        if self.native_type is ChannelType.STRING:
            texts = [v.decode("utf-8", "replace") for v in values]
            return texts[0] if self.count == 1 else texts
        return values[0] if self.count == 1 and values else list(values)

    @property
    def element_count(self) -> int:
        """Number of valid elements now (a waveform's NORD)."""
        return len(self._snapshot.values)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(pv, dbe_mask)`` after every change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def write(self, value: Any, *, timestamp: float | None = None,
              severity: int | None = None, status: int | None = None) -> None:
        """Set the value (Python types, native conversion), recompute the alarm and post
        monitors. ``severity``/``status`` override the limit alarm."""
        values = self._to_native(value)
        self._commit(values, timestamp, severity, status)

    def set_property(self, **fields: Any) -> None:
        """Change metadata (units, precision, limits, enum strings) and post DBE_PROPERTY."""
        for key, val in fields.items():
            if key not in ("units", "precision", "display_limits", "control_limits",
                           "alarm_limits", "warning_limits", "enum_strings"):
                raise AttributeError(f"cannot set {key!r} on a PV")
            setattr(self, key, tuple(val) if key.endswith("limits") and val else val)
        self._notify(DBE_PROPERTY)

    # -- client access ------------------------------------------------------

    def read(self, data_type: int, count: int) -> tuple[list[Any], DBRMetadata | None, int]:
        """``(values, metadata, ECA status)`` for a request of ``data_type`` x ``count``
        (0 = all valid elements). Values are ready for ``encode_dbr``; on failure they are
        zeros of the requested size and status says why."""
        row = dbr_type(data_type)
        snap = self._snapshot
        if count == 0:
            count = len(snap.values)
        if row.id in (35, 36):
            return _zeros(ChannelType.ENUM, count), None, CAStatus.ECA_GETFAIL
        if row.id == 38:
            return [self.class_name.encode()[:MAX_STRING_SIZE - 1]], None, CAStatus.ECA_NORMAL
        target = ChannelType(row.native)
        try:
            values = [self._convert_out(v, target) for v in snap.values[:count]]
        except ValueError:
            return _zeros(target, count), None, CAStatus.ECA_GETFAIL
        if len(values) < count:
            values.extend(_zeros(target, count - len(values)))
        metadata = self._metadata(row, target, snap) if row.meta_fields else None
        return values, metadata, CAStatus.ECA_NORMAL

    def put(self, data_type: int, data: Sequence[Any]) -> None:
        """Apply a client's write of ``data`` (as decoded from DBR ``data_type``);
        raise :class:`PutError` if it cannot be converted."""
        row = dbr_type(data_type)
        if row.id > 34 and row.id not in (35, 36):
            raise PutError(f"cannot write DBR_{row.name}", CAStatus.ECA_BADTYPE)
        if row.id in (35, 36):
            return  # alarm acknowledgement: nothing to acknowledge here
        source = ChannelType(row.native)
        items = list(data)[:self.count]
        if not items:   # as softIoc: an array becomes empty, a scalar stays as it is
            if self.count > 1:
                self._commit((), None, None, None)
            return
        try:
            values = [self._convert_in(v, source) for v in items]
        except (ValueError, OverflowError) as exc:
            raise PutError(str(exc)) from None
        if self.native_type is ChannelType.STRING and self.count == 1:
            values = values[:1]
        self._commit(tuple(self._clamped(values)), None, None, None)

    # -- internals ----------------------------------------------------------

    def _commit(self, values: tuple[Any, ...], timestamp: float | None,
                severity: int | None, status: int | None) -> None:
        with self._lock:
            old = self._snapshot
            snap = self._make_snapshot(values, timestamp, severity, status)
            self._snapshot = snap
        mask = DBE_VALUE | DBE_LOG
        if (snap.status, snap.severity) != (old.status, old.severity):
            mask |= DBE_ALARM
        self._notify(int(mask))

    def _notify(self, mask: int) -> None:
        for listener in list(self._listeners):
            listener(self, int(mask))

    def _make_snapshot(self, values: tuple[Any, ...], timestamp: float | None,
                       severity: int | None = None, status: int | None = None) -> Snapshot:
        alarm_status, alarm_severity = self._alarm(values)
        if severity is not None:
            alarm_severity = int(severity)
            alarm_status = int(status) if status is not None else (
                alarm_status if alarm_severity else 0)
        elif status is not None:
            alarm_status = int(status)
        return Snapshot(values, alarm_status, alarm_severity, epics_timestamp(timestamp))

    def _alarm(self, values: tuple[Any, ...]) -> tuple[int, int]:
        if self.native_type in (ChannelType.STRING, ChannelType.ENUM) or not values:
            return 0, 0
        value = values[0]
        if self.alarm_limits and self.alarm_severity:
            lolo, hihi = self.alarm_limits
            if value >= hihi:
                return AlarmStatus.HIHI, self.alarm_severity
            if value <= lolo:
                return AlarmStatus.LOLO, self.alarm_severity
        if self.warning_limits and self.warning_severity:
            low, high = self.warning_limits
            if value >= high:
                return AlarmStatus.HIGH, self.warning_severity
            if value <= low:
                return AlarmStatus.LOW, self.warning_severity
        return 0, 0

    def _clamped(self, values: list[Any]) -> list[Any]:
        if not self.clamp or self.native_type in (ChannelType.STRING, ChannelType.ENUM):
            return values
        low, high = self.control_limits
        if low >= high:
            return values
        return [min(max(v, type(v)(low)), type(v)(high)) for v in values]

    def _to_native(self, value: Any) -> tuple[Any, ...]:
        """Python value -> tuple of native elements (validated)."""
        native = self.native_type
        if native is ChannelType.CHAR and isinstance(value, (str, bytes, bytearray)):
            raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            if isinstance(value, str):
                raw += b"\0"
            items: list[Any] = list(raw[:self.count])
        elif native is ChannelType.STRING:
            items = [value] if isinstance(value, (str, bytes)) else list(value)
        else:
            items = list(value) if _is_sequence(value) else [value]
        items = items[:self.count]
        if not items:
            items = [] if self.count > 1 else [_zero(native)]
        out: list[Any] = []
        for item in items:
            if native is ChannelType.STRING:
                raw = item.encode("utf-8") if isinstance(item, str) else bytes(item)
                out.append(raw[:MAX_STRING_SIZE - 1])
            elif native is ChannelType.ENUM and isinstance(item, str):
                if item in self.enum_strings:
                    out.append(self.enum_strings.index(item))
                else:
                    raise ValueError(f"PV {self.name!r}: {item!r} is not one of its states")
            elif native in _FLOATS:
                out.append(float(item))
            else:
                bits, signed = _INT_RANGES[native]
                number = int(item)
                lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else \
                    (0, (1 << bits) - 1)
                if not lo <= number <= hi:
                    raise ValueError(f"PV {self.name!r}: {number} is out of range for "
                                     f"{native.name}")
                out.append(number)
        return tuple(out)

    def _convert_out(self, value: Any, target: ChannelType) -> Any:
        """One native element -> one element of the ``target`` base type."""
        native = self.native_type
        if target is ChannelType.STRING:
            if native is ChannelType.STRING:
                return value
            if native is ChannelType.ENUM:
                if value < len(self.enum_strings):
                    return self.enum_strings[value].encode()
                if not self.enum_strings:
                    return str(value).encode()
                # as an mbbo: undefined states read empty, from 16 on "Illegal Value"
                return b"" if value < 16 else b"Illegal Value"
            return format_number(value, native, self.precision).encode()
        if native is ChannelType.STRING:
            try:  # RSRV reads an unparsable string as 0 without failing the get
                number: Any = strtod(value)
            except ValueError:
                number = 0
        else:
            number = value
        if target in _FLOATS:
            return float(number)
        bits, signed = _INT_RANGES[target]
        return _wrap_int(number, bits, signed)

    def _convert_in(self, value: Any, source: ChannelType) -> Any:
        """One element written by a client (``source`` base type) -> native, converted
        as softIoc's records convert it (ValueError where softIoc fails the put)."""
        native = self.native_type
        if source is ChannelType.STRING:
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
            raw = raw.split(b"\0", 1)[0]
            if native is ChannelType.STRING:
                return raw[:MAX_STRING_SIZE - 1]      # raw bytes, UTF-8 or not
            if native is ChannelType.ENUM:
                text = raw.decode("utf-8", "replace")
                if text in self.enum_strings:
                    return self.enum_strings.index(text)
                index = strtol(raw, 0, 0xFFFF)
                if self.enum_strings and index >= len(self.enum_strings):
                    raise ValueError("enum index out of range")
                return index
            return self._parse_in(raw)
        number = value
        if native is ChannelType.STRING:
            if source in _FLOATS:
                return format_number(number, source, self.precision).encode()
            return str(int(number)).encode()
        if native is ChannelType.FLOAT:
            return _as_float32(float(number))
        if native is ChannelType.DOUBLE:
            return float(number)
        bits, signed = _INT_RANGES[native]
        return _wrap_int(number, bits, signed)

    def _parse_in(self, raw: bytes) -> Any:
        """A string written to a numeric PV; ValueError where softIoc fails the put."""
        native = self.native_type
        if not raw and self.count == 1:
            return _zero(native)                      # '' writes 0 to a scalar record
        if native in _FLOATS:
            number = strtod(raw)
            if native is ChannelType.FLOAT:
                if math.isfinite(number) and number and \
                        not _FLT_MIN <= abs(number) <= _FLT_MAX:
                    raise ValueError(f"{raw!r} is out of range")
                return _as_float32(number)
            return number
        bits, signed = _INT_RANGES[native]
        if native is ChannelType.CHAR:               # like a waveform of FTVL CHAR
            return strtol(raw, -128, 127) & 0xFF
        half = 1 << (bits - 1)
        return strtol(raw, -half, half - 1) if signed else strtol(raw, 0, (1 << bits) - 1)

    def _metadata(self, row: Any, target: ChannelType, snap: Snapshot) -> DBRMetadata:
        md = DBRMetadata(status=snap.status, severity=snap.severity)
        fields = row.meta_fields
        if "secs" in fields:
            md.timestamp = snap.timestamp
        if "ackt" in fields:
            md.ackt, md.acks = 1, 0   # records default to ACKT YES
        if "strs" in fields:
            md.enum_strings = [s.encode() for s in self.enum_strings] \
                if self.native_type is ChannelType.ENUM else []
        if "units" in fields:
            numeric = self.native_type not in (ChannelType.STRING, ChannelType.ENUM)
            md.units = self.units.encode()[:7] if numeric else b""
            if "precision" in fields:
                md.precision = self.precision if self.native_type in _FLOATS else 0
            limits = self._limits(numeric)
            for name, value in limits.items():
                if name in fields:
                    setattr(md, name, _limit_as(value, target))
        return md

    def _limits(self, numeric: bool) -> dict[str, float]:
        if not numeric:  # like RSRV: no display/control limits, alarm limits NaN for enums
            alarm = _NAN if self.native_type is ChannelType.ENUM else 0
            return {"upper_disp_limit": 0, "lower_disp_limit": 0,
                    "upper_alarm_limit": alarm, "upper_warning_limit": alarm,
                    "lower_warning_limit": alarm, "lower_alarm_limit": alarm,
                    "upper_ctrl_limit": 0, "lower_ctrl_limit": 0}
        lolo, hihi = self.alarm_limits if self.alarm_limits and self.alarm_severity \
            else (_NAN, _NAN)
        low, high = self.warning_limits if self.warning_limits and self.warning_severity \
            else (_NAN, _NAN)
        return {"upper_disp_limit": self.display_limits[1],
                "lower_disp_limit": self.display_limits[0],
                "upper_alarm_limit": hihi, "upper_warning_limit": high,
                "lower_warning_limit": low, "lower_alarm_limit": lolo,
                "upper_ctrl_limit": self.control_limits[1],
                "lower_ctrl_limit": self.control_limits[0]}


def _limit_as(value: float, target: ChannelType) -> float | int:
    """A limit in the requested type, converted as C does (NaN becomes 0)."""
    if target in _FLOATS:
        return float(value)
    bits, signed = _INT_RANGES.get(target, (16, True))
    value = float(value)
    return _wrap_int(int(value) if math.isfinite(value) else 0, bits, signed)


def _severity(value: int | str) -> int:
    if isinstance(value, str):
        key = value.upper().removesuffix("_ALARM") if value.upper() != "NO_ALARM" else value
        if key.upper() not in SEVERITY_NAMES:
            raise ValueError(f"unknown severity {value!r} (NO_ALARM, MINOR, MAJOR, INVALID)")
        return SEVERITY_NAMES[key.upper()]
    if not 0 <= int(value) <= 3:
        raise ValueError(f"severity {value!r} outside 0..3")
    return int(value)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, bytearray))


def _zero(native: ChannelType) -> Any:
    return b"" if native is ChannelType.STRING else (0.0 if native in _FLOATS else 0)


def _zeros(native: ChannelType, count: int) -> list[Any]:
    return [_zero(native)] * count


def _default_class(native: ChannelType, count: int, read_only: bool) -> str:
    if count > 1:
        return "waveform"
    return {ChannelType.STRING: "stringout", ChannelType.ENUM: "mbbo",
            ChannelType.LONG: "longout", ChannelType.SHORT: "longout",
            ChannelType.CHAR: "longout"}.get(native, "ai" if read_only else "ao")


__all__ = ["PV", "PutError", "Snapshot", "TYPE_NAMES", "epics_timestamp", "format_number"]
