"""cainfo: print what the client knows about each channel, as EPICS base's cainfo."""
from __future__ import annotations

from .._version import __version__
from ..hints import TYPE_CHECKING
from . import command_attribute
from ._app import make_context, warn
from ._args import (CA_OPTIONS, JSON_OPTIONS, collect_names, resolve_priority, resolve_timeout,
                    scan_int)
from ._getopt import Opt, Tool

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Sequence

USAGE = f"""
Usage: cainfo [options] <PV name> ...

  -h: Help: Print this message
  -V: Version: Show EPICS and CA versions
Channel Access options:
  -w <sec>:   Wait time, specifies CA timeout, default is 1.000000 second(s)
  -s <level>: Call ca_client_status with the specified interest level
  -p <prio>:  CA priority (0-99, default 0=lowest)
catools additions:
  --json:      One JSON object per PV per line (see cainfo(1))
  --file FILE: Also read PV names from FILE, one per line ('-' reads stdin)

Example: cainfo my_channel another_channel


EPICS Version catools {__version__} (Python), CA Protocol version 4.13
"""


#: cainfo's options (its click command is built from them, with ``-h``, ``-V`` and ``-n``).
OPTIONS = (
    *CA_OPTIONS,
    Opt("-s", "level", "<level>",
        help="Print the client context status at this interest level instead."),
    *JSON_OPTIONS,
)


def main(names: Sequence[str], order: Sequence[tuple[str, Any]], timeout: str | None,
         priority: str | None, level: str | None, output: str, name_file: str | None
         ) -> int:
    """cainfo on ``names`` with the values of :data:`OPTIONS`; the exit status."""
    tool = "cainfo"
    wait = resolve_timeout(tool, timeout)
    prio = resolve_priority(tool, priority)
    interest = None
    if level is not None:
        interest = scan_int(level)
        if interest is None:
            warn(f"'{level}' is not a valid interest level - ignored. ('cainfo -h' for help.)")
    pv_names = collect_names(tool, names, name_file)
    return run(pv_names, wait, prio, interest, output)


def run(names: list[str], timeout: float | None, priority: int, interest: int | None,
        output: str) -> int:
    """Connect (one Connect), print each channel or the context's status."""
    from ..client import Connect
    from ..client import run as run_op
    from ._output import open_sink, report_missing

    sink = open_sink(output, colour=False)
    op = Connect(names, priority=priority, timeout=timeout)
    ctx = make_context()
    try:
        run_op(ctx, op)
        if interest is not None:
            from ..format import format_context_status
            sink.line(format_context_status(
                ctx.describe(), interest, f"Channel Access Client Context (catools {__version__})"))
        else:
            sink.infos(op.results)
        sink.flush()
        return report_missing(op.results)
    finally:
        ctx.close(clear_channels=False)   # as the C tools: the circuit's end frees them


TOOL = Tool("cainfo", "Print channel information as EPICS base's cainfo does.", USAGE,
            OPTIONS, main, unhandled="n")
__getattr__ = command_attribute(globals())      # (``command``: cainfo's click command)


if __name__ == "__main__":  # python -m catools.cli.cainfo
    from catools.cli import cainfo_main
    cainfo_main()
