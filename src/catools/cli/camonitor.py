"""camonitor: print every update of PVs, as EPICS base's camonitor does, for ever."""
from __future__ import annotations

import signal
import time
from typing import Any

import click

from ._common import (NUMBER_OPTIONS, CaCommand, Output, PVNames, _die_by_signal,
                      ca_options, collect_names, fail, help_option, json_options, make_context,
                      number_format_option, number_format_options, option, resolve_count,
                      resolve_priority, resolve_timeout, scan_double, version_option, warn)

USAGE = """
Usage: camonitor [options] <PV name> ...

  -h:       Help: Print this message
  -V:       Version: Show EPICS and CA versions
Channel Access options:
  -w <sec>: Wait time, specifies CA timeout, default is 1.000000 second(s)
  -m <msk>: Specify CA event mask to use.  <msk> is any combination of
            'v' (value), 'a' (alarm), 'l' (log/archive), 'p' (property).
            Default event mask is 'va'
  -p <pri>: CA priority (0-99, default 0=lowest)
Timestamps:
  Default:  Print absolute timestamps (as reported by CA server)
  -t <key>: Specify timestamp source(s) and type, with <key> containing
            's' = CA server (remote) timestamps
            'c' = CA client (local) timestamps (shown in '()'s)
            'n' = no timestamps
            'r' = relative timestamps (time elapsed since start of program)
            'i' = incremental timestamps (time elapsed since last update)
            'I' = incremental timestamps (time since last update, by channel)
            'r', 'i' or 'I' require 's' or 'c' to select the time source
Enum format:
  -n:       Print DBF_ENUM values as number (default is enum string)
Array values: Print number of elements, then list of values
  Default:  Request and print all elements (dynamic arrays supported)
  -# <num>: Request and print up to <num> elements
  -S:       Print arrays of char as a string (long string)
Floating point format:
  Default:  Use %g format
  -e <num>: Use %e format, with a precision of <num> digits
  -f <num>: Use %f format, with a precision of <num> digits
  -g <num>: Use %g format, with a precision of <num> digits
  -s:       Get value as string (honors server-side precision)
  -lx:      Round to long integer and print as hex number
  -lo:      Round to long integer and print as octal number
  -lb:      Round to long integer and print as binary number
Integer number format:
  Default:  Print as decimal number
  -0x:      Print as hex number
  -0o:      Print as octal number
  -0b:      Print as binary number
Alternate output field separator:
  -F <ofs>: Use <ofs> to separate fields in output
catools additions:
  --json:          One JSON object per event per line (see camonitor(1))
  --file FILE:     Also read PV names from FILE, one per line ('-' reads stdin)
  --count N:       Exit after N updates in all
  --timeout SEC:   Exit after SEC seconds

Example: camonitor -f8 my_channel another_channel
  (doubles are printed as %f with precision of 8)

"""

_MASK_BITS = {"v": 1, "a": 4, "l": 2, "p": 8}


@click.command("camonitor", cls=CaCommand, usage_text=USAGE, permute=True)
@help_option
@version_option
@ca_options
@option("-m", "mask", metavar="<msk>", help="Event mask: v, a, l, p (default va).")
@option("-t", "ts_keys", metavar="<key>", help="Timestamp source(s) and type.")
@option("-n", "enum_number", is_flag=True, help="Print DBF_ENUM values as numbers.")
@option("-#", "count", metavar="<num>", help="Request and print up to <num> elements.")
@option("-S", "char_string", is_flag=True, help="Print char arrays as strings.")
@option("-s", "float_string", is_flag=True, help="Get floats as strings (server PREC).")
@number_format_options("<num>")
@json_options
@option("--count", "max_updates", type=int, default=None, metavar="N",
        help="Exit after N updates in all.")
@option("--timeout", "run_time", default=None, metavar="SEC",
        help="Exit after SEC seconds.")
