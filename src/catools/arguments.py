"""The library's arguments, checked before any I/O: a bad one is a ValueError that
says what is valid (never a KeyError, a struct.error or a hang). Both twins of the
library, ``catools.sync`` (threads) and ``catools.aio`` (asyncio), use these."""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Iterable, Mapping, Sequence

from .config import ClientConfig, parse_address_list

from .protocol import (DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, DBR_TYPES, FAMILIES,
                        MAX_DBR_TYPE, NAME_CHARS_SAFE, NATIVE_TYPES, name_too_long)

#: ``format=`` names and the DBR family each asks for.
FORMATS: dict[str, str] = {"plain": "native", "native": "native", "status": "status",
                           "time": "time", "graphic": "graphic", "ctrl": "control",
                           "control": "control", "full": "time"}
#: ``format="full"``: the time family, with each PV also read as CTRL and the two merged
#: (value, alarm, timestamp, units, precision, limits, enum strings in one Reading).
FULL = "full"

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
#: The least time the reads of a get are given once the PVs connected (when finding
#: them used the whole timeout because some name was missing).
READ_GRACE = 0.5
#: The value of a put not given (``put(name)`` alone is an error).
MISSING: Any = object()

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
    from .client import resolve_type
    row = DBR_TYPES[resolve_type(rule, native_type)]
    return row.native == _ENUM and 0 <= row.family < 3


def converter_for(value: Any, base: int | None) -> Callable[..., tuple[int, Any, int]]:
    """The client's converter of a put of ``value`` (as ``base``, a plain DBR type,
    when given; else by the value's Python type)."""
    from .client import python_value
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


# -- put ---------------------------------------------------------------------

def put_items(names: Any, value: Any = MISSING) -> tuple[list[tuple[str, Any]], bool]:
    """``([(name, value), ...], whether one name was given)`` of a put's arguments: a
    name and a value, names and as many values, or a mapping ``{name: value}``."""
    if isinstance(names, Mapping):
        if value is not MISSING:
            raise ValueError("put({name: value, ...}) takes no separate value")
        return list(names.items()), False
    if value is MISSING:
        raise ValueError("put(name, value) needs a value (or a {name: value} mapping)")
    name_list, single = check_names(names)
    if single:
        return [(name_list[0], value)], True
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError("put([names], values) needs a list of values, one per name")
    if len(value) != len(name_list):
        raise ValueError(f"put() got {len(name_list)} names and {len(value)} values")
    return list(zip(name_list, value)), False


def put_converter(value: Any, base: int | None) -> Any:
    """The client's converter of ``value``; a value no PV could take is a ValueError
    now (a str is checked against the channel, as it may fill a char array)."""
    if value is None:
        raise ValueError("cannot write None")
    try:
        convert = converter_for(value, base)
        if base is None and not isinstance(value, (str, bytes, bytearray)):
            convert(6, 1, None)
    except TypeError as exc:
        raise ValueError(f"cannot write {type(value).__name__} values: {exc}") from None
    return convert


def shape(results: list[Any], single: bool, throw: bool) -> Any:
    """What a call returns: the Result of one name, or the list; with ``throw`` the
    first failure (in order) is raised instead."""
    if throw:
        for result in results:
            if not result.ok:
                raise result.error
    return results[0] if single else results


# -- Context -----------------------------------------------------------------

def get_operation(names: Any, *, timeout: Any, format: Any, data_type: Any, count: Any,
                  priority: int, labels: Callable[[], Any]) -> tuple[Any, bool]:
    """The checked arguments of a ``get`` as the client's GetMany (None for no names)
    and whether one name was given; ``labels()`` gives the Context's enum labels."""
    name_list, single = check_names(names)
    seconds = check_timeout(timeout)
    rule = type_rule(data_type, format)
    n = check_count(count)
    if not name_list:
        return None, single
    from .client import GetMany
    return GetMany(name_list, data_type=rule, count=n, priority=priority, timeout=seconds,
                   labels=labels(), read_grace=min(seconds or 0.0, READ_GRACE),
                   full=format == FULL), single


