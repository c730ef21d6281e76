"""Byte-exact text output of EPICS base 7.0.8.1 ``caget``, ``caput``, ``camonitor``, ``cainfo``.

A *reading* is a :class:`catools.results.Reading` (or any object with its
``data_type``, ``native_type``, ``native_count``, ``count``, ``data`` and ``metadata``).
Functions return ``str`` (encode with ``utf-8``/``surrogateescape``) or write to a stream.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from itertools import chain
from math import isnan

from ..hints import TYPE_CHECKING, cast
from ..protocol import FIRST_VALUE
from ..protocol import DBRMetadata as Metadata
from ..results import Reading, Result
from ._names import (
    DBR_CHAR, DBR_CLASS_NAME, DBR_DOUBLE, DBR_ENUM, DBR_FLOAT, DBR_LONG, DBR_PUT_ACKT,
    DBR_SHORT, DBR_STRING, DBR_STSACK_STRING, LAST_BUFFER_TYPE, TIME_TYPES, dbf_to_dbr,
    dbf_type_to_text, dbr_base_type, dbr_type_to_text, is_buffer_type, is_ctrl, is_gr,
    is_sts, is_time, severity_to_text, status_to_text,
)
from ._options import FormatOptions
from ._values import (
    ENCODING, ERRORS, TimestampFormatter, c_float, char_string, epics_now, iter_values,
    iter_payload_values,
    raw_text, time_diff_seconds,
)

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, BinaryIO, Callable, TextIO

__all__ = [
    "Metadata", "ERROR_KINDS",
    "caget_pieces", "format_caget", "write_caget", "format_caget_error",
    "format_caput", "format_cainfo", "MonitorFormatter", "MonitorChannel",
    "dbr_details", "caget_lines", "error_of", "unread",
    "format_context_status",
]

#: Per-PV failure kinds understood by the error formatters.
ERROR_KINDS = ("not_found", "disconnected", "no_read_access", "ca_error", "no_data")

#: Value type of each DBR id (the scalar fast paths index it).
_BASE = tuple(dbr_base_type(t) for t in range(LAST_BUFFER_TYPE + 1))


def _name_field(name: str, n_elems: int, opts: FormatOptions) -> str:
    if n_elems <= 1 and opts.separator == " ":
        return "%-30s " % name
    return name + opts.separator


def _use_char_string(data_type: int, n_elems: int, opts: FormatOptions) -> bool:
    return (opts.char_as_string and dbr_base_type(data_type) == DBR_CHAR
            and data_type < DBR_PUT_ACKT and (opts.count > 0 or n_elems > 1))


def _value_pieces(reading: Any, opts: FormatOptions, with_count: bool) -> Iterator[str]:
    """Values as printed by caget plain/terse (optionally preceded by the count)."""
    n = reading.count
    if _use_char_string(reading.data_type, n, opts):
        yield char_string(reading.data)
        return
    if with_count and (opts.count > 0 or n > 1):
        yield "%d%s" % (n, opts.separator)
    reply = getattr(reading, "reply", None)
    if reply is not None:       # (numbers read straight from the reply: no array made)
        yield from iter_payload_values(reading.data_type, reply[-1], reply.data_count,
                                       opts, reading.metadata, stop=n)
    else:
        yield from iter_values(reading.data_type, reading.data, opts, reading.metadata,
                               stop=n)


_PLAIN_ERRORS = {
    "not_found": "*** not connected",
    "disconnected": "*** not connected",
    "no_read_access": "*** no read access",
    "no_data": "*** no data available (timeout)",
}


def _error_text(kind: str, message: str) -> str:
    if kind == "ca_error":
        return "*** CA error " + message
    try:
        return _PLAIN_ERRORS[kind]
    except KeyError:
        raise ValueError(f"unknown error kind {kind!r}") from None


def scalar_format(opts: FormatOptions, data_type: int) -> str | None:
    """The printf-style format of caget's plain/terse line for one value of DBR type
    ``data_type`` in the default number formats (the common case of a many-PV caget):
    ``form % (name, value)`` is the line; None when the general path is needed (and
    for NaN, which printf spells its own way)."""
    if opts.count or opts.mode not in ("plain", "terse") or not is_buffer_type(data_type):
        return None
    base = _BASE[data_type]
    if base == DBR_DOUBLE or base == DBR_FLOAT:
        if opts.float_base is not None:
            return None
        value_format = opts.float_format
    elif base == DBR_LONG or base == DBR_SHORT:
        if opts.int_base is not None:
            return None
        value_format = "%d"
    else:
        return None
    if opts.mode == "terse":
        head = "%.0s"           # (the name, printed as nothing)
    elif opts.separator == " ":
        head = "%-30s "
    else:
        head = "%s" + opts.separator.replace("%", "%%")
    return head + value_format + "\n"


def scalar_formats(opts: FormatOptions) -> tuple[str | None, ...]:
    """:func:`scalar_format` for every DBR type (0..38)."""
    return tuple(scalar_format(opts, data_type) for data_type in range(LAST_BUFFER_TYPE + 1))


def _scalar_line(name: str, reading: Any, opts: FormatOptions) -> str | None:
    if reading.count != 1:
        return None
    form = scalar_format(opts, reading.data_type)
    if form is None:
        return None
    value = reading.data[0]
    return form % (name, value) if value == value else None


def caget_pieces(name: str, reading: Any, opts: FormatOptions, *,
                 now: tuple[int, int] | None = None) -> Iterator[str]:
    """Yield the output of caget for one PV in pieces (ends with a newline)."""
    line = _scalar_line(name, reading, opts)
    if line is not None:
        yield line
        return
    if opts.mode == "wide":
        fmt = MonitorFormatter(opts.replace(ts_server=True, ts_client=False,
                                       ts_type="absolute"))
        yield from fmt.update_pieces(name, reading, MonitorChannel(), now=now)
        return
    if opts.mode == "dbr":
        yield name + "\n"
        yield from dbr_details(reading, opts)
        return
    if opts.mode == "plain":
        yield _name_field(name, reading.count, opts)
    yield from _value_pieces(reading, opts, with_count=True)
    yield "\n"


def format_caget(name: str, reading: Any, opts: FormatOptions, *,
                 now: tuple[int, int] | None = None) -> str:
    """caget's output for one PV, including the final newline."""
    return "".join(caget_pieces(name, reading, opts, now=now))


