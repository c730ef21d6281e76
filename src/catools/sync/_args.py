"""The library's arguments, checked in the caller's thread: a bad one is a ValueError
that says what is valid (never a KeyError, a struct.error or a hang)."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

from ..protocol import (DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, DBR_TYPES, FAMILIES,
                        MAX_DBR_TYPE, NAME_CHARS_SAFE, NATIVE_TYPES, name_too_long)

#: ``format=`` names and the DBR family each asks for.
FORMATS: dict[str, str] = {"plain": "native", "native": "native", "status": "status",
                           "time": "time", "graphic": "graphic", "ctrl": "control",
                           "control": "control"}

#: ``mask=`` letters and their DBE bits.
MASK_LETTERS: dict[str, int] = {"v": DBE_VALUE, "a": DBE_ALARM, "l": DBE_LOG,
                                "p": DBE_PROPERTY}

_BY_NAME: dict[str, int] = {row.name: row.id for row in DBR_TYPES}
_BY_NAME.update({row.name[:-5] + "INT": row.id for row in DBR_TYPES
                 if row.name.endswith("SHORT") and row.family >= 0})
_NATIVE_BY_NAME: dict[str, int] = {native.name: i for i, native in enumerate(NATIVE_TYPES)}
_NATIVE_BY_NAME["INT"] = _NATIVE_BY_NAME["SHORT"]
_PYTHON_TYPES: dict[type, int] = {str: 0, int: 5, float: 6}
_ENUM = 3

#: A DBR id, a family name, or a function of the native type (the client's TypeRule).
TypeRule = Any


def check_names(names: Any) -> tuple[list[str], bool]:
    """``(names as a list, whether one name was given)``. A name is a non-empty str
    without NUL of at most 1007 bytes; a list may be any iterable of them."""
    if isinstance(names, str):
        check_name(names)
        return [names], True
    if isinstance(names, (bytes, bytearray)) or isinstance(names, Mapping) or \
            not isinstance(names, Iterable):
        raise ValueError(f"PV names must be a str or a list of str, not {_show(names)}")
    out = list(names)
    for name in out:
        check_name(name)
    return out, False


def check_name(name: Any) -> str:
    """``name`` if it is a valid PV name; ValueError otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"a PV name must be a str, not {_show(name)}")
    if not name or "\0" in name or (len(name) > NAME_CHARS_SAFE and name_too_long(name)):
        raise ValueError(f"invalid PV name {name[:60]!r}: empty, over 1007 bytes or "
                         "holding a NUL")
    return name


def check_timeout(timeout: Any, *, allow_none: bool = False) -> float | None:
    """``timeout`` as a float of seconds >= 0 (None only where ``allow_none``)."""
    if timeout is None and allow_none:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ValueError(f"timeout must be a number of seconds"
                         f"{' or None' if allow_none else ''}, not {_show(timeout)}")
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
    return float(timeout)


def check_count(count: Any) -> int:
    """``count`` (None: all elements) as the client's count (0: all)."""
    if count is None:
        return 0
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be None (all elements) or an int >= 0, "
                         f"not {_show(count)}")
    return count


def family_of(format: Any) -> str:
    """The DBR family (native/status/time/graphic/control) a ``format=`` asks for."""
    family = FORMATS.get(format) if isinstance(format, str) else None
    if family is None:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}; "
                         f"not {_show(format)}")
    return family


