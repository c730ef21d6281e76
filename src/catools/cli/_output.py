"""Where a command's results go: one sink per run, chosen once by :func:`open_sink`.

:class:`EpicsText` writes the C tools' bytes (caget's one-pass lines, camonitor's lines
straight from each reply), :class:`Colour` the same lines coloured by the Reading's
severity for a terminal, :class:`Json` one JSON object per line. The sinks queue text
and write it once per :meth:`EpicsText.flush` (once per turn of the client's loop).
Whether output is JSON, coloured or plain is decided here and nowhere else.
"""
from __future__ import annotations

import os
import sys

from ..hints import TYPE_CHECKING, cast
from ..results import ChannelInfo, Reading, Result
from ._app import ExitStatus, Stdout, warn

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Sequence

    #: ``on_event(name, kind, reply, pv)`` of a monitor (``catools.client.Subscribe``).
    EventHandler = Callable[[str, str, Any, Any], None]

ENCODING, ERRORS = "utf-8", "surrogateescape"


def _colour_wanted(stream: Any) -> bool:
    """NO_COLOR (non-empty) turns colour off; else FORCE_COLOR (non-empty, not "0")
    turns it on, even into a pipe; else a terminal whose TERM is not "dumb"."""
    env = os.environ
    if env.get("NO_COLOR"):
        return False
    force = env.get("FORCE_COLOR")
    if force and force != "0":
        return True
    if env.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def error_word() -> str:
    """ "ERROR", in bold red only when stderr is a terminal (the C tools always colour)."""
    return "\033[31;1mERROR\033[0m" if _colour_wanted(sys.stderr) else "ERROR"


def open_sink(output: str, *, colour: bool = True) -> EpicsText:
    """The sink of ``output`` (``--json`` gives "json", else "text"): Json, Colour
    (stdout is a terminal, NO_COLOR unset, ``colour`` allowed) or EpicsText."""
    stream = Stdout()
    if output == "json":
        return Json(stream)
    if colour and _colour_wanted(sys.stdout):
        return Colour(stream)
    return EpicsText(stream)


def report_missing(results: Sequence[Result]) -> int:
    """One stderr line per PV that never connected; the exit status (1 if any)."""
    status = ExitStatus.OK
    for result in results:
        if result.error is not None and result.error_kind == "not_found":
            warn(str(result.message))
            status = ExitStatus.ERROR
    return int(status)