def write_caget(out: BinaryIO | TextIO, name: str, reading: Any, opts: FormatOptions, *,
                now: tuple[int, int] | None = None) -> None:
    """Stream caget's output for one PV to ``out`` chunk by chunk.

    ``out`` may be a text stream or a binary one (then encoded utf-8/surrogateescape).
    """
    write: Callable[[Any], Any] = out.write
    text = isinstance(out, io.TextIOBase)
    line = _scalar_line(name, reading, opts)
    if line is not None:
        write(line if text else line.encode(ENCODING, ERRORS))
        return
    for piece in caget_pieces(name, reading, opts, now=now):
        write(piece if text else piece.encode(ENCODING, ERRORS))


def caget_lines(results: Sequence[Result], opts: FormatOptions) -> list[str | None]:
    """caget's line for each Reading of ``results`` that holds one element (None for the
    others: failed Results, Readings that carry an ``error``, arrays): a numeric value
    in one printf-style format per DBR type, read straight from the reply's payload."""
    forms = scalar_formats(opts)
    # (a type with a scalar format is numeric: its FIRST_VALUE is not None)
    first_values = cast("tuple[tuple[Callable[..., tuple[Any, ...]], int], ...]", FIRST_VALUE)
    lines: list[str | None] = []
    append = lines.append
    for result in results:
        if result.__class__ is not Reading or result.error is not None \
                or result.count != 1:
            append(None)
            continue
        data_type = result.data_type
        form = forms[data_type]
        reply = result.reply  # type: ignore[attr-defined]
        if form is not None and reply is not None:
            # (results.first_value, inline: this loop runs once per PV)
            unpack_from, offset = first_values[data_type]
            value = unpack_from(reply[-1], offset)[0]
            if value == value:
                append(form % (result.name, value))
                continue
        append(format_caget(result.name, result, opts))
    return lines