@click.argument("names", nargs=-1, cls=PVNames)
@click.pass_context
def command(ctx: click.Context, names: tuple[str, ...], timeout: str | None,
            priority: str | None, mask: str | None, ts_keys: str | None, enum_number: bool,
            count: str | None, char_string: bool, float_string: bool, fmt_e: str | None,
            fmt_f: str | None, fmt_g: str | None, long_base: str | None,
            int_base: str | None, separator: str | None, as_json: bool,
            name_file: str | None, max_updates: int | None, run_time: str | None) -> int:
    """Print updates of PVs as EPICS base's camonitor does."""
    from ..format import FormatOptions, parse_timestamp_keys

    tool = "camonitor"
    wait = resolve_timeout(tool, timeout)
    prio = resolve_priority(tool, priority)
    req_elems = resolve_count(tool, count)
    event_mask = 5
    if mask is not None:
        event_mask = 0
        for letter in mask:
            bit = _MASK_BITS.get(letter)
            if bit is None:
                warn(f"Invalid argument '{mask}' for option '-m' - ignored.")
                event_mask = 5
                break
            event_mask |= bit
        if event_mask == 0:
            event_mask = 5
    ts_server, ts_client, ts_type = True, False, "absolute"
    if ts_keys is not None:
        ts_server, ts_client, ts_type, bad = parse_timestamp_keys(ts_keys)
        for letter in bad:
            warn(f"Invalid argument '{letter}' for option '-t' - ignored.")
    formats: dict[str, Any] = {"float_format": "%g", "float_base": None, "int_base": None}
    for name, value in ctx.meta.get("order", []):
        if name in NUMBER_OPTIONS:
            number_format_option(name, value, formats)
    stop_after = None
    if run_time is not None:
        stop_after = scan_double(run_time)
        if stop_after is None or stop_after < 0:
            fail(f"camonitor: --timeout {run_time!r} is not a number of seconds")
        if stop_after == float("inf"):
            stop_after = None                   # (no limit)
    if max_updates is not None and max_updates < 1:
        fail(f"camonitor: --count {max_updates} must be at least 1")
    opts = FormatOptions(mode="wide", separator=(separator or " ")[0], count=req_elems,
                         enum_as_number=enum_number, char_as_string=char_string,
                         float_as_string=float_string, **formats, ts_server=ts_server,
                         ts_client=ts_client, ts_type=ts_type)
    pv_names = collect_names(tool, names, name_file)
    if not pv_names:
        fail("No pv name specified. ('camonitor -h' for help.)")
    return Monitor(pv_names, opts, event_mask, wait, prio, as_json, max_updates,
                   stop_after).run()


class _Done(Exception):
    """--count reached."""


