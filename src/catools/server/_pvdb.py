"""The server's data model: PVs holding a value plus metadata, with DBR conversions.

A :class:`PV` stores its value in its native type; :meth:`PV.read` converts it to any
DBR type (as RSRV's database access does: numbers to strings with the PV's precision,
enum indexes to their state strings ...) and :meth:`PV.put` converts what a client
wrote back. Every change notifies the PV's listeners with a DBE mask, which is how the
server posts subscription updates. No sockets here.
"""
from __future__ import annotations

import math
import threading
import time
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from ..protocol import (DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, EPICS2UNIX_EPOCH,
                        MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE, CAStatus,
                        ChannelType, DBRMetadata, dbr_type)
from ._convert import (INT_RANGES as _INT_RANGES, STORAGE, chunk_elements, convert_in,
                       convert_out, format_number, iter_out, storage,
                       wrap_int as _wrap_int, zero as _zero)
from ._limits import SEVERITY_NAMES, Limits

#: Names accepted for ``PV(type=...)`` and the native DBR type of each.
TYPE_NAMES: dict[str, ChannelType] = {
    "string": ChannelType.STRING, "short": ChannelType.SHORT, "int": ChannelType.SHORT,
    "float": ChannelType.FLOAT, "enum": ChannelType.ENUM, "char": ChannelType.CHAR,
    "long": ChannelType.LONG, "double": ChannelType.DOUBLE,
}
_FLOATS = (ChannelType.FLOAT, ChannelType.DOUBLE)

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


class Encoded(NamedTuple):
    """A read of a PV ready for the wire: the values come as ``chunks`` of big-endian
    bytes (``size`` in all, unpadded), made as they are taken."""

    metadata: DBRMetadata | None
    status: int
    count: int  # type: ignore[assignment]  # (a field: shadows tuple.count on purpose)
    size: int
    chunks: Iterator[bytes]