def caget_value_lines(names: Sequence[str], data_types: Sequence[int],
                      values: Sequence[Any], opts: FormatOptions) -> str | None:
    """caget's output of PVs that each hold one numeric value (``names[i]``'s DBR type
    and value are ``data_types[i]`` and ``values[i]``), with one ``%`` for all when they
    share a type (no Reading made); None if one needs more (a string, an enum's label,
    a NaN): the caller then renders Results."""
    forms = scalar_formats(opts)
    kinds = set(data_types)
    if any(forms[data_type] is None for data_type in kinds) or any(map(isnan, values)):
        return None
    if len(kinds) == 1:
        form = cast(str, forms[data_types[0]])
        return (form * len(names)) % tuple(chain.from_iterable(zip(names, values)))
    return "".join([cast(str, forms[data_type]) % (name, value)
                    for name, data_type, value in zip(names, data_types, values)])


def error_of(result: Result) -> tuple[str, str]:
    """``(kind, message)`` of a failed Result as the error lines print it: a kind of
    :data:`ERROR_KINDS` (or ``not_found``) and, for a failing ECA status, its message."""
    kind = result.error_kind or "no_data"
    if kind == "no_write_access":
        return "no_read_access", ""
    if kind == "ca_error":
        status = getattr(result.error, "status", None)
        if status is None:
            return "no_data", ""
        from ..protocol import ca_message
        return kind, ca_message(int(status))
    if kind == "not_found":
        return kind, result.message or ""
    return kind, ""


def _too_large(error: Any) -> bool:
    status = getattr(error, "status", None)
    return getattr(status, "name", None) == "ECA_TOLARGE"


def unread(result: Result) -> bool:
    """True for a read C's tools report as "Read operation timed out": not answered,
    not allowed, or refused as too large to transfer (ECA_TOLARGE)."""
    kind = result.error_kind
    return kind in ("no_data", "no_read_access") or (kind == "ca_error"
                                                      and _too_large(result.error))


def format_caget_error(name: str, kind: str, opts: FormatOptions, *, count: int = 0,
                       message: str = "", now: tuple[int, int] | None = None) -> str:
    """The per-PV error line(s) of caget (``kind`` from :data:`ERROR_KINDS`).

    ``count`` is the element count caget knew (decides the name padding);
    ``message`` is the ``ca_message`` text for ``ca_error``.
    """
    if opts.mode == "wide":
        return MonitorFormatter(opts).error(name, kind, count=count, message=message, now=now)
    text = _error_text(kind, message)
    if opts.mode == "dbr":
        return "%s\n    %s\n" % (name, text)
    if opts.mode == "terse":
        return text + "\n"
    return _name_field(name, count, opts) + text + "\n"


def format_caput(which: str, name: str, reading: Any, opts: FormatOptions, *,
                 now: tuple[int, int] | None = None) -> str:
    """One ``Old : ``/``New : `` line of caput (``which`` is ``old`` or ``new``).

    ``opts.mode`` is ``plain``, ``terse`` (``-t``: no prefix) or ``wide`` (``-l``).
    caput never passes an element count, so ``opts.count`` is ignored.
    """
    if which not in ("old", "new"):
        raise ValueError("which must be 'old' or 'new'")
    opts = opts.replace(count=0)
    prefix = "" if opts.mode == "terse" else ("Old : " if which == "old" else "New : ")
    return prefix + format_caget(name, reading, opts, now=now)


_CAINFO_STATES = ("never connected", "previously connected", "connected", "closed")


def format_cainfo(name: str, *, state: int | str, host: str, read_access: bool,
                  write_access: bool, native_type: int, element_count: int) -> str:
    """cainfo's block for one channel. ``state`` is 0..3 or its text."""
    if isinstance(state, int):
        state = _CAINFO_STATES[state]
    return (
        f"{name}\n"
        f"    State:            {state}\n"
        f"    Host:             {host}\n"
        f"    Access:           {'' if read_access else 'no '}read, "
        f"{'' if write_access else 'no '}write\n"
        f"    Native data type: {dbf_type_to_text(native_type)}\n"
        f"    Request type:     {dbr_type_to_text(dbf_to_dbr(native_type))}\n"
        f"    Element count:    {element_count}\n"
    )