class Monitor:
    """The camonitor loop: subscriptions, line formatting, batched output."""

    def __init__(self, names: list[str], opts: Any, mask: int, timeout: float | None,
                 priority: int, as_json: bool, max_updates: int | None,
                 stop_after: float | None) -> None:
        self.names = names
        self.opts = opts
        self.mask = mask
        self.timeout = timeout
        self.priority = priority
        self.as_json = as_json
        self.max_updates = max_updates
        self.stop_after = stop_after
        self.updates = 0
        self.pending: list[str] = []
        self.out = Output(colour=None if not as_json else False)

    def request_type(self, native: int) -> int:
        """What the tools ask for by default (recomputed when the native type changes)."""
        from ..format import default_request_type
        return default_request_type(native, enum_as_number=self.opts.enum_as_number,
                                    float_as_string=self.opts.float_as_string)

    def run(self) -> int:
        from ..format import MonitorChannel, MonitorFormatter

        from . import enable_gc

        enable_gc()         # a monitor runs for hours: collect cycles again
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        self.fmt = MonitorFormatter(self.opts)
        ctx = make_context("camonitor", listen_beacons=True)
        self.ctx = ctx
        started = time.monotonic()
        deadline = None if self.stop_after is None else started + self.stop_after
        try:
            pvs = ctx.pvs_for(self.names, self.priority)
            seen: set[int] = set()
            for pv in pvs:
                if id(pv) in seen:
                    continue
                seen.add(id(pv))
                chan = MonitorChannel()
                ctx.subscribe(pv, self._callback(pv, chan), data_type=self.request_type,
                              count=self.opts.count or 0, mask=self.mask)
            checked = self.timeout is None
            check_at = started + (self.timeout or 0.0)
            while True:
                now = time.monotonic()
                if not checked and now >= check_at:
                    checked = True
                    for pv in pvs:
                        if pv.state == "never connected":
                            self._emit_not_found(pv)
                if deadline is not None and now >= deadline:
                    break
                nxt = None
                if not checked:
                    nxt = check_at - now
                if deadline is not None:
                    left = deadline - now
                    nxt = left if nxt is None else min(nxt, left)
                try:
                    ctx.process(nxt)
                finally:
                    self._flush()
            self._flush()          # lines queued just before the --timeout deadline
        except _Done:
            self._flush()
        finally:
            ctx.close()
        return 0

    def _emit_not_found(self, pv: Any) -> None:
        if self.as_json:
            from ..format import camonitor_json
            self.pending.append(camonitor_json(pv.name, "not_found",
                                               message="PV not found"))
        else:
            self.pending.append(self.fmt.not_found(pv.name))

    def _flush(self) -> None:
        if self.pending:
            data = "".join(self.pending)
            self.pending.clear()
            out = self.out
            if out.colorize is not None:
                for line in data.splitlines(keepends=True):
                    out.text(line, *_line_style(line))
            else:
                out.raw(data.encode("utf-8", "surrogateescape"))
            out.flush()
            if self.max_updates is not None and self.updates >= self.max_updates:
                raise _Done()

    def _callback(self, pv: Any, chan: Any) -> Any:
        name = pv.name
        fmt = self.fmt
        pending = self.pending
        as_json = self.as_json
        char_string = self.opts.char_as_string
        if as_json:
            from ..client import Reading
            from ..format import camonitor_json

        def callback(sub: Any, event: str, response: Any) -> None:
            if self.max_updates is not None and self.updates >= self.max_updates:
                return
            if event == "update":
                status = response.status
                if status == 1:
                    self.updates += 1
                    if as_json:
                        reading = Reading(name, response, pv.native_type, pv.native_count)
                        pending.append(camonitor_json(name, "update", reading,
                                                      char_as_string=char_string))
                    else:
                        pending.append(fmt.update(name, response, chan))
                elif status == 0x170:          # ECA_NORDACCESS: C camonitor is silent
                    if as_json:
                        pending.append(camonitor_json(name, "no_read_access",
                                                      message="no read access"))
                    else:
                        pending.append(fmt.error(name, "no_read_access",
                                                 count=pv.native_count))
            elif event == "disconnected":
                if as_json:
                    pending.append(camonitor_json(name, "disconnected"))
                else:
                    pending.append(fmt.disconnected(name, chan))
            elif event == "connected":
                chan.count = pv.native_count
                if as_json:
                    pending.append(camonitor_json(name, "connected"))
        return callback


def _line_style(line: str) -> tuple[int | None, str | None]:
    """Severity and event of a finished camonitor line, for colour."""
    if "*** disconnected" in line or "*** Not connected" in line:
        return None, "disconnected"
    if "*** no read access" in line:
        return None, "error"
    body = line.rstrip("\n")
    for severity, word in ((3, "INVALID"), (2, "MAJOR"), (1, "MINOR")):
        if body.endswith(" " + word) or body.endswith("," + word):
            return severity, None
    return None, None


def _on_signal(signum: int, frame: Any) -> None:
    """SIGINT or SIGTERM: flush what was printed and end by that signal at once. (An
    exception raised here could land in a callback that Python runs during an import,
    such as a module lock's weakref callback, where it is printed and lost.)"""
    _die_by_signal(signum)


if __name__ == "__main__":  # python -m catools.cli.camonitor
    from catools.cli import run_command
    run_command(command)