def put_operation(names: Any, value: Any, *, wait: Any, timeout: Any, data_type: Any,
                  priority: int) -> tuple[Any, bool]:
    """The checked arguments of a ``put`` as the client's Put (None for no names) and
    whether one name was given."""
    items, single = put_items(names, value)
    seconds = check_timeout(timeout)
    base = write_type(data_type)
    converters = [(check_name(name), put_converter(v, base)) for name, v in items]
    if not converters:
        return None, single
    from .client import Put
    return Put(converters, wait=bool(wait), priority=priority, timeout=seconds), single


def info_operation(names: Any, *, timeout: Any, priority: int) -> tuple[Any, bool]:
    """The checked arguments of an ``info`` as the client's Connect (None for no
    names) and whether one name was given."""
    name_list, single = check_names(names)
    seconds = check_timeout(timeout)
    if not name_list:
        return None, single
    from .client import Connect
    return Connect(name_list, priority=priority, timeout=seconds), single


def monitor_arguments(names: Any, *, format: Any, data_type: Any, mask: Any, props: Any,
                      count: Any, timeout: Any, queue_size: Any, callback: Any
                      ) -> tuple[list[str], dict[str, Any]]:
    """``monitor``'s checks, for both twins: the names, and the Monitor's keyword
    arguments ``rule``, ``count``, ``mask``, ``idle_timeout``, ``queue_size`` and
    ``callback``; ValueError for a bad one."""
    name_list, _ = check_names(names)
    rule = type_rule(data_type, format)
    bits = mask_bits(mask, props)
    n = check_count(count)
    idle = check_timeout(timeout, allow_none=True)
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
        raise ValueError(f"queue_size must be an int >= 1, not {queue_size!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable, not {callback!r}")
    return name_list, {"rule": rule, "count": n, "mask": bits, "idle_timeout": idle,
                       "queue_size": queue_size, "callback": callback}


def client_config(config: ClientConfig | None = None, addr_list: Any = None,
                  auto_addr_list: Any = None, name_servers: Any = None,
                  server_port: Any = None, max_array_bytes: Any = None) -> ClientConfig:
    """A library Context's settings: ``config`` (else the environment's) with the
    arguments given instead."""
    if config is None:
        config = ClientConfig.from_env(os.environ)
    elif not isinstance(config, ClientConfig):
        raise ValueError(f"config must be a ClientConfig, not {config!r}")
    changes: dict[str, Any] = {}
    if server_port is not None:
        changes["server_port"] = _port(server_port, "server_port")
    port = changes.get("server_port", config.server_port)
    if addr_list is not None:
        changes["addr_list"] = _addresses(addr_list, "addr_list", port)
    if name_servers is not None:
        changes["name_servers"] = _addresses(name_servers, "name_servers", port)
    if auto_addr_list is not None:
        changes["auto_addr_list"] = bool(auto_addr_list)
    if max_array_bytes is not None:
        if isinstance(max_array_bytes, bool) or not isinstance(max_array_bytes, int) \
                or max_array_bytes < 0:
            raise ValueError(f"max_array_bytes must be an int >= 0, not {max_array_bytes!r}")
        changes["max_array_bytes"] = max(max_array_bytes, 16384)
    return config.replace(**changes) if changes else config


def _port(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"{what} must be a port number 1..65535, not {value!r}")
    return value


def _addresses(value: Any, what: str, port: int) -> list[tuple[str, int]]:
    """``(host, port)`` pairs of ``"host[:port] ..."`` text or a list of such texts
    and ``(host, port)`` pairs."""
    items = [value] if isinstance(value, str) else value
    out: list[tuple[str, int]] = []
    try:
        for item in items:
            if isinstance(item, str):
                out += parse_address_list(what, item, port)
            elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                out.append((item[0], _port(item[1], f"the port of {what}")))
            else:
                raise ValueError(f"{what}: {item!r} is not 'host[:port]' or (host, port)")
    except TypeError:
        raise ValueError(f"{what} must be 'host[:port] ...' or a list of them, "
                         f"not {value!r}") from None
    return list(dict.fromkeys(out))


__all__ = ["get_operation", "put_operation", "info_operation", "monitor_arguments", "FORMATS", "MASK_LETTERS", "check_names", "check_name", "check_timeout",
           "check_count", "family_of", "type_rule", "write_type", "mask_bits",
           "needs_labels", "converter_for", "put_items", "put_converter", "shape",
           "client_config", "READ_GRACE", "MISSING"]