# --------------------------------------------------------------------------- caget -d

def _sts_lines(md: Any) -> str:
    return ("    Status:           %s\n    Severity:         %s\n"
            % (status_to_text(md.status), severity_to_text(md.severity)))


_LIMIT_LABELS = (
    ("Lo disp limit:    ", "lower_disp_limit"),
    ("Hi disp limit:    ", "upper_disp_limit"),
    ("Lo alarm limit:   ", "lower_alarm_limit"),
    ("Lo warn limit:    ", "lower_warning_limit"),
    ("Hi warn limit:    ", "upper_warning_limit"),
    ("Hi alarm limit:   ", "upper_alarm_limit"),
)
_CTRL_LABELS = (
    ("Lo ctrl limit:    ", "lower_ctrl_limit"),
    ("Hi ctrl limit:    ", "upper_ctrl_limit"),
)


def _limit(value: Any, base: int) -> str:
    if base in (DBR_FLOAT, DBR_DOUBLE):
        return c_float("%g", float(value))
    v = int(value)
    if base == DBR_CHAR:
        v = (v & 0xFF) - 256 if v & 0x80 else v & 0xFF
    elif base == DBR_SHORT:
        v = (v & 0xFFFF) - 0x10000 if v & 0x8000 else v & 0xFFFF
    return "%8d" % v


def _extra_info(reading: Any, fmt_ts: TimestampFormatter) -> str:
    """``dbr2str``: the lines after ``Value:`` for DBR types above DBR_DOUBLE."""
    t = reading.data_type
    md = reading.metadata
    base = dbr_base_type(t)
    if is_sts(t) or (base == DBR_STRING and (is_gr(t) or is_ctrl(t))):
        # (GR/CTRL_STRING are plain STS)
        return _sts_lines(md)
    if is_time(t):
        return "    Timestamp:        %s\n" % fmt_ts(md.timestamp) + _sts_lines(md)
    if is_gr(t) or is_ctrl(t):
        out = [_sts_lines(md)]
        if base == DBR_ENUM:
            strs = list(md.enum_strings or ())
            out.append("    Enums:            (%2d)\n" % len(strs))
            out.extend("                      [%2d] %s\n" % (i, raw_text(s))
                       for i, s in enumerate(strs))
            return "".join(out)
        out.append("    Units:            %s\n" % raw_text(md.units))
        if base in (DBR_FLOAT, DBR_DOUBLE):
            out.append("    Precision:        %d\n" % md.precision)
        labels = _LIMIT_LABELS + (_CTRL_LABELS if is_ctrl(t) else ())
        out.extend("    %s%s\n" % (label, _limit(getattr(md, attr), base))
                   for label, attr in labels)
        return "".join(out)
    if t == DBR_STSACK_STRING:
        return (_sts_lines(md) + "    Ack transient?:   %s\n    Ack severity:     %s\n"
                % ("YES" if md.ackt else "NO", severity_to_text(md.acks)))
    return "can't print data type\n"


def dbr_details(reading: Any, opts: FormatOptions, *,
                fmt_ts: TimestampFormatter | None = None) -> Iterator[str]:
    """The indented block of ``caget -d`` (everything after the name line)."""
    t = reading.data_type
    yield "    Native data type: %s\n" % dbf_type_to_text(reading.native_type)
    yield "    Request type:     %s\n" % dbr_type_to_text(t)
    if t == DBR_CLASS_NAME:
        yield "    Class Name:       %s\n" % raw_text(reading.data[0] if reading.data else b"")
        return
    yield "    Element count:    %d\n    Value:            " % reading.count
    yield from _value_pieces(reading, opts, with_count=False)
    yield "\n"
    if t > DBR_DOUBLE:
        yield _extra_info(reading, fmt_ts or TimestampFormatter())


