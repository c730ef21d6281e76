"""Name tables used by the EPICS tools: DBF/DBR type names and alarm names.

These mirror the tables of EPICS base (``db_access.h``, ``alarm.h``) so that text
output matches the C tools, including their spelling of invalid values.
"""

from __future__ import annotations

import re

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
    "default_request_type",
]

from ..protocol._dbr import DBR_TYPES, NATIVE_TYPES
from ..protocol._constants import SEVERITY_NAMES, STATUS_NAMES

# Every name below is derived from the protocol core's tables (declared once there).

#: Field types, indexed by ``type + 1`` (``-1`` is "not connected").
DBF_NAMES: tuple[str, ...] = ("TYPENOTCONN", *(f"DBF_{n.name}" for n in NATIVE_TYPES),
                              "DBF_NO_ACCESS")
DBF_INVALID = "DBF_invalid"

#: Request (DBR) type names, indexed by type id 0..38.
DBR_NAMES: tuple[str, ...] = tuple(f"DBR_{row.name}" for row in DBR_TYPES)
DBR_INVALID = "DBR_invalid"

DBR_STRING, DBR_SHORT, DBR_FLOAT, DBR_ENUM, DBR_CHAR, DBR_LONG, DBR_DOUBLE = range(7)
DBR_PUT_ACKT, DBR_PUT_ACKS, DBR_STSACK_STRING, DBR_CLASS_NAME = 35, 36, 37, 38
LAST_BUFFER_TYPE = DBR_CLASS_NAME

#: ``epicsAlarmConditionStrings`` of EPICS base 7.
ALARM_STATUS_NAMES: tuple[str, ...] = STATUS_NAMES
#: ``epicsAlarmSeverityStrings``.
ALARM_SEVERITY_NAMES: tuple[str, ...] = SEVERITY_NAMES


def dbf_type_to_text(dbf: int) -> str:
    """``dbf_type_to_text``: ``-1`` gives ``TYPENOTCONN``, out of range ``DBF_invalid``."""
    if -1 <= dbf <= 6:
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
    if dbr in (DBR_STSACK_STRING, DBR_CLASS_NAME):
        return DBR_STRING
    if dbr in (DBR_PUT_ACKT, DBR_PUT_ACKS):
        return DBR_ENUM
    return dbr % 7


def dbr_class(dbr: int) -> str:
    """``plain``, ``sts``, ``time``, ``gr``, ``ctrl``, or the special name in lower case."""
    if 0 <= dbr <= 34:
        return ("plain", "sts", "time", "gr", "ctrl")[dbr // 7]
    return {35: "put_ackt", 36: "put_acks", 37: "stsack", 38: "class_name"}.get(dbr, "invalid")


def is_sts(dbr: int) -> bool:
    return 7 <= dbr <= 13


def is_time(dbr: int) -> bool:
    return 14 <= dbr <= 20


def is_gr(dbr: int) -> bool:
    return 21 <= dbr <= 27


def is_ctrl(dbr: int) -> bool:
    return 28 <= dbr <= 34


def _conv(dbf: int, offset: int) -> int:
    return dbf + offset if 0 <= dbf <= 6 else -1


def dbf_to_dbr(dbf: int) -> int:
    return _conv(dbf, 0)


def dbf_to_dbr_sts(dbf: int) -> int:
    return _conv(dbf, 7)


def dbf_to_dbr_time(dbf: int) -> int:
    return _conv(dbf, 14)


def dbf_to_dbr_gr(dbf: int) -> int:
    return _conv(dbf, 21)


def dbf_to_dbr_ctrl(dbf: int) -> int:
    return _conv(dbf, 28)


def default_request_type(native_type: int, *, enum_as_number: bool = False,
                         float_as_string: bool = False) -> int:
    """DBR type that caget (without ``-d``), caput and camonitor request.

    Native ``DBR_TIME_xxx``; enums as ``DBR_TIME_STRING`` (``DBR_TIME_SHORT`` with
    ``-n``); FLOAT/DOUBLE as ``DBR_TIME_STRING`` with ``-s``.
    """
    t = dbf_to_dbr_time(native_type)
    if native_type == DBR_ENUM:
        return 15 if enum_as_number else 14
    if float_as_string and native_type in (DBR_FLOAT, DBR_DOUBLE):
        return 14
    return t
