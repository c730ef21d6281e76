"""cawait: wait until PVs meet conditions, then print them as caget does."""
from __future__ import annotations

import _signal as signal  # type: ignore[import-not-found]  # (C module: no enums made)

from ..hints import TYPE_CHECKING
from . import command_attribute
from ._app import die_by_signal, fail, make_context, warn
from ._args import (CA_OPTIONS, json_opt, number_format_opts, number_formats, resolve_count,
                    resolve_priority, resolve_timeout)
from ._getopt import Opt, Tool
from ._scripting import seconds_option

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Sequence

USAGE = """
Usage: cawait [options] <PV name> <condition> [<PV name> <condition> ...]

  Wait until every condition holds (any one with --any), print the PVs as caget
  does and exit 0; exit 1 on --timeout or when a PV is not found.
Conditions:
  >X  >=X  <X  <=X  ==X  !=X   compare with a number (an enum with -n: its index)
  X...Y  !X...Y                inside (outside) the inclusive range X to Y
  LABEL or ==LABEL             a string or enum state (its label)
  changed                      any new value, time or alarm after the start
  (put '--' before a condition that starts with '-')
Options:
  -h: Help: Print this message
  -V: Version: Show EPICS and CA versions
  -w <sec>: Wait time for a PV to be found, default is 1.0 s (0: no limit)
  -p <prio>: CA priority (0-99, default 0=lowest)
  -t, --timeout <sec>: Give up after <sec> seconds (default: wait for ever)
  --stable <sec>: A condition must hold for <sec> seconds
  --any: Done when any one condition holds (print only those PVs)
  -a: Wide mode "name timestamp value stat sevr"
  -n: Compare and print DBF_ENUM values as numbers
  -s: Get floats as strings (server PREC); -S: print char arrays as strings
  -e/-f/-g <nr>, -lx/-lo/-lb, -0x/-0o/-0b, -F <ofs>: number formats, as caget
  --json: One JSON object per PV per line (see cawait(1))

Example: cawait -t 30 demo:sine '>0.9' demo:enum Two

"""


#: cawait's options (its click command is built from them, with ``-h`` and ``-V``).
OPTIONS = (
    *CA_OPTIONS,
    Opt("-t", "run_time", "<sec>", alias="--timeout", help="Give up after <sec> s."),
    Opt("--stable", "stable", "<sec>", help="Hold for <sec> s."),
    Opt("--any", "any_", help="Done when any condition holds."),
    Opt("-a", "wide", help='Wide: "name timestamp value stat sevr".'),
    Opt("-n", "enum_number", help="DBF_ENUM values as numbers."),
    Opt("-s", "float_string", help="Get floats as strings (server PREC)."),
    Opt("-S", "char_string", help="Print char arrays as strings."),
    *number_format_opts("<nr>"),
    json_opt("One JSON object per PV per line."),
)


def main(names: Sequence[str], order: Sequence[tuple[str, Any]], timeout: str | None,
         priority: str | None, run_time: str | None, stable: str | None, any_: bool,
         wide: bool, enum_number: bool, float_string: bool, char_string: bool,
         fmt_e: str | None, fmt_f: str | None, fmt_g: str | None,
         long_base: str | None, int_base: str | None, separator: str | None,
         output: str) -> int:
    """cawait on ``names`` (PVs and conditions) with the values of :data:`OPTIONS`;
    the exit status."""
    from ..format import FormatOptions
    from ..sync import parse_condition

    tool = "cawait"
    if not names or len(names) % 2:
        fail("cawait: give pairs of PV name and condition ('cawait -h' for help.)")
    conditions: dict[str, Any] = {}
    for name, text in zip(names[::2], names[1::2]):
        try:
            conditions[name] = parse_condition(text)
        except ValueError as exc:
            fail(f"cawait: {exc}")
    formats = number_formats(order)
    opts = FormatOptions(mode="wide" if wide else "plain", separator=(separator or " ")[0],
                         count=resolve_count(tool, None), enum_as_number=enum_number,
                         char_as_string=char_string, float_as_string=float_string,
                         **formats)
    return run(conditions, opts, resolve_timeout(tool, timeout),
               resolve_priority(tool, priority), seconds_option(tool, "--timeout", run_time),
               seconds_option(tool, "--stable", stable) or 0.0, any_, output)


def run(conditions: dict[str, Any], opts: Any, connect_timeout: float | None,
        priority: int, timeout: float | None, stable: float, any_: bool,
        output: str) -> int:
    """Subscribe, feed a Waiter until it is done (or --timeout, or a PV not found),
    then print; return the exit status."""
    from time import monotonic

    from ..client import Reading, Subscribe, request_type
    from ..client import run as run_op
    from ..sync import Waiter
    from ._output import open_sink

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: die_by_signal(signum))
    waiter = Waiter(conditions, any=any_, stable=stable)
    events: list[tuple[str, str, Any]] = []
    missing: list[str] = []

    def on_event(name: str, kind: str, reply: Any, pv: Any) -> None:
        if kind == "update":
            events.append((name, kind, Reading.of(name, reply, pv.native_type,
                                                   pv.native_count)))
        elif kind == "not_found":
            missing.append(name)
        else:
            events.append((name, kind, None))

    class Wait(Subscribe):
        """The monitor, done when the Waiter is (or a PV was not found)."""

        def step(self, ctx: Any, now: float) -> float | None:
            due = super().step(ctx, now)
            for name, kind, reading in events:
                if reading is not None:
                    waiter.update(name, reading, now)
                elif kind == "disconnected":
                    waiter.disconnected(name)
            events.clear()
            if missing or waiter.done(now):
                self.stop()
                return None
            ready = waiter.due(now)
            return ready if due is None else due if ready is None else min(due, ready)

    def rule(native: int) -> int:
        return request_type(native, enum_as_number=opts.enum_as_number,
                            float_as_string=opts.float_as_string)

    op = Wait(list(conditions), on_event, data_type=rule, priority=priority,
              not_found_after=connect_timeout)
    ctx = make_context(listen_beacons=True)
    sink = open_sink(output)
    started = monotonic()
    try:
        run_op(ctx, op, until=None if timeout is None else started + timeout)
    finally:
        ctx.close()
    if missing:
        for name in missing:
            warn(f"Channel connect timed out: '{name}' not found.")
        return 1
    now = monotonic()
    if not waiter.done(now):
        failing = ", ".join(waiter.describe(name) for name in waiter.failing(now))
        warn(f"cawait: timed out after {timeout:g} s: {failing}")
        return 1
    shown = waiter.holding(now) if any_ else list(conditions)
    results = [waiter.last[name] for name in shown]
    if sink.json:
        from ..format import json_result
        for result in results:
            sink.line(json_result(result, char_as_string=opts.char_as_string,
                                  stamp=True) + "\n")
    else:
        sink.caget(results, opts, [0] * len(results))
    sink.flush()
    return 0


TOOL = Tool("cawait", "Wait until PVs meet conditions, then print them as caget does.",
            USAGE, OPTIONS, main)
__getattr__ = command_attribute(globals())      # (``command``: cawait's click command)


if __name__ == "__main__":  # python -m catools.cli.cawait
    from catools.cli import cawait_main
    cawait_main()