def type_rule(data_type: Any, format: Any = "time") -> TypeRule:
    """The client's request rule for ``data_type`` read in ``format``.

    ``data_type`` is None (the channel's native type), a Python type (``str`` →
    DBR_STRING, ``int`` → DBR_LONG, ``float`` → DBR_DOUBLE, in ``format``'s family), a
    DBR name (``"DBR_TIME_DOUBLE"``, ``"TIME_DOUBLE"``, or a native name such as
    ``"double"``, which takes ``format``'s family), a family name (``"time"``: the
    same as ``format="time"``) or a DBR id (0..38).
    """
    family = family_of(format)
    if data_type is None:
        return family
    if isinstance(data_type, type):
        base = _PYTHON_TYPES.get(data_type)
        if base is not None:
            return int(base + 7 * FAMILIES.index(family))
    elif isinstance(data_type, str):
        text = data_type.strip()
        if text.lower() in FORMATS:
            return FORMATS[text.lower()]
        key = text.upper()
        if key.startswith("DBR_") and key[4:] in _BY_NAME:
            return _BY_NAME[key[4:]]
        if key.startswith("DBF_"):
            key = key[4:]
        if key in _NATIVE_BY_NAME:          # a native name takes format's family
            return _NATIVE_BY_NAME[key] + 7 * FAMILIES.index(family)
        if key in _BY_NAME:
            return _BY_NAME[key]
    elif isinstance(data_type, int) and not isinstance(data_type, bool):
        if 0 <= data_type <= MAX_DBR_TYPE:
            return int(data_type)
    raise ValueError(
        "data_type must be None, str, int or float, a DBR name such as "
        "'DBR_TIME_DOUBLE', 'TIME_DOUBLE' or 'double' (native names: "
        f"{', '.join(n.lower() for n in _NATIVE_BY_NAME)}), a family name "
        f"({', '.join(FAMILIES)}) or a DBR id 0..{MAX_DBR_TYPE}; not {_show(data_type)}")


def write_type(data_type: Any) -> int | None:
    """The plain DBR type a put converts its value to (None: chosen from the value)."""
    if data_type is None:
        return None
    rule = type_rule(data_type, "plain")
    if isinstance(rule, str):
        raise ValueError(f"a put needs a value type, not the family {data_type!r}")
    if rule > 34:
        raise ValueError(f"cannot write DBR type {data_type!r}")
    return DBR_TYPES[rule].native


def mask_bits(mask: Any, props: bool = False) -> int:
    """The DBE bits of ``mask`` (letters v, a, l, p, or an int 1..15), plus
    DBE_PROPERTY with ``props``."""
    if isinstance(mask, int) and not isinstance(mask, bool) and 1 <= mask <= 15:
        bits = mask
    elif isinstance(mask, str) and mask and all(c in MASK_LETTERS for c in mask.lower()):
        bits = 0
        for c in mask.lower():
            bits |= MASK_LETTERS[c]
    else:
        raise ValueError("mask must be a string of the letters v (value), a (alarm), "
                         f"l (log/archive), p (property), or an int 1..15; not {_show(mask)}")
    return bits | (DBE_PROPERTY if props else 0)


def needs_labels(rule: TypeRule, native_type: int) -> bool:
    """True when reading ``native_type`` by ``rule`` gives enum numbers without their
    labels (a plain, STS or TIME enum)."""
    if native_type != _ENUM:
        return False
    from ..client import resolve_type
    row = DBR_TYPES[resolve_type(rule, native_type)]
    return row.native == _ENUM and 0 <= row.family < 3


def converter_for(value: Any, base: int | None) -> Callable[..., tuple[int, Any, int]]:
    """The client's converter of a put of ``value`` (as ``base``, a plain DBR type,
    when given; else by the value's Python type)."""
    from ..client import python_value
    if base is None:
        return python_value(value)
    items = [value] if isinstance(value, (str, bytes, int, float)) else list(value)
    if base == 0:
        raws = [v.encode("utf-8", "surrogateescape") if isinstance(v, str)
                else bytes(v) if isinstance(v, (bytes, bytearray)) else str(v).encode()
                for v in items]
        if any(len(r) > 39 for r in raws):
            raise ValueError("a string is longer than DBR_STRING's 39 bytes")
        data: Any = raws
    elif base == 4 and isinstance(value, (bytes, bytearray, str)):
        data = value.encode("utf-8", "surrogateescape") + b"\0" \
            if isinstance(value, str) else bytes(value)
    elif DBR_TYPES[base].typecode in ("f", "d"):
        data = [float(v) for v in items]
    else:
        data = [_integer(v) for v in items]
    n = len(data)

    def convert(native_type: int, native_count: int, labels: Any) -> tuple[int, Any, int]:
        return base, data, n
    return convert


def _integer(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return int(value)
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["FORMATS", "MASK_LETTERS", "check_names", "check_name", "check_timeout",
           "check_count", "family_of", "type_rule", "write_type", "mask_bits",
           "needs_labels", "converter_for"]
