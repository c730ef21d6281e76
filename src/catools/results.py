"""What every operation answers: a :class:`Reading` (a value read from a PV, with its
metadata) or a failed :class:`Result`. Defined once, used by the client, the
formatters, the command-line tools and the library.

Pure: it imports only the protocol core (``to_json`` asks ``catools.format`` for the
record on first use).
"""
from __future__ import annotations

from array import array

from .errors import CAError
from .hints import TYPE_CHECKING
from .protocol import DBR_TYPES, EPICS2UNIX_EPOCH, FIRST_VALUE, DBRMetadata, data_size, decode_dbr

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Sequence

_ENUM = 3
_STRING = 0
_ENCODING = "utf-8"
#: How text that is not UTF-8 is decoded: losslessly (``.encode("utf-8",
#: "surrogateescape")`` gives the server's bytes back).
_ERRORS = "surrogateescape"


_new = object.__new__


_LIMIT_NAMES = ("lower_disp", "upper_disp", "lower_alarm", "lower_warning", "upper_warning",
                "upper_alarm", "lower_ctrl", "upper_ctrl")


def _limits_class() -> Any:
    """``Limits``, made on first use (a named tuple costs ~0.1 ms of every tool's
    start-up, and only readings of GR/CTRL types need it)."""
    cls = globals().get("_Limits")
    if cls is None:
        import collections      # (called as a function: mypy sees no static class here)
        make: Any = collections.namedtuple
        cls = make("Limits", _LIMIT_NAMES, defaults=(None,) * len(_LIMIT_NAMES))
        cls.__module__ = __name__
        cls.__doc__ = ("Display, alarm, warning and control limits of a GR/CTRL reading "
                       "(None: absent).")
        globals()["_Limits"] = cls
    return cls


