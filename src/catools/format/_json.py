"""Strict JSON records (one object per line) for ``--json`` output.

The schema is documented in ``docs/json-schema.md``. In short, a successful reading::

    {"name", "ok": true, "type", "native_type", "count", "value",
     ["enum_strings"], ["timestamp", "epoch", "epics_seconds", "nanoseconds"],
     ["status", "status_code", "severity", "severity_code"], ["units"], ["precision"],
     ["limits": {...}], ["ackt", "acks"]}

and a failure ``{"name", "ok": false, "error", "message"}``. camonitor records carry
``"event"`` right after ``"name"``. Records of camonitor, cainfo, caput, cawait and
``caget --full`` end with ``"client_epoch"``: when this client produced the record (Unix
seconds, 6 decimals), apart from the server's ``"epoch"`` of the value. Every line is strict JSON (``allow_nan=False``):
non-finite numbers become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
Strings are decoded as UTF-8 with ``backslashreplace`` (invalid bytes become ``\\xhh``).
"""

from __future__ import annotations

import json
import math
import time
from array import array
from collections.abc import Sequence
from typing import Any, BinaryIO, TextIO

from ._names import (
    DBR_CHAR, DBR_CLASS_NAME, DBR_DOUBLE, DBR_ENUM, DBR_FLOAT, DBR_STRING,
    DBR_STSACK_STRING, LAST_BUFFER_TYPE, TIME_TYPES, dbf_type_to_text, dbr_base_type, dbr_type_to_text,
    is_ctrl, is_gr, severity_to_text, status_to_text,
)
from ._values import EPICS_EPOCH_OFFSET

__all__ = [
    "json_record", "json_error_record", "caget_json", "caget_json_error",
    "camonitor_json", "write_json_line", "ERROR_MESSAGES", "json_result", "cainfo_json",
    "client_stamp", "SCHEMA_VERSION",
]

#: The version of the records' schema (``catools/schema/records.schema.json``).
SCHEMA_VERSION = 2


_time = time.time


def client_stamp(now: float | None = None) -> str:
    """``,"client_epoch":<Unix seconds>`` (now, or ``now``), the member that ends the
    records of every tool."""
    return ',"client_epoch":%.6f' % (time.time() if now is None else now)

#: Default ``message`` for each error kind.
ERROR_MESSAGES = {
    "not_found": "PV not found",
    "disconnected": "not connected",
    "no_read_access": "no read access",
    "no_data": "no data available (timeout)",
    "ca_error": "CA error",
    "no_write_access": "no write access",
    "timeout": "timed out",
}

