"""ECA status codes, alarm conditions and alarm severities, each declared once."""
from __future__ import annotations

import enum
from ._constants import SEVERITY_NAMES, STATUS_NAMES
from ._records import Record


class Severity(enum.IntEnum):
    """Severity bits of an ECA code."""

    WARNING = 0
    SUCCESS = 1
    ERROR = 2
    INFO = 3
    SEVERE = 4
    FATAL = 6


class CAStatusCode(Record):
    """One ECA code: ``code = (msg_no << 3) | severity``."""

    __slots__ = ()

    name: str
    msg_no: int
    severity: Severity
    description: str
    defunct: bool

    @property
    def code(self) -> int:
        return (self.msg_no << 3) | int(self.severity)

    @property
    def success(self) -> bool:
        return bool(self.code & 1)


_W, _S, _E, _I, _F = (Severity.WARNING, Severity.SUCCESS, Severity.ERROR,
                      Severity.INFO, Severity.FATAL)

# (name, severity, defunct, ca_message() text); msg_no is the row index.
_ECA_TABLE = (
    ("ECA_NORMAL", _S, False, "Normal successful completion"),
    ("ECA_MAXIOC", _E, True, "Maximum simultaneous IOC connections exceeded"),
    ("ECA_UKNHOST", _E, True, "Unknown internet host"),
    ("ECA_UKNSERV", _E, True, "Unknown internet service"),
    ("ECA_SOCK", _E, True, "Unable to allocate a new socket"),
    ("ECA_CONN", _W, True, "Unable to connect to internet host or service"),
    ("ECA_ALLOCMEM", _W, False, "Unable to allocate additional dynamic memory"),
    ("ECA_UKNCHAN", _W, True, "Unknown IO channel"),
    ("ECA_UKNFIELD", _W, True, "Record field specified inappropriate for channel specified"),
    ("ECA_TOLARGE", _W, False, "The requested data transfer is greater than available "
                               "memory or EPICS_CA_MAX_ARRAY_BYTES"),
    ("ECA_TIMEOUT", _W, False, "User specified timeout on IO operation expired"),
    ("ECA_NOSUPPORT", _W, True, "Sorry, that feature is planned but not supported at this time"),
    ("ECA_STRTOBIG", _W, True, "The supplied string is unusually large"),
    ("ECA_DISCONNCHID", _E, True, "The request was ignored because the specified channel "
                                  "is disconnected"),
    ("ECA_BADTYPE", _E, False, "The data type specifed is invalid"),
    ("ECA_CHIDNOTFND", _I, True, "Remote Channel not found"),
    ("ECA_CHIDRETRY", _I, True, "Unable to locate all user specified channels"),
    ("ECA_INTERNAL", _F, False, "Channel Access Internal Failure"),
    ("ECA_DBLCLFAIL", _W, True, "The requested local DB operation failed"),
    ("ECA_GETFAIL", _W, False, "Channel read request failed"),
    ("ECA_PUTFAIL", _W, False, "Channel write request failed"),
    ("ECA_ADDFAIL", _W, True, "Channel subscription request failed"),
    ("ECA_BADCOUNT", _W, False, "Invalid element count requested"),
    ("ECA_BADSTR", _E, False, "Invalid string"),
    ("ECA_DISCONN", _W, False, "Virtual circuit disconnect"),
    ("ECA_DBLCHNL", _W, False, "Identical process variable names on multiple servers"),
    ("ECA_EVDISALLOW", _E, False, "Request inappropriate within subscription (monitor) "
                                  "update callback"),
    ("ECA_BUILDGET", _W, True, "Database value get for that channel failed during channel search"),
    ("ECA_NEEDSFP", _W, True, "Unable to initialize without the vxWorks VX_FP_TASK task option set"),
    ("ECA_OVEVFAIL", _W, True, "Event queue overflow has prevented first pass event after event add"),
    ("ECA_BADMONID", _E, False, "Bad event subscription (monitor) identifier"),
    ("ECA_NEWADDR", _W, True, "Remote channel has new network address"),
    ("ECA_NEWCONN", _I, True, "New or resumed network connection"),
    ("ECA_NOCACTX", _W, True, "Specified task isn't a member of a CA context"),
    ("ECA_DEFUNCT", _F, True, "Attempt to use defunct CA feature failed"),
    ("ECA_EMPTYSTR", _W, True, "The supplied string is empty"),
    ("ECA_NOREPEATER", _W, True, "Unable to spawn the CA repeater thread- auto reconnect will fail"),
    ("ECA_NOCHANMSG", _W, True, "No channel id match for search reply- search reply ignored"),
    ("ECA_DLCKREST", _W, True, "Reseting dead connection- will try to reconnect"),
    ("ECA_SERVBEHIND", _W, True, "Server (IOC) has fallen behind or is not responding- still waiting"),
    ("ECA_NOCAST", _W, True, "No internet interface with broadcast available"),
    ("ECA_BADMASK", _E, False, "Invalid event selection mask"),
    ("ECA_IODONE", _I, False, "IO operations have completed"),
    ("ECA_IOINPROGRESS", _I, False, "IO operations are in progress"),
    ("ECA_BADSYNCGRP", _E, False, "Invalid synchronous group identifier"),
    ("ECA_PUTCBINPROG", _E, False, "Put callback timed out"),
    ("ECA_NORDACCESS", _W, False, "Read access denied"),
    ("ECA_NOWTACCESS", _W, False, "Write access denied"),
    ("ECA_ANACHRONISM", _E, False, "Requested feature is no longer supported"),
    ("ECA_NOSEARCHADDR", _W, False, "Empty PV search address list"),
    ("ECA_NOCONVERT", _W, False, "No reasonable data conversion between client and server types"),
    ("ECA_BADCHID", _E, False, "Invalid channel identifier"),
    ("ECA_BADFUNCPTR", _E, False, "Invalid function pointer"),
    ("ECA_ISATTACHED", _W, False, "Thread is already attached to a client context"),
    ("ECA_UNAVAILINSERV", _W, False, "Not supported by attached service"),
    ("ECA_CHANDESTROY", _W, False, "User destroyed channel"),
    ("ECA_BADPRIORITY", _E, False, "Invalid channel priority"),
    ("ECA_NOTTHREADED", _E, False, "Preemptive callback not enabled - additional threads may "
                                   "not join context"),
    ("ECA_16KARRAYCLIENT", _W, False, "Client's protocol revision does not support transfers "
                                      "exceeding 16k bytes"),
    ("ECA_CONNSEQTMO", _W, False, "Virtual circuit connection sequence aborted"),
    ("ECA_UNRESPTMO", _W, False, "Virtual circuit unresponsive"),
)

