"""Name tables used by the EPICS tools: DBF/DBR type names and alarm names.

These mirror the tables of EPICS base (``db_access.h``, ``alarm.h``) so that text
output matches the C tools, including their spelling of invalid values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "DBF_NAMES",
    "DBR_NAMES",
    "ALARM_STATUS_NAMES",
    "ALARM_SEVERITY_NAMES",
    "dbf_type_to_text",
    "dbr_type_to_text",
    "dbr_text_to_type",
    "parse_dbr_type",
    "status_to_text",
    "severity_to_text",
    "dbr_base_type",
    "dbr_class",
    "is_sts",
    "is_time",
    "is_gr",
    "is_ctrl",
    "dbf_to_dbr",
    "dbf_to_dbr_sts",
    "dbf_to_dbr_time",
    "dbf_to_dbr_gr",
    "dbf_to_dbr_ctrl",
    "is_buffer_type",
    "readable_dbr_type",
    "invalid_names",
    "bad_name_line",
    "TIME_TYPES",
    "MAX_STRING_SIZE",
]

from ..protocol import (DBR_TYPES, FAMILIES, MAX_DBR_TYPE, MAX_STRING_SIZE, NAME_CHARS_SAFE,
                        NATIVE_TYPES, SEVERITY_NAMES, STATUS_NAMES, name_too_long)

# Every name and number below is derived from the protocol core's tables (declared once
# there): the DBR ids by name, the families by position.

#: Field types, indexed by ``type + 1`` (``-1`` is "not connected").
DBF_NAMES: tuple[str, ...] = ("TYPENOTCONN", *(f"DBF_{n.name}" for n in NATIVE_TYPES),
                              "DBF_NO_ACCESS")
DBF_INVALID = "DBF_invalid"

#: Request (DBR) type names, indexed by type id 0..38.
DBR_NAMES: tuple[str, ...] = tuple(f"DBR_{row.name}" for row in DBR_TYPES)
DBR_INVALID = "DBR_invalid"

_IDS = {row.name: row.id for row in DBR_TYPES}
DBR_STRING, DBR_SHORT, DBR_FLOAT, DBR_ENUM, DBR_CHAR, DBR_LONG, DBR_DOUBLE = (
    _IDS[n.name] for n in NATIVE_TYPES)
DBR_PUT_ACKT, DBR_PUT_ACKS = _IDS["PUT_ACKT"], _IDS["PUT_ACKS"]
DBR_STSACK_STRING, DBR_CLASS_NAME = _IDS["STSACK_STRING"], _IDS["CLASS_NAME"]
LAST_BUFFER_TYPE = MAX_DBR_TYPE
#: Number of native types: the stride between two families of DBR ids.
_N_NATIVE = len(NATIVE_TYPES)
_STS, _TIME, _GR, _CTRL = (FAMILIES.index(f) for f in ("status", "time", "graphic", "control"))
#: Family (0..4, -1 for the special types) and value type of each DBR id.
_FAMILY = tuple(row.family for row in DBR_TYPES)
_BASE = tuple(row.native for row in DBR_TYPES)
#: The DBR_TIME_xxx ids (camonitor's and caget -a's types).
TIME_TYPES = frozenset(row.id for row in DBR_TYPES if row.family == _TIME)
_CLASS_NAMES = ("plain", "sts", "time", "gr", "ctrl")
_SPECIAL_CLASSES = {DBR_PUT_ACKT: "put_ackt", DBR_PUT_ACKS: "put_acks",
                    DBR_STSACK_STRING: "stsack", DBR_CLASS_NAME: "class_name"}

#: ``epicsAlarmConditionStrings`` of EPICS base 7.
ALARM_STATUS_NAMES: tuple[str, ...] = STATUS_NAMES
#: ``epicsAlarmSeverityStrings``.
ALARM_SEVERITY_NAMES: tuple[str, ...] = SEVERITY_NAMES


def dbf_type_to_text(dbf: int) -> str:
    """``dbf_type_to_text``: ``-1`` gives ``TYPENOTCONN``, out of range ``DBF_invalid``."""
    if -1 <= dbf < _N_NATIVE:
        return DBF_NAMES[dbf + 1]
    return DBF_INVALID


def dbr_type_to_text(dbr: int) -> str:
    """``dbr_type_to_text``: out of range gives ``DBR_invalid``."""
    if 0 <= dbr <= LAST_BUFFER_TYPE:
        return DBR_NAMES[dbr]
    return DBR_INVALID


_ALIASES = {name.replace("SHORT", "INT"): i for i, name in enumerate(DBR_NAMES)
            if name.endswith("SHORT")}


def dbr_text_to_type(text: str) -> int:
    """Exact DBR name (``DBR_INT`` aliases included) to its id, or ``-1``."""
    if text in _ALIASES:
        return _ALIASES[text]
    try:
        return DBR_NAMES.index(text)
    except ValueError:
        return -1


_SCANF_INT = r"\s*([+-]?\d+)"     # (compiled on first use, by re's cache)


def parse_dbr_type(arg: str) -> int:
    """Parse a ``caget -d`` argument the way caget does.

    A leading integer (``sscanf %d``) wins; otherwise the exact name, then the name
    with ``DBR_`` prepended. Returns ``-1`` when nothing matches. Range checks (and
    the rejection of PUT_ACKT/PUT_ACKS) are left to the caller.
    """
    m = re.match(_SCANF_INT, arg)
    if m:
        return int(m.group(1))
    # caget compares with dbr_text[] only, which spells 1/8/15/22/29 "SHORT": the
    # DBR_INT names of its usage text are rejected.
    for text in (arg, "DBR_" + arg[:25]):
        if text in DBR_NAMES:
            return DBR_NAMES.index(text)
    return -1


def status_to_text(status: int) -> str:
    """Alarm status name, ``??`` when out of range."""
    return ALARM_STATUS_NAMES[status] if 0 <= status < len(ALARM_STATUS_NAMES) else "??"


def severity_to_text(severity: int) -> str:
    """Alarm severity name, ``??`` when out of range."""
    return ALARM_SEVERITY_NAMES[severity] if 0 <= severity < len(ALARM_SEVERITY_NAMES) else "??"


def dbr_base_type(dbr: int) -> int:
    """Value type (0..6) carried by a DBR type; STSACK_STRING/CLASS_NAME give DBR_STRING.

    PUT_ACKT/PUT_ACKS (unsigned shorts) give DBR_ENUM.
    """
    if 0 <= dbr <= LAST_BUFFER_TYPE:
        return _BASE[dbr]
    return dbr % _N_NATIVE


def dbr_class(dbr: int) -> str:
    """``plain``, ``sts``, ``time``, ``gr``, ``ctrl``, or the special name in lower case."""
    if 0 <= dbr <= LAST_BUFFER_TYPE:
        family = _FAMILY[dbr]
        return _CLASS_NAMES[family] if family >= 0 else _SPECIAL_CLASSES[dbr]
    return "invalid"


def _family(dbr: int) -> int:
    return _FAMILY[dbr] if 0 <= dbr <= LAST_BUFFER_TYPE else -1


def is_sts(dbr: int) -> bool:
    return _family(dbr) == _STS


def is_time(dbr: int) -> bool:
    return _family(dbr) == _TIME


def is_gr(dbr: int) -> bool:
    return _family(dbr) == _GR


def is_ctrl(dbr: int) -> bool:
    return _family(dbr) == _CTRL


def is_buffer_type(dbr: int) -> bool:
    """True for the DBR types of the five families (not PUT_ACKT ... CLASS_NAME)."""
    return _family(dbr) >= 0


def readable_dbr_type(dbr: int) -> bool:
    """Whether caget ``-d`` reads this DBR id (any but PUT_ACKT/PUT_ACKS, which are for
    writing, and ids out of range)."""
    return 0 <= dbr <= LAST_BUFFER_TYPE and dbr not in (DBR_PUT_ACKT, DBR_PUT_ACKS)


def _conv(dbf: int, family: int) -> int:
    return dbf + _N_NATIVE * family if 0 <= dbf < _N_NATIVE else -1


def dbf_to_dbr(dbf: int) -> int:
    return _conv(dbf, 0)


def dbf_to_dbr_sts(dbf: int) -> int:
    return _conv(dbf, _STS)


def dbf_to_dbr_time(dbf: int) -> int:
    return _conv(dbf, _TIME)


def dbf_to_dbr_gr(dbf: int) -> int:
    return _conv(dbf, _GR)


def dbf_to_dbr_ctrl(dbf: int) -> int:
    return _conv(dbf, _CTRL)


def invalid_names(names: Iterable[str]) -> list[str]:
    """The names libca refuses to create a channel for: empty, or longer than
    MAX_NAME_LENGTH bytes (a search must fit one datagram)."""
    names = names if isinstance(names, (list, tuple)) else list(names)
    if all(names) and max(map(len, names), default=0) <= NAME_CHARS_SAFE:
        return []                       # (the usual case, checked in C)
    return [name for name in names
            if not name or (len(name) > NAME_CHARS_SAFE and name_too_long(name))]


def bad_name_line(name: str) -> str:
    """The C tools' line for a name libca refuses (ECA_BADSTR), without newline."""
    from ..protocol import CAStatus, ca_message
    return (f"CA error {ca_message(int(CAStatus.ECA_BADSTR))} occurred while trying to "
            f"create channel '{name}'.")
