"""Read PV definitions from a TOML (Python >= 3.11) or JSON file.

The file holds a list of tables under ``pv`` (TOML ``[[pv]]``; JSON ``{"pv": [...]}`` or
a bare list). Each table has ``name`` and optionally ``type`` (double, float, long,
short, char, enum, string), ``count``, ``value``, ``units``, ``precision``,
``display_limits``/``control_limits``/``alarm_limits``/``warning_limits`` (``[low,
high]``), ``alarm_severity``/``warning_severity`` (NO_ALARM, MINOR, MAJOR, INVALID),
``enum_strings``, ``read_only``, ``clamp`` and ``class_name``.
"""
from __future__ import annotations

import json
import os
from typing import Any

from ..protocol import MAX_STRING_SIZE, MAX_UNITS_SIZE
from ._pvdb import PV, TYPE_NAMES


class PVFileError(ValueError):
    """A PV file cannot be used; the message is one line naming the PV and field."""


_LIMITS = ("display_limits", "control_limits", "alarm_limits", "warning_limits")
_FIELDS: dict[str, Any] = {
    "name": str, "type": str, "count": int, "value": object, "units": str,
    "precision": int, "alarm_severity": (str, int), "warning_severity": (str, int),
    "enum_strings": list, "read_only": bool, "clamp": bool, "class_name": str,
    **{name: list for name in _LIMITS}}


def load_pv_file(path: str | os.PathLike) -> list[PV]:
    """The PVs defined in ``path`` (``.toml`` or ``.json``); raise PVFileError."""
    text_path = os.fspath(path)
    try:
        with open(text_path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise PVFileError(f"{text_path}: {exc.strerror}") from None
    if text_path.endswith(".toml"):
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise PVFileError(f"{text_path}: TOML needs Python >= 3.11; use a .json "
                              "file instead") from None
        try:
            document: Any = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise PVFileError(f"{text_path}: invalid TOML: {exc}") from None
    else:
        try:
            document = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PVFileError(f"{text_path}: invalid JSON: {exc}") from None
    return pvs_from_document(document, text_path)


def pvs_from_document(document: Any, source: str = "<data>") -> list[PV]:
    """Build PVs from parsed TOML/JSON data (see the module docstring)."""
    if isinstance(document, dict):
        if set(document) - {"pv"}:
            extra = sorted(set(document) - {"pv"})[0]
            raise PVFileError(f"{source}: unknown top-level key {extra!r} (expected 'pv')")
        document = document.get("pv", [])
    if not isinstance(document, list):
        raise PVFileError(f"{source}: expected a list of PV tables under 'pv'")
    pvs: list[PV] = []
    seen: set[str] = set()
    for index, entry in enumerate(document):
        label = f"{source}: PV #{index + 1}"
        if not isinstance(entry, dict):
            raise PVFileError(f"{label}: expected a table, got {type(entry).__name__}")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise PVFileError(f"{label}: field 'name' is missing or not a string")
        label = f"{source}: PV {name!r}"
        if name in seen:
            raise PVFileError(f"{label}: duplicate name")
        seen.add(name)
        pvs.append(_build(entry, label))
    return pvs


def _build(entry: dict[str, Any], label: str) -> PV:
    kwargs: dict[str, Any] = {}
    for key, value in entry.items():
        expected = _FIELDS.get(key)
        if expected is None:
            raise PVFileError(f"{label}: unknown field {key!r}")
        if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise PVFileError(f"{label}: field {key!r} must be an integer")
        if expected is not object and expected is not int and not isinstance(value, expected):
            kind = {str: "a string", list: "a list", bool: "true or false"}.get(
                expected, "a string or an integer")
            raise PVFileError(f"{label}: field {key!r} must be {kind}")
        if key in _LIMITS:
            if len(value) != 2 or not all(_is_number(v) for v in value):
                raise PVFileError(f"{label}: field {key!r} must be [low, high] numbers")
            value = (float(value[0]), float(value[1]))
        kwargs[key] = value
    type_name = kwargs.get("type", "double")
    if type_name.lower() not in TYPE_NAMES:
        raise PVFileError(f"{label}: field 'type': unknown type {type_name!r}")
    if "count" in kwargs and kwargs["count"] < 1:
        raise PVFileError(f"{label}: field 'count' must be >= 1")
    if "enum_strings" in kwargs and not all(isinstance(s, str) for s in kwargs["enum_strings"]):
        raise PVFileError(f"{label}: field 'enum_strings' must be a list of strings")
    if "value" in kwargs:
        _check_value(kwargs["value"], type_name.lower(), label)
    _check_fits(kwargs, type_name.lower(), label)
    try:
        return PV(**kwargs)
    except (ValueError, TypeError, OverflowError) as exc:
        message = str(exc)
        if message.startswith(f"PV {kwargs['name']!r}: "):
            message = message[len(f"PV {kwargs['name']!r}: "):]
        field = _guess_field(message)
        raise PVFileError(f"{label}: field {field!r}: {message}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_value(value: Any, type_name: str, label: str) -> None:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if type_name == "string":
            ok = isinstance(item, str)
        elif type_name == "enum":
            ok = isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool))
        elif type_name == "char" and isinstance(value, str):
            ok = True
        else:
            ok = _is_number(item)
        if not ok:
            raise PVFileError(f"{label}: field 'value': {item!r} is not a valid "
                              f"{type_name} value")


def _check_fits(kwargs: dict[str, Any], type_name: str, label: str) -> None:
    """Refuse what the server would otherwise cut or misread silently."""
    precision = kwargs.get("precision", 0)
    if precision < 0:
        raise PVFileError(f"{label}: field 'precision' must be >= 0, not {precision}")
    for key in _LIMITS:
        if key in kwargs:
            low, high = kwargs[key]
            if not low <= high:
                raise PVFileError(f"{label}: field {key!r}: low {low:g} is above high "
                                  f"{high:g}")
    units = kwargs.get("units", "")
    if len(units.encode("utf-8")) > MAX_UNITS_SIZE - 1:
        raise PVFileError(f"{label}: field 'units': {units!r} is longer than "
                          f"{MAX_UNITS_SIZE - 1} bytes")
    if "value" not in kwargs:
        return
    value = kwargs["value"]
    count = kwargs.get("count")
    if type_name == "char" and isinstance(value, str):
        size = len(value.encode("utf-8")) + 1
        if count is not None and size > count:
            raise PVFileError(f"{label}: field 'value': {size} bytes with the NUL do not "
                              f"fit count {count}")
        return
    items = value if isinstance(value, list) else [value]
    if count is not None and len(items) > count:
        raise PVFileError(f"{label}: field 'value': {len(items)} elements do not fit "
                          f"count {count}")
    if type_name == "string":
        for item in items:
            if len(item.encode("utf-8")) > MAX_STRING_SIZE - 1:
                raise PVFileError(f"{label}: field 'value': {item!r} is longer than "
                                  f"{MAX_STRING_SIZE - 1} bytes")
    if type_name == "enum":
        states = kwargs.get("enum_strings", [])
        for item in items:
            if isinstance(item, int) and not 0 <= item < (len(states) or 0x10000):
                raise PVFileError(f"{label}: field 'value': index {item} is not one of "
                                  f"the {len(states)} enum_strings")


def _guess_field(message: str) -> str:
    for key in ("enum string", "severity", "count", "type"):
        if key in message:
            return {"enum string": "enum_strings"}.get(key, key)
    return "value"


__all__ = ["load_pv_file", "pvs_from_document", "PVFileError"]