@dataclass
class Snapshot:
    """One consistent state of a PV: values (native), alarm and timestamp."""

    values: Sequence[Any]        # an array.array for numbers, a tuple of bytes for strings
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
        native = _native_type(name, type)
        if not name or "\0" in name:
            raise ValueError(f"PV name {name!r} is empty or contains NUL")
        self.name = name
        self.native_type = native
        count = _default_count(value, native) if count is None else count
        if count < 1:
            raise ValueError(f"PV {name!r}: count must be >= 1")
        self.count = int(count)
        self.units = units
        self.precision = int(precision)
        #: display, control, alarm and warning limits, severities, clamping
        self.limits = Limits(native, display_limits, control_limits, alarm_limits,
                             warning_limits, alarm_severity, warning_severity, clamp)
        self.enum_strings = _enum_strings(name, enum_strings)
        self.read_only = read_only
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
            if key.endswith("_limits") and key in vars(self.limits):
                setattr(self.limits, key, tuple(val) if val else val)
            elif key in ("units", "precision", "enum_strings"):
                setattr(self, key, val)
            else:
                raise AttributeError(f"cannot set {key!r} on a PV")
        self._notify(DBE_PROPERTY)

    # -- client access ------------------------------------------------------

    def read(self, data_type: int, count: int) -> tuple[list[Any], DBRMetadata | None, int]:
        """``(values, metadata, ECA status)`` for a request of ``data_type`` x ``count``
        (0 = all valid elements), as Python values (for a few elements; the server uses
        :meth:`encode`). On failure they are zeros of the requested size."""
        row = dbr_type(data_type)
        snap = self._snapshot
        if count == 0:
            count = len(snap.values)
        if row.id in (35, 36):
            return [0] * count, None, CAStatus.ECA_GETFAIL
        if row.id == 38:
            return [self.class_name.encode()[:MAX_STRING_SIZE - 1]], None, CAStatus.ECA_NORMAL
        target = ChannelType(row.native)
        values = list(convert_out(self, snap.values[:count], target))
        if len(values) < count:
            values.extend([_zero(target)] * (count - len(values)))
        metadata = self._metadata(row, target, snap) if row.meta_fields else None
        return values, metadata, CAStatus.ECA_NORMAL

    def encode(self, data_type: int, count: int) -> Encoded:
        """A read of ``data_type`` x ``count`` (0 = all valid elements) as wire bytes made
        a chunk at a time: what the server sends, without a Python object per element."""
        row = dbr_type(data_type)
        snap = self._snapshot
        if count == 0:
            count = len(snap.values)
        if row.id in (35, 36, 38):
            values, metadata, status = self.read(data_type, count)
            raw = b"".join(v.ljust(MAX_STRING_SIZE, b"\0") for v in values) \
                if row.id == 38 else bytes(2 * count)
            return Encoded(metadata, status, len(values), len(raw), iter((raw,)))
        target = row.native
        metadata = self._metadata(row, ChannelType(target), snap) if row.meta_fields \
            else None
        return Encoded(metadata, CAStatus.ECA_NORMAL, count, count * row.elem_size,
                       iter_out(self, snap.values, target, count))

    def put(self, data_type: int, data: Sequence[Any], *, notify: bool = False) -> None:
        """Apply a client's write of ``data`` (as decoded from DBR ``data_type``);
        raise :class:`PutError` if it cannot be converted. As softIoc, an array keeps
        the elements converted before a bad one (posted only with ``notify``, a
        WRITE_NOTIFY, which processes the record anyway)."""
        for _ in self.put_steps(data_type, data, notify=notify):
            pass

    def put_steps(self, data_type: int, data: Sequence[Any], *, notify: bool = False,
                  owned: bool = False) -> Iterator[None]:
        """:meth:`put` a chunk of elements per step (a generator): the server runs one
        step per loop turn. ``owned``: ``data`` may be kept as the new value."""
        row = dbr_type(data_type)
        if row.id > 34 and row.id not in (35, 36):
            raise PutError(f"cannot write DBR_{row.name}", CAStatus.ECA_BADTYPE)
        if row.id in (35, 36):
            return  # alarm acknowledgement: nothing to acknowledge here
        source = row.native
        if not hasattr(data, "__len__"):
            data = list(data)
        items = data if len(data) <= self.count else data[:self.count]
        if not len(items):   # as softIoc: an array becomes empty, a scalar stays as it is
            if self.count > 1:
                self._commit(storage(self.native_type, ()), None, None, None)
            return
        code = STORAGE[self.native_type]
        if owned and isinstance(items, array) and items.typecode == code and \
                row.typecode == code and self.native_type is not ChannelType.FLOAT:
            values: Any = items                        # same type: keep the array
            error = None
        else:
            step = chunk_elements(source)
            parts: list[Any] = []
            error = None
            for start in range(0, len(items), step):
                part, error = convert_in(self, items[start:start + step], source)
                parts.append(part)
                if error is not None:
                    break
                if start + step < len(items):
                    yield
            values = _joined(self.native_type, parts)
        if self.native_type is ChannelType.STRING and self.count == 1:
            values = values[:1]
        if error is not None:
            self._partial(values, notify)
            raise PutError(str(error))
        self._commit(self.limits.clamped(values), None, None, None)

    def _partial(self, converted: Sequence[Any], notify: bool) -> None:
        """A write failed after ``converted``: as softIoc's waveform, those elements
        replace the first ones, the element count stays (a scalar keeps its value)."""
        old = self._snapshot
        if self.count == 1 or not len(converted):
            return
        keep = len(old.values)
        values = _joined(self.native_type, [converted[:keep], old.values[len(converted):]])
        if notify:
            self._commit(self.limits.clamped(values), None, None, None)
        else:   # no record processing: no new timestamp, no monitor
            with self._lock:
                self._snapshot = Snapshot(values, old.status, old.severity, old.timestamp)

    # -- internals ----------------------------------------------------------

    def _commit(self, values: Sequence[Any], timestamp: float | None,
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

    def _make_snapshot(self, values: Sequence[Any], timestamp: float | None,
                       severity: int | None = None, status: int | None = None) -> Snapshot:
        alarm_status, alarm_severity = self.limits.alarm(values)
        if severity is not None:
            alarm_severity = int(severity)
            alarm_status = int(status) if status is not None else (
                alarm_status if alarm_severity else 0)
        elif status is not None:
            alarm_status = int(status)
        return Snapshot(values, alarm_status, alarm_severity, epics_timestamp(timestamp))

    def _to_native(self, value: Any) -> Sequence[Any]:
        """Python value -> native storage (validated)."""
        native = self.native_type
        if native is ChannelType.CHAR and isinstance(value, (str, bytes, bytearray)):
            raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            if isinstance(value, str):
                raw += b"\0"
            items: Any = list(raw[:self.count])
        elif native is ChannelType.STRING:
            items = [value] if isinstance(value, (str, bytes)) else list(value)
        else:
            items = value if isinstance(value, array) else (
                list(value) if _is_sequence(value) else [value])
        items = items[:self.count]
        if not len(items):
            items = [] if self.count > 1 else [_zero(native)]
        if native is not ChannelType.STRING and not (
                native is ChannelType.ENUM and any(isinstance(v, str) for v in items)):
            try:       # numbers in range: one array, no per-element checks
                return storage(native, items)
            except (TypeError, OverflowError):
                pass
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
        return storage(native, out)

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
            limits = self.limits.metadata(numeric)
            for name, value in limits.items():
                if name in fields:
                    setattr(md, name, _limit_as(value, target))
        return md


def _limit_as(value: float, target: ChannelType) -> float | int:
    """A limit in the requested type, converted as C does (NaN becomes 0)."""
    if target in _FLOATS:
        return float(value)
    bits, signed = _INT_RANGES.get(target, (16, True))
    value = float(value)
    return _wrap_int(int(value) if math.isfinite(value) else 0, bits, signed)


def _native_type(name: str, type: str | ChannelType) -> ChannelType:
    """The native DBR type named (or given) by ``type``."""
    if isinstance(type, str):
        if type.lower() not in TYPE_NAMES:
            raise ValueError(f"PV {name!r}: unknown type {type!r} (one of "
                             f"{', '.join(n for n in TYPE_NAMES if n != 'int')})")
        return TYPE_NAMES[type.lower()]
    native = ChannelType(type)
    if native > 6:
        raise ValueError(f"PV {name!r}: type must be a native DBR type")
    return native


def _default_count(value: Any, native: ChannelType) -> int:
    """The element count of a PV whose initial value is ``value``."""
    if isinstance(value, (list, tuple)) and native is ChannelType.STRING:
        return max(1, len(value))
    if _is_sequence(value) and native is not ChannelType.STRING:
        return len(value)
    return len(value) + 1 if isinstance(value, str) and native is ChannelType.CHAR else 1


def _enum_strings(name: str, strings: Sequence[str]) -> list[str]:
    if len(strings) > MAX_ENUM_STATES:
        raise ValueError(f"PV {name!r}: at most {MAX_ENUM_STATES} enum strings")
    for s in strings:
        if len(s.encode()) >= MAX_ENUM_STRING_SIZE:
            raise ValueError(f"PV {name!r}: enum string {s!r} is longer than "
                             f"{MAX_ENUM_STRING_SIZE - 1} bytes")
    return [str(s) for s in strings]


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, bytearray))


def _joined(native: ChannelType, parts: list[Any]) -> Sequence[Any]:
    """Storage made of converted chunks (arrays or tuples) in order."""
    if len(parts) == 1:
        return parts[0]
    code = STORAGE[native]
    if code is None:
        return tuple(item for part in parts for item in part)
    out = array(code)
    for part in parts:
        out.extend(part)
    return out


def _default_class(native: ChannelType, count: int, read_only: bool) -> str:
    if count > 1:
        return "waveform"
    return {ChannelType.STRING: "stringout", ChannelType.ENUM: "mbbo",
            ChannelType.LONG: "longout", ChannelType.SHORT: "longout",
            ChannelType.CHAR: "longout"}.get(native, "ai" if read_only else "ao")


__all__ = ["PV", "PutError", "Snapshot", "TYPE_NAMES", "SEVERITY_NAMES", "epics_timestamp",
           "format_number"]
