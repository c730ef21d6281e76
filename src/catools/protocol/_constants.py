"""Fixed facts of Channel Access protocol 4.13 (see docs/spec-deviations.md)."""
from __future__ import annotations

import enum

#: Minor protocol version spoken by EPICS base 7 (major 4 is implicit).
DEFAULT_PROTOCOL_VERSION = 13
#: Oldest minor version a server accepts.
MIN_PROTOCOL_VERSION = 4
#: Minor version from which the extended (large array) header may be used.
LARGE_HEADER_VERSION = 9
#: Minor version from which count 0 means "all currently valid elements".
DYNAMIC_COUNT_VERSION = 13

SERVER_PORT = 5064
REPEATER_PORT = 5065

HEADER_SIZE = 16
EXTENDED_HEADER_SIZE = 24
#: Largest UDP search datagram libca builds.
MAX_UDP_SEND = 1024
#: Below this many bytes a message is "small"; also the floor of max array bytes.
MAX_TCP = 16384
MAX_STRING_SIZE = 40
MAX_UNITS_SIZE = 8
MAX_ENUM_STRING_SIZE = 26
MAX_ENUM_STATES = 16
#: Longest name (without NUL) that libca accepts on a circuit.
MAX_NAME_LENGTH = 1007
#: A name of this many characters or fewer is never over MAX_NAME_LENGTH UTF-8 bytes
#: (a cheap test to run before :func:`name_too_long`).
NAME_CHARS_SAFE = MAX_NAME_LENGTH // 4


def name_too_long(name: str) -> bool:
    """True when ``name`` (surrogate-escaped bytes kept as they were) is over
    MAX_NAME_LENGTH bytes: libca refuses to create a channel for it."""
    return len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_LENGTH
#: Longest CLIENT_NAME / HOST_NAME payload RSRV accepts, NUL included.
MAX_CLIENT_HOST_NAME = 512
PRIORITY_MIN = 0
PRIORITY_MAX = 99

#: Seconds from the Unix epoch (1970) to the EPICS epoch (1990-01-01 UTC).
EPICS2UNIX_EPOCH = 631152000

#: SEARCH ``dtype``: do not answer when the name is unknown / do answer NOT_FOUND.
DONT_REPLY = 5
DO_REPLY = 10

#: ``p1`` of a search reply meaning "the address the reply came from".
ANY_ADDRESS = 0xFFFFFFFF


class AccessRights(enum.IntFlag):
    """ACCESS_RIGHTS bits."""

    NO_ACCESS = 0
    READ = 1
    WRITE = 2
    READ_WRITE = 3


class SubscriptionType(enum.IntFlag):
    """DBE_* event mask bits of EVENT_ADD."""

    DBE_VALUE = 1
    DBE_LOG = 2
    DBE_ALARM = 4
    DBE_PROPERTY = 8


DBE_VALUE = SubscriptionType.DBE_VALUE
DBE_LOG = SubscriptionType.DBE_LOG
DBE_ARCHIVE = SubscriptionType.DBE_LOG
DBE_ALARM = SubscriptionType.DBE_ALARM
DBE_PROPERTY = SubscriptionType.DBE_PROPERTY

#: Alarm conditions (``status`` of STS/TIME/GR/CTRL structures), as the tools print them.
STATUS_NAMES = ("NO_ALARM", "READ", "WRITE", "HIHI", "HIGH", "LOLO", "LOW", "STATE", "COS",
                "COMM", "TIMEOUT", "HWLIMIT", "CALC", "SCAN", "LINK", "SOFT", "BAD_SUB",
                "UDF", "DISABLE", "SIMM", "READ_ACCESS", "WRITE_ACCESS")
#: Severity names as the C tools print them (the C macros add ``_ALARM``).
SEVERITY_NAMES = ("NO_ALARM", "MINOR", "MAJOR", "INVALID")
