"""camonitor: print every update of PVs, as EPICS base's camonitor does, for ever."""
from __future__ import annotations

import _signal as signal  # type: ignore[import-not-found]  # (C module: no enums made)

from ..hints import TYPE_CHECKING
from . import command_attribute
from ._app import die_by_signal, fail, make_context, warn
from ._args import (CA_OPTIONS, JSON_OPTIONS, collect_names, number_format_opts,
                    number_formats, resolve_count, resolve_priority, resolve_timeout)
from ._getopt import Opt, Tool
from ._scripting import seconds_option, updates_only, with_properties

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Sequence

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
  --props:         With --json: DBE_PROPERTY updates as "property" records
  --updates-only:  With --json: only the "update" (and "property") records

Example: camonitor -f8 my_channel another_channel
  (doubles are printed as %f with precision of 8)

"""

#: camonitor's options (its click command is built from them, with ``-h`` and ``-V``).
OPTIONS = (
    *CA_OPTIONS,
    Opt("-m", "mask", "<msk>", help="Event mask: v, a, l, p (default va)."),
    Opt("-t", "ts_keys", "<key>", help="Timestamp source(s) and type."),
    Opt("-n", "enum_number", help="Print DBF_ENUM values as numbers."),
    Opt("-#", "count", "<num>", help="Request and print up to <num> elements."),
    Opt("-S", "char_string", help="Print char arrays as strings."),
    Opt("-s", "float_string", help="Get floats as strings (server PREC)."),
    *number_format_opts("<num>"),
    *JSON_OPTIONS,
    Opt("--count", "max_updates", "N", convert=int, help="Exit after N updates in all."),
    Opt("--timeout", "run_time", "SEC", help="Exit after SEC seconds."),
    Opt("--props", "props", help="With --json: property records too."),
    Opt("--updates-only", "only_updates", help="With --json: updates only."),
)


def main(names: Sequence[str], order: Sequence[tuple[str, Any]], timeout: str | None,
         priority: str | None, mask: str | None, ts_keys: str | None, enum_number: bool,
         count: str | None, char_string: bool, float_string: bool, fmt_e: str | None,
         fmt_f: str | None, fmt_g: str | None, long_base: str | None, int_base: str | None,
         separator: str | None, output: str, name_file: str | None, max_updates: int | None,
         run_time: str | None, props: bool, only_updates: bool) -> int:
    """camonitor on ``names`` with the values of :data:`OPTIONS`; the exit status."""
    from ..client import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE
    from ..format import FormatOptions, parse_timestamp_keys

    mask_bits = {"v": DBE_VALUE, "a": DBE_ALARM, "l": DBE_LOG, "p": DBE_PROPERTY}
    default_mask = DBE_VALUE | DBE_ALARM
    tool = "camonitor"
    wait = resolve_timeout(tool, timeout)
    prio = resolve_priority(tool, priority)
    req_elems = resolve_count(tool, count)
    event_mask: int = default_mask
    if mask is not None:
        event_mask = 0
        for letter in mask:
            bit = mask_bits.get(letter)
            if bit is None:
                warn(f"Invalid argument '{mask}' for option '-m' - ignored.")
                event_mask = default_mask
                break
            event_mask |= bit
        event_mask = event_mask or default_mask
    ts_server, ts_client, ts_type = True, False, "absolute"
    if ts_keys is not None:
        ts_server, ts_client, ts_type, bad = parse_timestamp_keys(ts_keys)
        for letter in bad:
            warn(f"Invalid argument '{letter}' for option '-t' - ignored.")
    formats = number_formats(order)
    stop_after = seconds_option(tool, "--timeout", run_time)
    if max_updates is not None and max_updates < 1:
        fail(f"camonitor: --count {max_updates} must be at least 1")
    opts = FormatOptions(mode="wide", separator=(separator or " ")[0], count=req_elems,
                         enum_as_number=enum_number, char_as_string=char_string,
                         float_as_string=float_string, **formats, ts_server=ts_server,
                         ts_client=ts_client, ts_type=ts_type)
    return run(collect_names(tool, names, name_file), opts, event_mask, wait, prio, output,
               max_updates, stop_after, props, only_updates)


class _Done(Exception):
    """--count reached."""


def run(names: list[str], opts: Any, mask: int, timeout: float | None, priority: int,
        output: str, max_updates: int | None, stop_after: float | None,
        props: bool = False, only_updates: bool = False) -> int:
    """Subscribe (one Subscribe) and print its events until --count, --timeout or a
    signal ends the run; the output is written once per turn of the loop."""
    import time

    from ..client import Subscribe, request_type
    from ..client import run as run_op
    from . import enable_gc
    from ._output import open_sink

    enable_gc()         # a monitor runs for hours: collect cycles again
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sink = open_sink(output)
    if (props or only_updates) and not sink.json:
        fail("camonitor: --props and --updates-only need --json")

    def rule(native: int) -> int:
        """What the tools ask for (again at each connect: the native type may change)."""
        return request_type(native, enum_as_number=opts.enum_as_number,
                            float_as_string=opts.float_as_string)

    def after_turn() -> None:
        sink.flush()
        if max_updates is not None and sink.updates >= max_updates:
            raise _Done()

    handler = sink.events(opts, max_updates)
    op = Subscribe(names, updates_only(handler) if only_updates else handler,
                   data_type=rule, count=opts.count, mask=mask, priority=priority,
                   not_found_after=timeout, on_updates=getattr(handler, "updates", None))
    if props:
        with_properties(op, sink, opts.char_as_string)
    ctx = make_context(listen_beacons=True)
    until = None if stop_after is None else time.monotonic() + stop_after
    try:
        run_op(ctx, op, until=until, after_turn=after_turn)
        sink.flush()          # lines queued just before the --timeout deadline
    except _Done:
        sink.flush()
    finally:
        ctx.close()
    return 0


def _on_signal(signum: int, frame: Any) -> None:
    """SIGINT or SIGTERM: flush what was printed and end by that signal at once. (An
    exception raised here could land in a callback that Python runs during an import,
    such as a module lock's weakref callback, where it is printed and lost.)"""
    die_by_signal(signum)


TOOL = Tool("camonitor", "Print updates of PVs as EPICS base's camonitor does.", USAGE,
            OPTIONS, main)
__getattr__ = command_attribute(globals())      # (``command``: camonitor's click command)


if __name__ == "__main__":  # python -m catools.cli.camonitor
    from catools.cli import camonitor_main
    camonitor_main()
