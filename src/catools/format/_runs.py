"""camonitor's lines (text and JSON) for a run of monitor updates at once.

A run (``catools.protocol.EventAddRun``) holds consecutive updates of one shape, each a
row ``(command, size, type, count, status, subscription id, alarm status, severity,
seconds, nanoseconds, value)``. For the usual shape (a DBR_TIME_* type, one element,
absolute server time) each line is one ``%`` format from the row, with the text of the
time's second cached and the name padded by that format (no per-PV text is kept); the
lines are the bytes the general path (:meth:`MonitorFormatter.update`,
:func:`json_record`) gives, which the tests hold equal. A shape or an option these do not
cover gives None (the caller then takes the general path); so do the rare rows inside a
covered run (NaN, an undefined or out-of-range time) take the general primitives.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ._epics import _name_field
from ._names import (DBR_DOUBLE, DBR_ENUM, DBR_FLOAT, DBR_LONG, DBR_SHORT, DBR_STRING,
                     TIME_TYPES, dbr_base_type, severity_to_text, status_to_text)
from ._values import EPICS_EPOCH_OFFSET, c_float, escape_bytes

__all__ = ["TextRuns", "JsonRuns"]

#: nanoseconds from which the microseconds are clamped (or the time is "OVF")
_ROUND_LIMIT = 999_999_500


def _string_text(raw: bytes) -> str:
    return escape_bytes(raw.split(b"\0", 1)[0])


class TextRuns:
    """camonitor's text lines of runs, for one :class:`MonitorFormatter` (whose
    timestamp cache and options it shares)."""

    def __init__(self, fmt: Any) -> None:
        self.fmt = fmt
        opts = fmt.opts
        self.sep = sep = fmt.sep
        self.quiet = sep + sep + "\n"
        self._tails: dict[tuple[int, int], str] = {}
        #: per DBR type: (line format, value converter or None), or None (general path)
        self._forms: dict[int, Any] = {}
        self.enabled = fmt._fast          # absolute server time only, no -# count
        self._opts = opts

    def name_column(self, name: str) -> str:
        """A scalar row's name column."""
        return _name_field(name, 1, self._opts)

    def _form(self, data_type: int) -> Any:
        found = self._forms.get(data_type, False)
        if found is not False:
            return found
        opts = self._opts
        base = dbr_base_type(data_type)
        conv: Callable[[Any], str] | None = None
        if data_type not in TIME_TYPES:
            value = None
        elif base == DBR_DOUBLE or base == DBR_FLOAT:
            value = None if opts.float_base is not None else opts.float_format
        elif base == DBR_LONG or base == DBR_SHORT:
            value = None if opts.int_base is not None else "%d"
        elif base == DBR_ENUM:
            value = "%d"
        elif base == DBR_STRING:
            value, conv = "%s", _string_text
        else:
            value = None
        sep = self.sep.replace("%", "%%")
        # (the name column is made by the format itself when the rows come with names)
        named = "%-30s " if self.sep == " " else "%s" + sep
        made = None if value is None else \
            ("%s%s%06d" + sep + value + "%s", conv, named + "%s%06d" + sep + value + "%s")
        self._forms[data_type] = made
        return made

    def _tail(self, status: int, severity: int) -> str:
        tail = self._tails.get((status, severity))
        if tail is None:
            sep = self.sep
            tail = self._tails[status, severity] = "%s%s%s%s\n" % (
                sep, status_to_text(status), sep, severity_to_text(severity))
        return tail

    def lines(self, run: Any, rows: Sequence[tuple[Any, ...]], cols: Sequence[str], *,
              names: bool = False) -> list[str] | None:
        """The lines of ``rows`` (of ``run``), ``cols[i]`` the name column of row i (with
        ``names``: the PV name of row i, padded here); None when the run needs the
        general path."""
        if not self.enabled or run.data_count != 1:
            return None
        form = self._form(run.data_type)
        if form is None:
            return None
        line_form, conv, named_form = form
        if names:
            line_form = named_form
        fmt = self.fmt
        stamp = fmt._ts
        data_type = run.data_type
        sep, quiet, tail_of = self.sep, self.quiet, self._tail
        last, prefix = -1, ""
        out: list[str] = []
        append = out.append
        for col, (_, _, _, _, _, _, status, severity, secs, nsecs, value) in zip(cols, rows):
            tail = tail_of(status, severity) if status or severity else quiet
            if conv is not None:
                value = conv(value)
            if secs != last or nsecs >= _ROUND_LIMIT or value != value:
                if (secs == 0 and nsecs == 0) or nsecs >= _ROUND_LIMIT or value != value:
                    # <undefined>, a clamped or "OVF" time, NaN: the general pieces
                    text = value if conv is not None else fmt._scalar(data_type, value, None)
                    if names:
                        col = self.name_column(col)
                    append(col + stamp((secs, nsecs)) + sep + text + tail)
                    continue
                stamp((secs, nsecs))
                prefix = stamp._prefix          # (the second's text, ending with ".")
                last = secs if secs else -1     # (second 0 may come as <undefined>)
            append(line_form % (col, prefix, (nsecs + 500) // 1000, value, tail))
        return out


class JsonRuns:
    """camonitor ``--json`` records of runs (the ``update`` events)."""

    def __init__(self) -> None:
        from . import _json
        self._json = _json
        #: per DBR type: {key: the record's head up to "value":}
        self.heads: dict[int, dict[Any, str]] = {}
        self._last = -1
        self._iso = ""

    def head(self, name: str, data_type: int, native_type: int) -> str:
        """The record's opening for an update of ``name`` (one element)."""
        j = self._json
        return '%s,"ok":true,%s,"count":1,"value":' % (
            j._head(name, "update"), j._TYPES[data_type, native_type])

    def lines(self, run: Any, rows: Sequence[tuple[Any, ...]], heads: Sequence[str],
              now: float) -> list[str] | None:
        """The records of ``rows`` (of ``run``), ``heads[i]`` the head of row i (see
        :meth:`head`); None when the run needs the general path."""
        data_type = run.data_type
        if run.data_count != 1 or data_type not in TIME_TYPES:
            return None
        base = dbr_base_type(data_type)
        j = self._json
        if base == DBR_DOUBLE:
            value_json: Callable[[Any], str] = _double_json
        elif base == DBR_FLOAT:
            def value_json(v: Any) -> str:
                return j._value_json(data_type, (v,), 1, False)
        elif base in (DBR_LONG, DBR_SHORT, DBR_ENUM):
            value_json = int.__repr__
        else:
            return None
        alarms = j._ALARM
        quiet = alarms[0, 0]
        tail = ',"client_epoch":%.6f}\n' % now
        iso_second = j._iso
        last, iso = self._last, self._iso
        form = ('%s%s,"timestamp":"%s.%09dZ","epoch":%d.%09d,"epics_seconds":%d,'
                '"nanoseconds":%d,%s' + tail.replace("%", "%%"))
        out: list[str] = []
        append = out.append
        for head, (_, _, _, _, _, _, status, severity, secs, nsecs, value) in zip(heads, rows):
            alarm = alarms[status, severity] if status or severity else quiet
            if secs != last or nsecs >= 1_000_000_000:
                if (secs == 0 and nsecs == 0) or nsecs >= 1_000_000_000:
                    stamp = '"timestamp":null,"epoch":null' if secs == 0 and nsecs == 0 \
                        else '"timestamp":"%s","epoch":%s' % iso_second(secs, nsecs)
                    append('%s%s,%s,"epics_seconds":%d,"nanoseconds":%d,%s%s' % (
                        head, value_json(value), stamp, secs, nsecs, alarm, tail))
                    continue
                iso = iso_second(secs, 0)[0][:-11]      # (the second's text)
                last = secs if secs else -1     # (second 0 may come as null)
            append(form % (head, value_json(value), iso, nsecs, secs + EPICS_EPOCH_OFFSET,
                           nsecs, secs, nsecs, alarm))
        self._last, self._iso = last, iso
        return out


def _double_json(v: float) -> str:
    text = float.__repr__(v)
    if text[-1] in "nf":            # nan, inf, -inf: as strings
        return '"NaN"' if v != v else ('"Infinity"' if v > 0 else '"-Infinity"')
    return text