#: Every ECA code in msg_no order.
ECA_CODES: tuple[CAStatusCode, ...] = tuple(
    CAStatusCode(name, no, sev, text, defunct)
    for no, (name, sev, defunct, text) in enumerate(_ECA_TABLE))

globals().update({s.name: s.code for s in ECA_CODES})


def __getattr__(name: str) -> object:
    # CAStatus (an IntEnum of 61 members) is built on first use: enum creation costs
    # start-up time that a plain caget does not need.
    if name == "CAStatus":
        # (members come from the ECA table, which mypy cannot read)
        status = enum.IntEnum(  # type: ignore[misc]
            "CAStatus", [(s.name, s.code) for s in ECA_CODES])
        status.__doc__ = "The encoded ECA values (``CAStatus.ECA_NORMAL == 1``)."
        status.__module__ = __name__
        globals()["CAStatus"] = status
        return status
    if name in _LAZY_ENUMS:      # also built on first use (once: stored in globals)
        doc, names = _LAZY_ENUMS[name]
        made = enum.IntEnum(name, [(n, i) for i, n in enumerate(names)])  # type: ignore[misc]
        made.__doc__ = doc
        made.__module__ = __name__
        globals()[name] = made
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_BY_MSG_NO = {s.msg_no: s for s in ECA_CODES}
UNKNOWN_MESSAGE = "new CA message number known only by server - see caerr.h"


def eca_lookup(code: int) -> CAStatusCode | None:
    """The table row of an encoded ECA value (by message number), or None."""
    return _BY_MSG_NO.get((code & 0xFFFF) >> 3)


def ca_message(code: int) -> str:
    """The text libca's ``ca_message()`` gives for an encoded ECA value."""
    row = eca_lookup(code)
    return row.description if row is not None else UNKNOWN_MESSAGE


def eca_success(code: int) -> bool:
    """True when the encoded ECA value is a success code."""
    return bool(code & 1)


_SEVERITY_MACROS = ("NO_ALARM", "MINOR_ALARM", "MAJOR_ALARM", "INVALID_ALARM")
_LAZY_ENUMS = {
    "AlarmStatus": ("Alarm condition (``status`` of STS/TIME/GR/CTRL structures).",
                    STATUS_NAMES),
    "AlarmSeverity": ("Alarm severity.", _SEVERITY_MACROS),
}


def alarm_status_name(status: int) -> str:
    """Name of an alarm status as the C tools print it ("??" out of range)."""
    return STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else "??"


def alarm_severity_name(severity: int) -> str:
    """Name of an alarm severity as the C tools print it ("??" out of range)."""
    return SEVERITY_NAMES[severity] if 0 <= severity < len(SEVERITY_NAMES) else "??"