# --------------------------------------------------------------------------- wide / camonitor

class MonitorChannel:
    """Per-channel state of the wide formatter (``pv`` struct fields of tool_lib.c).

    ``count`` is the element count used for the name padding of ``disconnected``
    lines; set it to the native count on connect (updates refresh it).
    """

    __slots__ = ("first_printed", "prev_client", "prev_server", "count")

    def __init__(self, count: int = 0) -> None:
        self.first_printed = False
        self.prev_client: tuple[int, int] = (0, 0)
        self.prev_server: tuple[int, int] = (0, 0)
        self.count = count


class MonitorFormatter:
    """Wide lines (``print_time_val_sts``): camonitor, ``caget -a`` and ``caput -l``.

    Holds the program-wide timestamp state (start, first server stamp, previous
    stamps) for camonitor's ``-t r/i/I`` modes. ``start`` is the EPICS time at which
    the program started (defaults to now).
    """

    def __init__(self, opts: FormatOptions, *, start: tuple[int, int] | None = None) -> None:
        self.opts = opts
        self.sep = opts.separator
        self.start = start if start is not None else epics_now()
        self.first_server: tuple[int, int] | None = None
        self.prev_client: tuple[int, int] = (0, 0)
        self.prev_server: tuple[int, int] = (0, 0)
        self._ts = TimestampFormatter()
        self._now_ts = TimestampFormatter()
        self._scalar_float = (opts.float_base is None)
        self._int_fast = opts.int_base is None
        self._names: dict[tuple[str, bool], str] = {}
        # absolute server time only and no -# count: lines need no per-channel history
        self._fast = (opts.ts_type == "absolute" and opts.ts_server and not opts.ts_client
                      and opts.count == 0)

    # -- helpers
    def _name(self, name: str, n_elems: int) -> str:
        key = (name, n_elems <= 1)
        s = self._names.get(key)
        if s is None:
            if len(self._names) > 100_000:
                self._names.clear()
            s = self._names[key] = _name_field(name, n_elems, self.opts)
        return s

    def _stamps(self, server: tuple[int, int], chan: MonitorChannel,
                now: tuple[int, int]) -> str:
        opts = self.opts
        print_abs = not chan.first_printed
        if self.first_server is None:
            self.first_server = server
        tst = opts.ts_type
        if tst == "relative":
            ref_c, ref_s = self.start, self.first_server
        elif tst == "incremental":
            ref_c, ref_s = self.prev_client, self.prev_server
        elif tst == "incremental_by_channel":
            ref_c, ref_s = chan.prev_client, chan.prev_server
        else:
            print_abs = True
        parts = []
        if print_abs:
            if opts.ts_server:
                parts.append(self._ts(server))
            if opts.ts_client:
                parts.append("(%s)" % self._ts(now))
            chan.first_printed = True
        else:
            if opts.ts_server:
                parts.append("              %+12.6f" % time_diff_seconds(server, ref_s))
            if opts.ts_client:
                parts.append("              (%+12.6f)" % time_diff_seconds(now, ref_c))
        if tst == "incremental_by_channel":
            chan.prev_client = now
            chan.prev_server = server
        self.prev_client = now
        self.prev_server = server
        return "".join(parts)

    # -- public
    def update_pieces(self, name: str, reading: Any, chan: MonitorChannel, *,
                      now: tuple[int, int] | None = None) -> Iterator[str]:
        """Pieces of one wide line for a reading (ends with a newline)."""
        opts = self.opts
        sep = self.sep
        n = reading.count
        chan.count = n
        yield self._name(name, n)
        t = reading.data_type
        if not is_time(t):
            yield "can't print data type\n"
            return
        md = reading.metadata
        if now is None:
            now = epics_now() if opts.ts_client else (0, 0)
        yield self._stamps(md.timestamp or (0, 0), chan, now)
        if _use_char_string(t, n, opts):
            limit = opts.count if 0 < opts.count < n else n
            yield sep + char_string(reading.data, limit)
        else:
            if opts.count > 0 or n > 1:
                yield "%s%d" % (sep, n)
            if n == 1:
                yield sep + self._scalar(t, reading.data[0], md)
            elif n > 1:
                pieces = iter_values(t, reading.data, opts, md, stop=n)
                yield sep + next(pieces)
                yield from pieces
        status, severity = md.status or 0, md.severity or 0
        if status or severity:
            yield "%s%s%s%s\n" % (sep, status_to_text(status), sep, severity_to_text(severity))
        else:
            yield sep + sep + "\n"

    def _scalar(self, t: int, v: Any, md: Any) -> str:
        base = _BASE[t]
        if base == DBR_DOUBLE or base == DBR_FLOAT:
            if self._scalar_float:
                s = self.opts.float_format % v
                return s if "nan" not in s else c_float(self.opts.float_format, v)
        elif base == DBR_LONG or base == DBR_SHORT:
            if self._int_fast:
                return "%d" % v
        return next(iter_values(t, (v,), self.opts, md))

    def update(self, name: str, reading: Any, chan: MonitorChannel, *,
               now: tuple[int, int] | None = None) -> str:
        """One complete wide line for a reading."""
        if self._fast and reading.count == 1:
            t = reading.data_type
            if t in TIME_TYPES:     # a TIME type: the usual scalar monitor update
                md = reading.metadata
                sep = self.sep
                chan.count = 1
                chan.first_printed = True
                stamp = self._ts(md.timestamp or (0, 0))
                status, severity = md.status or 0, md.severity or 0
                if status or severity:
                    tail = "%s%s%s%s\n" % (sep, status_to_text(status), sep,
                                           severity_to_text(severity))
                else:
                    tail = sep + sep + "\n"
                return (self._name(name, 1) + stamp + sep
                        + self._scalar(t, reading.data[0], md) + tail)
        return "".join(self.update_pieces(name, reading, chan, now=now))

    def error(self, name: str, kind: str, *, count: int = 0, message: str = "",
              now: tuple[int, int] | None = None) -> str:
        """Wide error line: ``not_found`` prints ``*** Not connected (PV not found)``,
        the others ``<client time> *** ...``."""
        head = self._name(name, count)
        if kind == "not_found":
            return head + "*** Not connected (PV not found)\n"
        when = self._now_ts(now if now is not None else epics_now())
        if kind == "disconnected":
            return "%s%s *** disconnected\n" % (head, when)
        return "%s%s %s\n" % (head, when, _error_text(kind, message))

    def disconnected(self, name: str, chan: MonitorChannel, *,
                     now: tuple[int, int] | None = None) -> str:
        """camonitor's ``*** disconnected`` line."""
        return self.error(name, "disconnected", count=chan.count, now=now)

    def not_found(self, name: str) -> str:
        """camonitor's line for a PV that never connected."""
        return self.error(name, "not_found")


# --------------------------------------------------------------------------- cainfo -s

def format_context_status(status: Any, level: int, title: str) -> str:
    """Our text of ca_client_status() (cainfo ``-s``) for a client ``ContextStatus``
    (``Context.describe()``): where it searches, its circuits (with their channels from
    ``level`` 1) and (from level 2) the PVs not connected."""
    targets = " ".join(f"{h}:{p}" for h, p in status.search_targets) or "(none)"
    lines = [title, f"    search destinations: {targets}",
             f"    channels: {status.channels}, circuits: {len(status.circuits)}"]
    for circuit in status.circuits:
        host, port = circuit.address
        lines.append(f"    circuit to {host}:{port} priority {circuit.priority}: "
                     f"{len(circuit.pvs)} channels, protocol 4.{circuit.protocol_minor}")
        if level >= 1:
            lines.extend(f"        {pv.name} ({pv.state}, {'r' if pv.read_access else '-'}"
                         f"{'w' if pv.write_access else '-'})" for pv in circuit.pvs)
    if level >= 2:
        lines.extend(f"    unresolved: {pv.name}" for pv in status.unconnected)
    return "\n".join(lines) + "\n"