def __getattr__(name: str) -> Any:
    if name == "Limits":
        return _limits_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Result:
    """The outcome of one operation on one PV: ``ok``, ``name`` and, when it failed,
    ``error`` (a :class:`catools.errors.CAError`)."""

    __slots__ = ("name", "error")

    def __init__(self, name: str, error: CAError | None = None) -> None:
        self.name = name
        self.error = error

    @property
    def ok(self) -> bool:
        """True when the operation succeeded."""
        return self.error is None

    @property
    def error_kind(self) -> str | None:
        """``not_found``, ``disconnected``, ``no_read_access``, ``no_write_access``,
        ``no_data`` or ``ca_error`` (as the ``--json`` records say); None if ok."""
        return None if self.error is None else getattr(self.error, "kind", "ca_error")

    @property
    def message(self) -> str | None:
        """The error's one-line message (without the PV name); None if ok."""
        error = self.error
        return None if error is None else getattr(error, "message", str(error))

    def raise_for_error(self) -> "Result":
        """Raise ``error`` if the operation failed; else return this Result."""
        if self.error is not None:
            raise self.error
        return self

    def __bool__(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        if self.error is None:
            return f"Result({self.name!r}, ok=True)"
        return f"Result({self.name!r}, ok=False, error={self.error!r})"


class Reading(Result):
    """One value read from a PV, with its metadata.

    The raw form is what the formatters read: ``data_type`` (DBR id), ``data`` (an
    ``array.array`` of numbers, or a list of 40-byte strings as bytes), ``count``,
    ``native_type``/``native_count`` of the channel and ``metadata`` (a
    ``DBRMetadata``). The friendly form is ``value``, ``severity``, ``timestamp``,
    ``units`` and the other properties.
    """

    __slots__ = ("data_type", "count", "native_type", "native_count", "labels", "reply",
                 "_data", "_metadata")

    def __init__(self, name: str, data_type: int, data: Sequence[Any] | None,
                 count: int = -1, native_type: int = -1, native_count: int = 0,
                 metadata: DBRMetadata | None = None,
                 labels: Sequence[str] | None = None, reply: Any = None) -> None:
        self.name = name
        self.error = None
        self.data_type = data_type
        self._data = data
        self.count = (len(data) if data is not None else 0) if count < 0 else count
        self.native_type = native_type
        self.native_count = native_count
        self._metadata = metadata
        #: enum labels known for the channel (from an earlier CTRL read), if any
        self.labels = labels
        #: the READ_NOTIFY or EVENT_ADD reply this reading was made of (None if made
        #: otherwise); ``data`` and ``metadata`` are decoded from it on first use
        self.reply = reply

    @classmethod
    def of(cls, name: str, response: Any, native_type: int = -1, native_count: int = 0,
           labels: Sequence[str] | None = None) -> "Reading":
        """The Reading of a READ_NOTIFY or EVENT_ADD reply (decoded when first used)."""
        self = _new(cls)        # (what __init__ does, without its checks: one per PV)
        self.name = name
        self.error = None
        self.data_type = response.data_type
        self.count = response.data_count
        self.native_type = native_type
        self.native_count = native_count
        self.labels = labels
        self.reply = response
        self._data = self._metadata = None
        return self

    @property
    def data(self) -> Any:
        """The elements: an ``array.array`` of numbers, or a list of bytes (strings)."""
        data = self._data
        if data is None:
            data = self._data = self.reply.data if self.reply is not None else []
        return data

    @property
    def metadata(self) -> DBRMetadata:
        """Alarm, timestamp and GR/CTRL fields (a ``DBRMetadata``; None where absent)."""
        metadata = self._metadata
        if metadata is None:
            metadata = self.reply.metadata if self.reply is not None else None
            if metadata is None:
                metadata = DBRMetadata()
            self._metadata = metadata
        return metadata

    @classmethod
    def zeros(cls, name: str, data_type: int, count: int, native_type: int = -1,
              native_count: int = 0) -> "Reading":
        """An all-zero DBR of ``count`` elements (what C's tools print for a read the
        server failed)."""
        metadata, data = decode_dbr(data_type, bytes(data_size(data_type, count)), count)
        return cls(name, data_type, data, count, native_type, native_count, metadata)

    def padded(self, count: int) -> "Reading":
        """This reading, or when it holds fewer than ``count`` elements a copy
        zero-filled (empty strings) up to ``count``, as libca leaves a short reply."""
        have = self.count
        if have >= count:
            return self
        data = self.data
        if isinstance(data, list):
            data = data + [b""] * (count - have)
        else:
            data = array(data.typecode, data)   # type: ignore[attr-defined]
            data.extend(array(data.typecode, bytes(data.itemsize * (count - have))))
        return Reading(self.name, self.data_type, data, count, self.native_type,
                       self.native_count, self.metadata, self.labels)

    # -- the friendly form -----------------------------------------------------

    @property
    def ok(self) -> bool:
        return True

    @property
    def value(self) -> Any:
        """A scalar for one element, else a list; strings as ``str``; an enum as its
        label (``index`` has the number) when the labels are known."""
        base = DBR_TYPES[self.data_type].native
        data = self.data
        count = self.count
        if base == _STRING:
            items: list[Any] = [_text(b) for b in data[:count]]
        elif base == _ENUM and self.enum_strings:
            labels = self.enum_strings
            items = [labels[i] if 0 <= i < len(labels) else i for i in data[:count]]
        else:
            items = list(data[:count]) if count != len(data) else list(data)
        return items[0] if count == 1 else items

    @property
    def index(self) -> int | None:
        """An enum's state number (None for other types, or an empty reading)."""
        if DBR_TYPES[self.data_type].native != _ENUM or not self.count:
            return None
        return int(self.data[0])

    @property
    def severity(self) -> Any:
        """The alarm severity (an ``AlarmSeverity``), or None when the DBR type
        carries no alarm (None is not NO_ALARM)."""
        severity = self.metadata.severity
        if severity is None:
            return None
        from .protocol import AlarmSeverity
        try:
            return AlarmSeverity(severity)
        except ValueError:
            return severity

    @property
    def status(self) -> Any:
        """The alarm status (an ``AlarmStatus``), or None when the type carries none."""
        status = self.metadata.status
        if status is None:
            return None
        from .protocol import AlarmStatus
        try:
            return AlarmStatus(status)
        except ValueError:
            return status

    @property
    def seconds(self) -> int | None:
        """Seconds since the EPICS epoch (1990-01-01 UTC), exactly as sent."""
        stamp = self.metadata.timestamp
        return None if stamp is None else stamp[0]

    @property
    def nanoseconds(self) -> int | None:
        """Nanoseconds of the timestamp, exactly as sent."""
        stamp = self.metadata.timestamp
        return None if stamp is None else stamp[1]

    @property
    def timestamp(self) -> float | None:
        """POSIX seconds of the server's timestamp (None if the type has none)."""
        stamp = self.metadata.timestamp
        return None if stamp is None else stamp[0] + EPICS2UNIX_EPOCH + stamp[1] * 1e-9

    @property
    def datetime(self) -> Any:
        """The timestamp as an aware ``datetime`` in UTC (None if the type has none)."""
        stamp = self.metadata.timestamp
        if stamp is None:
            return None
        from datetime import datetime, timedelta, timezone
        return datetime.fromtimestamp(stamp[0] + EPICS2UNIX_EPOCH, timezone.utc) \
            + timedelta(microseconds=stamp[1] // 1000)

    @property
    def units(self) -> str | None:
        """Engineering units of a GR/CTRL reading."""
        units = self.metadata.units
        return None if units is None else _text(units)

    @property
    def precision(self) -> int | None:
        """Display precision of a floating-point GR/CTRL reading."""
        return self.metadata.precision

    @property
    def limits(self) -> Any:
        """The limits of a numeric GR/CTRL reading (None for other types)."""
        md = self.metadata
        if md.upper_disp_limit is None and md.upper_ctrl_limit is None:
            return None
        return _limits_class()(md.lower_disp_limit, md.upper_disp_limit, md.lower_alarm_limit,
                      md.lower_warning_limit, md.upper_warning_limit,
                      md.upper_alarm_limit, md.lower_ctrl_limit, md.upper_ctrl_limit)

    @property
    def enum_strings(self) -> list[str] | None:
        """An enum's state labels (from this reading's metadata, or known already)."""
        strings = self.metadata.enum_strings
        if strings is not None:
            return [_text(s) for s in strings]
        return None if self.labels is None else list(self.labels)

    def __float__(self) -> float:
        index = self.index
        if index is not None:
            return float(index)
        value = self.data[0] if self.count == 1 else self.value
        return float(value)

    def __int__(self) -> int:
        index = self.index
        if index is not None:
            return index
        value = self.data[0] if self.count == 1 else self.value
        return int(value)

    def __bool__(self) -> bool:
        return True

    def to_json(self, *, char_as_string: bool = False) -> str:
        """The ``caget --json`` record of this reading (one line, no newline; its
        ``client_epoch`` is the time of the call)."""
        from .format import json_record
        record: Callable[..., str] = json_record
        return record(self.name, self, char_as_string=char_as_string, stamp=True)

    def __repr__(self) -> str:
        extra = ""
        if self.severity is not None:
            extra = f", severity={self.severity.name if hasattr(self.severity, 'name') else self.severity}"
        return f"Reading({self.name!r}, value={self.value!r}{extra})"


class ChannelInfo(Result):
    """What a connected channel is: its server, native type and count, access rights
    and state. ``str()`` is cainfo's block for it."""

    __slots__ = ("state", "host", "server", "native_type", "native_count", "read_access",
                 "write_access")

    def __init__(self, name: str, *, state: str, host: str,
                 server: tuple[str, int] | None, native_type: int, native_count: int,
                 read_access: bool, write_access: bool) -> None:
        self.name = name
        self.error = None
        self.state = state
        #: ``host:port`` of the server as cainfo prints it (host names resolved)
        self.host = host
        #: ``(ip, port)`` of the server
        self.server = server
        self.native_type = native_type
        self.native_count = native_count
        self.read_access = read_access
        self.write_access = write_access

    @classmethod
    def of(cls, pv: Any) -> "ChannelInfo":
        """The info of a client PV (``catools.client.PV``) as it is now."""
        return cls(pv.name, state=pv.state, host=pv.host, server=pv.server,
                   native_type=pv.native_type, native_count=pv.native_count,
                   read_access=pv.read_access, write_access=pv.write_access)

    @property
    def ok(self) -> bool:
        return True

    @property
    def type_name(self) -> str:
        """The native type as cainfo names it (``DBF_DOUBLE``)."""
        from .protocol import dbf_name
        return dbf_name(self.native_type)

    def __str__(self) -> str:
        from .format import format_cainfo
        return format_cainfo(self.name, state=self.state, host=self.host,
                             read_access=self.read_access, write_access=self.write_access,
                             native_type=self.native_type, element_count=self.native_count)

    def __repr__(self) -> str:
        return (f"ChannelInfo({self.name!r}, host={self.host!r}, type={self.type_name}, "
                f"count={self.native_count}, access={'r' if self.read_access else '-'}"
                f"{'w' if self.write_access else '-'})")


def first_value(reading: Reading) -> Any:
    """The first numeric element of a reading made of a reply, straight from the
    reply's payload (None for strings and readings made otherwise): caget's one-pass
    lines read values this way, without decoding the reply."""
    reply = reading.reply
    entry = FIRST_VALUE[reading.data_type]
    if entry is None or reply is None:
        return None
    unpack_from, offset = entry
    return unpack_from(reply[-1], offset)[0]


def failure(name: str, error: CAError) -> Result:
    """A failed Result for ``name``."""
    return Result(name, error)


def _text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    raw = bytes(raw)
    nul = raw.find(b"\0")
    return (raw if nul < 0 else raw[:nul]).decode(_ENCODING, _ERRORS)


__all__ = ["Result", "Reading", "ChannelInfo", "first_value", "failure"]  # (and Limits)
