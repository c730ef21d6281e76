"""cainfo: print what the client knows about each channel, as EPICS base's cainfo."""
from __future__ import annotations

import click

from .._version import __version__
from ._app import make_context, warn
from ._args import collect_names, resolve_priority, resolve_timeout, scan_int
from ._command import CaCommand
from ._options import (PVNames, ca_options, help_option, json_options, option,
                       usage_error_option, version_option)

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


@click.command("cainfo", cls=CaCommand, usage_text=USAGE, permute=True)
@help_option
@version_option
@ca_options
@option("-s", "level", metavar="<level>",
        help="Print the client context status at this interest level instead.")
@usage_error_option("n")
@json_options
@click.argument("names", nargs=-1, cls=PVNames)
def command(names: tuple[str, ...], timeout: str | None, priority: str | None,
            level: str | None, output: str, name_file: str | None) -> int:
    """Print channel information as EPICS base's cainfo does."""
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


if __name__ == "__main__":  # python -m catools.cli.cainfo
    from catools.cli import run_command
    run_command(command)