_dumps = json.JSONEncoder(allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode
_dumps_nan = json.JSONEncoder(allow_nan=True, separators=(",", ":"), ensure_ascii=False).encode
#: A str as a JSON string (what ``_dumps`` gives for one, without its Python layer).
_quote = json.encoder.encode_basestring
_LIMITS = (
    ("lower_disp", "lower_disp_limit"), ("upper_disp", "upper_disp_limit"),
    ("lower_alarm", "lower_alarm_limit"), ("lower_warning", "lower_warning_limit"),
    ("upper_warning", "upper_warning_limit"), ("upper_alarm", "upper_alarm_limit"),
    ("lower_ctrl", "lower_ctrl_limit"), ("upper_ctrl", "upper_ctrl_limit"),
)


def _raw(raw: Any) -> bytes:
    """The bytes of a string field (a str from the command line: its original bytes)."""
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return bytes(raw).split(b"\0", 1)[0]


def _text(raw: Any) -> str:
    return _raw(raw).decode("utf-8", "backslashreplace")


def _exact(raw: Any) -> bool:
    """True when a string field's text is exact (its bytes are valid UTF-8)."""
    if isinstance(raw, str):
        return raw.isascii() or not any("\udc80" <= c <= "\udcff" for c in raw)
    try:
        bytes(raw).split(b"\0", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _base64(key: str, raws: Any, many: bool) -> str:
    """``,"<key>_base64":...`` with the exact bytes of a string field (a string, or a
    list for ``many``) when any of them is not UTF-8; "" when the text is exact."""
    items = raws if many else [raws]
    if all(_exact(r) for r in items):
        return ""
    import base64
    coded = [base64.b64encode(_raw(r)).decode("ascii") for r in items]
    return ',"%s_base64":%s' % (key, _dumps(coded if many else coded[0]))


def _finite(v: float) -> Any:
    if v != v:
        return "NaN"
    if v in (math.inf, -math.inf):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _float32(v: float) -> Any:
    """Shortest decimal that round-trips through float32 (so 0.1f prints 0.1)."""
    if not math.isfinite(v):
        return _finite(v)
    for p in (6, 7, 8, 9):
        s = "%.*g" % (p, v)
        if array("f", [float(s)])[0] == v:
            return float(s)
    return v


def _number_list(values: Sequence, base: int) -> str:
    """JSON text of a numeric list, non-finite values as strings."""
    if base == DBR_FLOAT:
        return _dumps([_float32(v) for v in values])
    if base == DBR_DOUBLE:
        s = _dumps_nan(values if isinstance(values, list) else values.tolist()
                       if isinstance(values, array) else list(values))
        if "NaN" in s or "Infinity" in s:
            s = _dumps([_finite(v) for v in values])
        return s
    return _dumps(values.tolist() if isinstance(values, array) else list(values))


def _value_extra(data_type: int, data: Sequence, count: int, char_as_string: bool) -> str:
    """The ``value_base64`` member that follows ``value`` when a string value holds
    bytes that are not UTF-8 ("" otherwise, and for numbers)."""
    base = dbr_base_type(data_type)
    if base == DBR_STRING:
        data = data[:count] if count < len(data) else data
        return _base64("value", data if count != 1 else data[0], count != 1) if data \
            else ""
    if base == DBR_CHAR and char_as_string:
        b = data.tobytes() if isinstance(data, array) else bytes(x & 0xFF for x in data)
        return _base64("value", b, False)
    return ""


def _value_json(data_type: int, data: Sequence, count: int, char_as_string: bool) -> str:
    base = dbr_base_type(data_type)
    data = data[:count] if count < len(data) else data
    if base == DBR_STRING:
        items = [_text(v) for v in data]
        return _dumps(items[0] if count == 1 else items)
    if base == DBR_CHAR and char_as_string:
        b = data.tobytes() if isinstance(data, array) else bytes(x & 0xFF for x in data)
        return _dumps(_text(b))
    if count == 1:
        v = data[0]
        if base == DBR_FLOAT:
            v = _float32(v)
        elif base == DBR_DOUBLE:
            v = _finite(v)
        if v.__class__ is float:        # (finite here) what json writes, without its layers
            return float.__repr__(v)
        if v.__class__ is int:
            return int.__repr__(v)
        return _dumps(v)
    return _number_list(data, base)


_last_second: list[Any] = [None, ""]      # the last unix second formatted, and its text


def _iso(sec: int, nsec: int) -> tuple[str, str]:
    extra, nsec = divmod(nsec, 1_000_000_000)
    unix = sec + EPICS_EPOCH_OFFSET + extra
    if unix != _last_second[0]:         # (a monitor's updates mostly share the second)
        _last_second[:] = unix, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(unix))
    return _last_second[1] + ".%09dZ" % nsec, "%d.%09d" % (unix, nsec)


class _Memo(dict):  # type: ignore[type-arg]
    """``memo[key]`` is ``make(key)``, made once (bounded: cleared when it grows large)."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: Any) -> str:
        if len(self) >= 4096:
            self.clear()
        value = self[key] = self.make(key)
        return value


#: JSON text of what repeats from one record to the next: a PV's name, the type fields,
#: the alarm fields.
_NAME = _Memo(lambda name: _quote(_text(name)))
_TYPES = _Memo(lambda types: '"type":%s,"native_type":%s' % (
    _quote(dbr_type_to_text(types[0])), _quote(dbf_type_to_text(types[1]))))
_ALARM = _Memo(lambda alarm: '"status":%s,"status_code":%d,"severity":%s,"severity_code":%d' % (
    _quote(status_to_text(alarm[0])), alarm[0], _quote(severity_to_text(alarm[1])), alarm[1]))


def _limit_json(v: Any, base: int) -> Any:
    if base == DBR_FLOAT:
        return _float32(float(v))
    if base == DBR_DOUBLE:
        return _finite(float(v))
    return int(v)


def _is_full(md: Any) -> bool:
    """A TIME reading merged with its CTRL metadata (``GetMany(full=True)``)."""
    return md.units is not None or md.enum_strings is not None or \
        md.precision is not None or md.upper_disp_limit is not None


def _record_fields(reading: Any, *, char_as_string: bool = False) -> list[str]:
    """The ``"key":value`` members of a successful reading's record, after its head."""
    t = reading.data_type
    md = reading.metadata
    base = dbr_base_type(t)
    f = ['"ok":true', _TYPES[t, reading.native_type], '"count":%d' % reading.count]
    if t == DBR_CLASS_NAME:
        f.append('"value":' + _dumps(_text(reading.data[0]) if reading.data else "")
                 + (_base64("value", reading.data[0], False) if reading.data else ""))
        return f
    f.append('"value":' + _value_json(t, reading.data, reading.count, char_as_string)
             + _value_extra(t, reading.data, reading.count, char_as_string))
    if md is None:
        return f
    full = t in TIME_TYPES and _is_full(md)
    native_base = dbr_base_type(reading.native_type) if reading.native_type >= 0 else base
    strs = getattr(md, "enum_strings", None)
    if strs is not None and (base == DBR_ENUM or full and native_base == DBR_ENUM):
        f.append('"enum_strings":' + _dumps([_text(s) for s in strs])
                 + _base64("enum_strings", strs, True))
    ts = getattr(md, "timestamp", None)
    if ts is not None:
        sec, nsec = ts
        if sec == 0 and nsec == 0:
            f.append('"timestamp":null,"epoch":null')
        else:
            iso, epoch = _iso(sec, nsec)
            f.append('"timestamp":"%s","epoch":%s' % (iso, epoch))
        f.append('"epics_seconds":%d,"nanoseconds":%d' % (sec, nsec))
    status = getattr(md, "status", None)
    if status is not None:
        f.append(_ALARM[status, md.severity or 0])
    if full:
        base = native_base                  # (the CTRL metadata's type)
    if is_gr(t) or is_ctrl(t) or full:
        units = getattr(md, "units", None)
        if units is not None and base != DBR_ENUM:
            f.append('"units":' + _quote(_text(units)) + _base64("units", units, False))
        prec = getattr(md, "precision", None)
        if prec is not None and base in (DBR_FLOAT, DBR_DOUBLE):
            f.append('"precision":%d' % prec)
        limits = {key: _limit_json(getattr(md, attr), base) for key, attr in _LIMITS
                  if getattr(md, attr, None) is not None}
        if limits and base not in (DBR_ENUM, DBR_STRING):
            f.append('"limits":' + _dumps(limits))
    if t == DBR_STSACK_STRING:
        f.append('"ackt":%d,"acks":%s,"acks_code":%d' % (
            md.ackt or 0, _quote(severity_to_text(md.acks or 0)), md.acks or 0))
    return f


def _head(name: str, event: str | None) -> str:
    """A record's opening: its name, and camonitor's event."""
    return '{"name":' + _NAME[name] + ("" if event is None else ',"event":' + _quote(event))


def json_record(name: str, reading: Any, *, char_as_string: bool = False,
                event: str | None = None, which: str | None = None,
                stamp: bool = False, now: float | None = None) -> str:
    """One strict JSON object (no newline) for a successful reading (``which``: caput's
    ``old`` or ``new``, then its ``client_epoch``; ``stamp``: end with
    ``client_epoch``, ``now`` or the time of the call)."""
    if which is not None or stamp:        # (how the record ends: one format, no copy)
        tail = ("" if which is None else ',"which":%s' % _quote(which)) + \
            ',"client_epoch":%.6f}' % (_time() if now is None else now)
    else:
        tail = "}"
    t = reading.data_type
    md = reading.metadata
    if t in TIME_TYPES and md is not None and not _is_full(md):
        # DBR_TIME_*, the default of both tools (every monitor update): the members of
        # _record_fields in one format
        count = reading.count
        sec, nsec = md.timestamp
        if sec == 0 and nsec == 0:
            when = '"timestamp":null,"epoch":null'
        else:
            when = '"timestamp":"%s","epoch":%s' % _iso(sec, nsec)
        return _TIME_RECORD % (
            _head(name, event), _TYPES[t, reading.native_type], count,
            _value_json(t, reading.data, count, char_as_string)
            + (_value_extra(t, reading.data, count, char_as_string) if t in _TEXTUAL
               else ""), when, sec, nsec,
            _ALARM[md.status, md.severity or 0], tail)
    return _head(name, event) + "," + ",".join(
        _record_fields(reading, char_as_string=char_as_string)) + tail


#: Types whose value may be text (strings; chars with -S): the ones with ``value_base64``.
_TEXTUAL = frozenset(t for t in range(LAST_BUFFER_TYPE + 1)
                     if dbr_base_type(t) in (DBR_STRING, DBR_CHAR))
_TIME_RECORD = ('%s,"ok":true,%s,"count":%d,"value":%s,%s,'
                '"epics_seconds":%d,"nanoseconds":%d,%s%s')


def json_error_record(name: str, kind: str, message: str | None = None, *,
                      event: str | None = None, which: str | None = None,
                      stamp: bool = False, now: float | None = None) -> str:
    """One strict JSON object (no newline) for a failed PV (with ``which`` or
    ``stamp``: ending with ``client_epoch``)."""
    msg = message if message else ERROR_MESSAGES.get(kind, kind)
    tail = "" if which is None else ',"which":%s' % _quote(which)
    if which is not None or stamp:
        tail += client_stamp(now)
    return _head(name, event) + ',"ok":false,"error":%s,"message":%s%s}' % (
        _quote(kind), _quote(msg), tail)


def json_result(result: Any, *, char_as_string: bool = False,
                which: str | None = None, stamp: bool = True,
                now: float | None = None) -> str:
    """The JSON object (no newline) of a Result: its reading's record, or its error's
    (kind and message as :func:`catools.format.error_of` gives them), ending with
    ``client_epoch`` (``now``, or the time of the call) unless ``stamp`` is False."""
    if result.ok and getattr(result, "error", None) is None:
        return json_record(result.name, result, char_as_string=char_as_string, which=which,
                           stamp=stamp, now=now)
    from ._epics import error_of
    kind, message = error_of(result)
    return json_error_record(result.name, kind, message or None, which=which,
                             stamp=stamp, now=now)


def caget_json(name: str, reading: Any, *, char_as_string: bool = False,
               now: float | None = None) -> str:
    """A caget ``--json`` line (with newline), ending with ``client_epoch``."""
    return json_record(name, reading, char_as_string=char_as_string, stamp=True,
                       now=now) + "\n"


def caget_json_error(name: str, kind: str, message: str | None = None,
                     now: float | None = None) -> str:
    """A caget ``--json`` error line (with newline), ending with ``client_epoch``."""
    return json_error_record(name, kind, message, stamp=True, now=now) + "\n"


def camonitor_json(name: str, event: str, reading: Any = None, *,
                   char_as_string: bool = False, message: str | None = None) -> str:
    """A camonitor ``--json`` line, ending with ``client_epoch``: ``event`` is
    ``update`` or ``property`` (both need ``reading``), ``connected``,
    ``disconnected``, ``not_found`` or ``no_read_access``."""
    if event == "update" or event == "property":
        if reading is None:
            raise ValueError(f"an {event} event needs a reading")
        return json_record(name, reading, char_as_string=char_as_string, event=event,
                           stamp=True) + "\n"
    if event == "connected":
        return _head(name, event) + ',"ok":true' + client_stamp() + '}\n'
    return json_error_record(name, event, message, event=event, stamp=True) + "\n"


def write_json_line(out: BinaryIO | TextIO, line: str) -> None:
    """Write a finished JSON line to a text or binary stream (UTF-8)."""
    try:
        out.write(line)  # type: ignore[arg-type,call-overload]
    except TypeError:
        out.write(line.encode("utf-8"))  # type: ignore[arg-type]


def cainfo_json(info: Any) -> str:
    """cainfo's JSON object (no newline) of a ChannelInfo or a failed Result
    (documented in cainfo(1))."""
    name = info.name
    now = round(time.time(), 6)
    if not info.ok:
        return json.dumps({"name": name, "ok": False, "error": "not_found",
                           "message": f"Channel connect timed out: '{name}' not found.",
                           "client_epoch": now}, separators=(",", ":"))
    server = info.server
    return json.dumps({
        "name": name, "ok": True, "state": info.state, "host": info.host,
        "server": f"{server[0]}:{server[1]}" if server else None,
        "read_access": info.read_access, "write_access": info.write_access,
        "native_type": dbf_type_to_text(info.native_type),
        "request_type": dbr_type_to_text(info.native_type) if info.native_type >= 0
        else None, "count": info.native_count, "client_epoch": now}, separators=(",", ":"))
