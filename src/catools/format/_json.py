"""Strict JSON records (one object per line) for ``--json`` output.

The schema is documented in ``docs/json-schema.md``. In short, a successful reading::

    {"name", "ok": true, "type", "native_type", "count", "value",
     ["enum_strings"], ["timestamp", "epoch", "epics_seconds", "nanoseconds"],
     ["status", "status_code", "severity", "severity_code"], ["units"], ["precision"],
     ["limits": {...}], ["ackt", "acks"]}

and a failure ``{"name", "ok": false, "error", "message"}``. camonitor records carry
``"event"`` right after ``"name"``. Every line is strict JSON (``allow_nan=False``):
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
    DBR_STSACK_STRING, dbf_type_to_text, dbr_base_type, dbr_type_to_text, is_ctrl, is_gr,
    severity_to_text, status_to_text,
)
from ._values import EPICS_EPOCH_OFFSET

__all__ = [
    "json_record", "json_error_record", "caget_json", "caget_json_error",
    "camonitor_json", "write_json_line", "ERROR_MESSAGES",
]

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
_LIMITS = (
    ("lower_disp", "lower_disp_limit"), ("upper_disp", "upper_disp_limit"),
    ("lower_alarm", "lower_alarm_limit"), ("lower_warning", "lower_warning_limit"),
    ("upper_warning", "upper_warning_limit"), ("upper_alarm", "upper_alarm_limit"),
    ("lower_ctrl", "lower_ctrl_limit"), ("upper_ctrl", "upper_ctrl_limit"),
)


def _text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return bytes(raw).split(b"\0", 1)[0].decode("utf-8", "backslashreplace")


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
            return _dumps(_float32(v))
        if base == DBR_DOUBLE:
            return _dumps(_finite(v))
        return _dumps(v)
    return _number_list(data, base)


def _iso(sec: int, nsec: int) -> tuple[str, str]:
    extra, nsec = divmod(nsec, 1_000_000_000)
    unix = sec + EPICS_EPOCH_OFFSET + extra
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(unix)) + ".%09dZ" % nsec
    return iso, "%d.%09d" % (unix, nsec)


def _limit_json(v: Any, base: int) -> Any:
    if base == DBR_FLOAT:
        return _float32(float(v))
    if base == DBR_DOUBLE:
        return _finite(float(v))
    return int(v)


def _record_fields(reading: Any, *, char_as_string: bool = False) -> list[tuple[str, str]]:
    t = reading.data_type
    md = reading.metadata
    base = dbr_base_type(t)
    f: list[tuple[str, str]] = [
        ("ok", "true"),
        ("type", _dumps(dbr_type_to_text(t))),
        ("native_type", _dumps(dbf_type_to_text(reading.native_type))),
        ("count", "%d" % reading.count),
    ]
    if t == DBR_CLASS_NAME:
        f.append(("value", _dumps(_text(reading.data[0]) if reading.data else "")))
        return f
    f.append(("value", _value_json(t, reading.data, reading.count, char_as_string)))
    if md is None:
        return f
    strs = getattr(md, "enum_strings", None)
    if strs is not None and base == DBR_ENUM:
        f.append(("enum_strings", _dumps([_text(s) for s in strs])))
    ts = getattr(md, "timestamp", None)
    if ts is not None:
        sec, nsec = ts
        if sec == 0 and nsec == 0:
            f += [("timestamp", "null"), ("epoch", "null")]
        else:
            iso, epoch = _iso(sec, nsec)
            f += [("timestamp", _dumps(iso)), ("epoch", epoch)]
        f += [("epics_seconds", "%d" % sec), ("nanoseconds", "%d" % nsec)]
    status = getattr(md, "status", None)
    if status is not None:
        sev = md.severity or 0
        f += [("status", _dumps(status_to_text(status))), ("status_code", "%d" % status),
              ("severity", _dumps(severity_to_text(sev))), ("severity_code", "%d" % sev)]
    if is_gr(t) or is_ctrl(t):
        units = getattr(md, "units", None)
        if units is not None and base != DBR_ENUM:
            f.append(("units", _dumps(_text(units))))
        prec = getattr(md, "precision", None)
        if prec is not None and base in (DBR_FLOAT, DBR_DOUBLE):
            f.append(("precision", "%d" % prec))
        limits = {key: _limit_json(getattr(md, attr), base) for key, attr in _LIMITS
                  if getattr(md, attr, None) is not None}
        if limits and base not in (DBR_ENUM, DBR_STRING):
            f.append(("limits", _dumps(limits)))
    if t == DBR_STSACK_STRING:
        f += [("ackt", "%d" % (md.ackt or 0)), ("acks", _dumps(severity_to_text(md.acks or 0))),
              ("acks_code", "%d" % (md.acks or 0))]
    return f


def _obj(fields: list[tuple[str, str]]) -> str:
    return "{" + ",".join('"%s":%s' % kv for kv in fields) + "}"


def json_record(name: str, reading: Any, *, char_as_string: bool = False,
                event: str | None = None) -> str:
    """One strict JSON object (no newline) for a successful reading."""
    head = [("name", _dumps(_text(name)))]
    if event is not None:
        head.append(("event", _dumps(event)))
    return _obj(head + _record_fields(reading, char_as_string=char_as_string))


def json_error_record(name: str, kind: str, message: str | None = None, *,
                      event: str | None = None) -> str:
    """One strict JSON object (no newline) for a failed PV."""
    head = [("name", _dumps(_text(name)))]
    if event is not None:
        head.append(("event", _dumps(event)))
    msg = message if message else ERROR_MESSAGES.get(kind, kind)
    return _obj(head + [("ok", "false"), ("error", _dumps(kind)), ("message", _dumps(msg))])


def caget_json(name: str, reading: Any, *, char_as_string: bool = False) -> str:
    """A caget ``--json`` line (with newline)."""
    return json_record(name, reading, char_as_string=char_as_string) + "\n"


def caget_json_error(name: str, kind: str, message: str | None = None) -> str:
    """A caget ``--json`` error line (with newline)."""
    return json_error_record(name, kind, message) + "\n"


def camonitor_json(name: str, event: str, reading: Any = None, *,
                   char_as_string: bool = False, message: str | None = None) -> str:
    """A camonitor ``--json`` line: ``event`` is ``update`` (needs ``reading``),
    ``connected``, ``disconnected``, ``not_found`` or ``no_read_access``."""
    if event == "update":
        if reading is None:
            raise ValueError("an update event needs a reading")
        return json_record(name, reading, char_as_string=char_as_string, event=event) + "\n"
    if event == "connected":
        return _obj([("name", _dumps(_text(name))), ("event", '"connected"'), ("ok", "true")]) + "\n"
    return json_error_record(name, event, message, event=event) + "\n"


def write_json_line(out: BinaryIO | TextIO, line: str) -> None:
    """Write a finished JSON line to a text or binary stream (UTF-8)."""
    try:
        out.write(line)  # type: ignore[arg-type]
    except TypeError:
        out.write(line.encode("utf-8"))  # type: ignore[arg-type]