class EpicsText:
    """The C tools' text, byte for byte."""

    json = False

    def __init__(self, stream: Stdout) -> None:
        self.stream = stream
        self.pending: list[str] = []
        #: updates taken by :meth:`events` (camonitor's --count)
        self.updates = 0

    def line(self, text: str, severity: int | None = None, event: str | None = None) -> None:
        """Queue finished text (``severity``/``event`` choose its colour, if any)."""
        self.pending.append(text)

    def flush(self) -> None:
        """Write what is queued in one write, and flush."""
        pending = self.pending
        if pending:
            data = "".join(pending)
            pending.clear()
            self.stream.write(data.encode(ENCODING, ERRORS))
        self.stream.flush()

    def document(self, data: Any, text: Callable[[], str]) -> None:
        """A report (doctor, snap): ``text()`` for people; :class:`Json` writes
        ``data`` (JSON-able) as one object instead."""
        self.line(text())

    def reading(self, result: Reading, opts: Any) -> None:
        """caget's text of one reading (an array is streamed piece by piece)."""
        from ..format import write_caget
        self.flush_pending()
        write_caget(self.stream, result.name, result, opts)  # type: ignore[arg-type]

    def flush_pending(self) -> None:
        if self.pending:
            data = "".join(self.pending)
            self.pending.clear()
            self.stream.write(data.encode(ENCODING, ERRORS))

    # -- caget ---------------------------------------------------------------

    def caget_values(self, columns: tuple[Sequence[str], Sequence[int], Sequence[Any]],
                     opts: Any) -> bool:
        """caget's lines straight from ``(names, data types, values)`` when every PV holds
        one number (C's text only); False (nothing written) otherwise."""
        if type(self) is not EpicsText:
            return False
        from ..format import caget_value_lines
        text = caget_value_lines(*columns, opts)
        if text is None:
            return False
        self.stream.write(text.encode(ENCODING, ERRORS))  # type: ignore[arg-type]
        return True

    def caget(self, results: Sequence[Result], opts: Any, counts: Sequence[int]) -> None:
        """caget's output of ``results``; ``counts``: the element count asked for each
        (the name padding of an error line)."""
        from ..format import caget_lines
        lines = caget_lines(results, opts) if type(self) is EpicsText \
            else [None] * len(results)
        if None not in lines:
            # the usual case: every PV (each named once) answered with one value
            self.stream.write("".join(lines).encode(ENCODING, ERRORS))  # type: ignore[arg-type]
            return
        _warn_unread(results, "some PV data")
        from ..format import error_of, format_caget_error
        for result, line, count in zip(results, lines, counts):
            if line is not None:
                self.pending.append(line)
            elif isinstance(result, Reading):
                _warn_failed(result)
                self.reading(result, opts)
            elif result.error_kind != "not_found":
                kind, message = error_of(result)
                self.line(format_caget_error(result.name, kind, opts, count=count,
                                             message=message), event="error")

    # -- caput ---------------------------------------------------------------

    def put_reading(self, which: str, result: Result, opts: Any, count: int) -> None:
        """caput's ``Old :``/``New :`` line of a reading (``count``: the native count,
        the name padding of an error line)."""
        if isinstance(result, Reading):
            from ..format import format_caput
            _warn_failed(result)
            self.line(format_caput(which, result.name, result, opts),
                      result.metadata.severity)
            return
        from ..format import error_of, format_caget_error
        _warn_unread([result], "PV data")
        prefix = "" if opts.mode == "terse" else ("Old : " if which == "old" else "New : ")
        kind, message = error_of(result)
        self.line(prefix + format_caget_error(result.name, kind, opts, count=count,
                                              message=message), event="error")

    # -- cainfo --------------------------------------------------------------

    def infos(self, results: Sequence[Result]) -> None:
        """cainfo's block of each connected channel."""
        from ..format import format_cainfo
        for info in cast("Sequence[ChannelInfo]", results):     # (the ok ones)
            if info.ok:
                self.line(format_cainfo(info.name, state=info.state, host=info.host,
                                        read_access=info.read_access,
                                        write_access=info.write_access,
                                        native_type=info.native_type,
                                        element_count=info.native_count))

    # -- camonitor -----------------------------------------------------------

    def events(self, opts: Any, limit: int | None) -> EventHandler:
        """camonitor's handler of a monitor's events: one line per update (none once
        ``limit`` updates were taken), disconnection, PV not found."""
        from ..format import MonitorChannel, MonitorFormatter
        fmt = MonitorFormatter(opts)
        pending = self.pending
        line = None if type(self) is EpicsText else self.line
        # Per PV: with absolute server time and no -# count (fmt._fast) a line needs no
        # history, only a disconnected line the element count of the last update, kept
        # only where it is not the native count (nothing for 100,000 scalars); else the
        # formatter's whole MonitorChannel.
        fast = fmt._fast
        channels: dict[str, MonitorChannel] = {}
        counts: dict[str, int] = {}
        scratch = MonitorChannel()

        def update(name: str, reply: Any, pv: Any) -> None:
            if fast:
                text = fmt.update(name, reply, scratch)
                if pv is None or scratch.count != pv.native_count:
                    counts[name] = scratch.count
                elif counts:
                    counts.pop(name, None)
            else:
                chan = channels.get(name)
                if chan is None:
                    chan = channels[name] = MonitorChannel()
                text = fmt.update(name, reply, chan)
            if line is None:
                pending.append(text)
            else:
                line(text, reply.metadata.severity)

        def on_event(name: str, kind: str, reply: Any, pv: Any) -> None:
            if limit is not None and self.updates >= limit:
                return
            if kind == "update":
                self.updates += 1
                update(name, reply, pv)
            elif kind == "no_read_access":      # (C camonitor is silent)
                self.line(fmt.error(name, kind, count=pv.native_count), event="error")
            elif kind == "disconnected":
                count = counts.get(name, 0 if pv is None else pv.native_count) if fast \
                    else channels.setdefault(name, MonitorChannel()).count
                self.line(fmt.error(name, kind, count=count), event=kind)
            elif kind == "connected":
                if fast:
                    if counts:
                        counts.pop(name, None)
                else:
                    channels.setdefault(name, MonitorChannel()).count = pv.native_count
            elif kind == "not_found":
                self.line(fmt.not_found(name), event="disconnected")

        if line is None:
            on_event.updates = self._text_runs(fmt, update, counts,  # type: ignore[attr-defined]
                                               limit)
        return on_event

    def _text_runs(self, fmt: Any, update: Callable[[str, Any, Any], None],
                   counts: dict[str, int], limit: int | None
                   ) -> Callable[[list[Any], Any], None]:
        """The handler of a run of updates (``Subscribe``'s ``on_updates``): its lines
        at once (TextRuns), or one by one through ``update(name, reply, pv)``; the
        element counts that are not native (``counts``) as one-element updates leave
        them."""
        from operator import attrgetter

        from ..format import TextRuns
        runs = TextRuns(fmt)
        pending = self.pending
        pv_name = attrgetter("pv.name")
        native_count = attrgetter("pv.native_count")

        def on_updates(subs: list[Any], run: Any) -> None:
            room = _room(self, limit, run.rows, subs)
            if room is None:
                return
            rows, subs = room
            names = list(map(pv_name, subs))
            lines = runs.lines(run, rows, names, names=True)
            if lines is None:               # (the general path, update by update)
                for i in range(len(rows)):
                    update(names[i], run.reply(i), subs[i].pv)
                self.updates += len(rows)
                return
            pending.extend(lines)
            self.updates += len(rows)
            if counts:      # (a run's updates have one element each)
                for name in names:
                    counts.pop(name, None)
            if any(map((1).__ne__, map(native_count, subs))):
                for sub in subs:
                    if sub.pv.native_count != 1:
                        counts[sub.pv.name] = 1
        return on_updates


class Colour(EpicsText):
    """The C tools' text, each line coloured by its severity (or event) for a terminal."""

    def __init__(self, stream: Stdout) -> None:
        super().__init__(stream)
        from ..format import make_colorizer
        self.colorize = make_colorizer(True)

    def line(self, text: str, severity: int | None = None, event: str | None = None) -> None:
        if severity or event:
            body, newline = (text[:-1], "\n") if text.endswith("\n") else (text, "")
            text = self.colorize(body, severity, event) + newline
        self.pending.append(text)

    def reading(self, result: Reading, opts: Any) -> None:
        from ..format import format_caget
        self.line(format_caget(result.name, result, opts), result.metadata.severity)


class Json(EpicsText):
    """One JSON object per PV, put or event, per line (the schema of caget(1))."""

    json = True

    def caget(self, results: Sequence[Result], opts: Any, counts: Sequence[int]) -> None:
        from ..format import json_result
        _warn_unread(results, "some PV data")
        char = opts.char_as_string
        from time import time
        now = time()                # (one client_epoch for the records of one read)
        self.pending.extend(json_result(r, char_as_string=char, now=now) + "\n"
                            for r in results)

    def put_reading(self, which: str, result: Result, opts: Any, count: int) -> None:
        from ..format import json_error_record, json_record
        if isinstance(result, Reading) and result.error is None:
            self.line(json_record(result.name, result, char_as_string=opts.char_as_string,
                                  which=which) + "\n")
        else:
            self.line(json_error_record(result.name, "no_data", which=which) + "\n")

    def document(self, data: Any, text: Callable[[], str]) -> None:
        import json
        self.line(json.dumps(data) + "\n")

    def infos(self, results: Sequence[Result]) -> None:
        from ..format import cainfo_json
        self.pending.extend(cainfo_json(info) + "\n" for info in results)

    def events(self, opts: Any, limit: int | None) -> EventHandler:
        from ..format import camonitor_json
        pending = self.pending
        char = opts.char_as_string
        messages = {"no_read_access": "no read access", "not_found": "PV not found"}

        def on_event(name: str, kind: str, reply: Any, pv: Any) -> None:
            if limit is not None and self.updates >= limit:
                return
            if kind == "update":
                self.updates += 1
                reading = Reading.of(name, reply, pv.native_type, pv.native_count)
                pending.append(camonitor_json(name, kind, reading, char_as_string=char))
            elif kind != "error":
                if kind == "connected":
                    runs.heads.clear()      # (the native type may have changed)
                pending.append(camonitor_json(name, kind, message=messages.get(kind)))

        from ..format import JsonRuns
        runs = JsonRuns()

        def on_updates(subs: list[Any], run: Any) -> None:
            room = _room(self, limit, run.rows, subs)
            if room is None:
                return
            rows, subs = room
            heads = runs.heads.get(run.data_type)
            if heads is None:
                heads = runs.heads[run.data_type] = {}
            found = list(map(heads.get, subs))
            if None in found:
                for i, sub in enumerate(subs):
                    if found[i] is None:
                        pv = sub.pv
                        found[i] = heads[sub] = runs.head(pv.name, run.data_type,
                                                          pv.native_type)
            from time import time
            lines = runs.lines(run, rows, found, time())
            if lines is None:               # (the general path, update by update)
                for i in range(len(rows)):
                    on_event(subs[i].pv.name, "update", run.reply(i), subs[i].pv)
                return
            pending.extend(lines)
            self.updates += len(rows)
        on_event.updates = on_updates       # type: ignore[attr-defined]
        return on_event


def _room(sink: EpicsText, limit: int | None, rows: list[Any], subs: list[Any]
          ) -> tuple[list[Any], list[Any]] | None:
    """``(rows, subs)``, or as many of them as ``limit`` updates in all leave room for
    (None: none)."""
    if limit is not None:
        room = limit - sink.updates
        if room <= 0:
            return None
        if room < len(rows):
            rows = rows[:room]
    return rows, (subs if len(rows) >= len(subs) else subs[:len(rows)])


def _warn_unread(results: Sequence[Result], what: str) -> None:
    """C's "Read operation timed out" line, once, if a read was not answered, not
    allowed or too large to transfer."""
    from ..format import unread
    if any(unread(result) for result in results):
        warn(f"Read operation timed out: {what} was not read.")


def _warn_failed(reading: Reading) -> None:
    """One line for a read the server failed (the reading holds the zeros libca leaves)."""
    if reading.error is not None:
        from ..format import error_of
        warn(f"Read of '{reading.name}' failed: {error_of(reading)[1]}")
