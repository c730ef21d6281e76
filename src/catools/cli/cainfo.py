"""cainfo: print what the client knows about each channel, as EPICS base's cainfo."""
from __future__ import annotations

import json
from typing import Any

import click

from .._version import __version__
from ._common import (CaCommand, Output, PVNames, ca_options, collect_names, fail, help_option,
                      json_options, make_context, option, report_missing, resolve_priority,
                      resolve_timeout, scan_int, usage_error_option, version_option, warn)

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
            level: str | None, as_json: bool, name_file: str | None) -> int:
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
    if not pv_names:
        fail("No pv name specified. ('cainfo -h' for help.)")
    return run(pv_names, wait, prio, interest, as_json)


def run(names: list[str], timeout: float | None, priority: int, interest: int | None,
        as_json: bool) -> int:
    from ..format import dbf_type_to_text, dbr_type_to_text, format_cainfo

    out = Output(colour=False)
    ctx = make_context("cainfo")
    try:
        pvs = ctx.pvs_for(names, priority)
        ctx.wait_connected(pvs, timeout)
        missing = [pv for pv in pvs if not pv.connected]
        if interest is not None:
            out.text(client_status(ctx, interest))
        else:
            for pv in pvs:
                if as_json:
                    out.text(info_json(pv, dbf_type_to_text, dbr_type_to_text) + "\n")
                    continue
                if not pv.connected:
                    continue
                out.text(format_cainfo(pv.name, state=pv.state, host=pv.host,
                                       read_access=pv.read_access,
                                       write_access=pv.write_access,
                                       native_type=pv.native_type,
                                       element_count=pv.native_count))
        out.flush()
        return report_missing(missing)
    finally:
        ctx.close(clear_channels=False)   # as the C tools: the circuit's end frees them


def info_json(pv: Any, dbf_text: Any, dbr_text: Any) -> str:
    """cainfo as one JSON object (documented in cainfo(1))."""
    if not pv.connected:
        return json.dumps({"name": pv.name, "ok": False, "error": "not_found",
                           "message": f"Channel connect timed out: '{pv.name}' not found."},
                          separators=(",", ":"))
    return json.dumps({
        "name": pv.name, "ok": True, "state": pv.state, "host": pv.host,
        "server": f"{pv.server[0]}:{pv.server[1]}" if pv.server else None,
        "read_access": pv.read_access, "write_access": pv.write_access,
        "native_type": dbf_text(pv.native_type),
        "request_type": dbr_text(pv.native_type) if pv.native_type >= 0 else None,
        "count": pv.native_count}, separators=(",", ":"))


def client_status(ctx: Any, level: int) -> str:
    """Our equivalent of ca_client_status(): the context, its circuits and channels."""
    lines = [f"Channel Access Client Context (catools {__version__})",
             f"    search destinations: "
             f"{' '.join(f'{h}:{p}' for h, p in ctx.search_targets) or '(none)'}",
             f"    channels: {len(ctx.pvs)}, circuits: {len(ctx.circuits)}"]
    for (address, prio), circuit in ctx.circuits.items():
        lines.append(f"    circuit to {address[0]}:{address[1]} priority {prio}: "
                     f"{len(circuit.pvs)} channels, protocol 4.{circuit.core.protocol_version}")
        if level >= 1:
            for pv in circuit.pvs.values():
                lines.append(f"        {pv.name} ({pv.state}, "
                             f"{'r' if pv.read_access else '-'}"
                             f"{'w' if pv.write_access else '-'})")
    if level >= 2:
        for pv in ctx.pvs.values():
            if not pv.connected:
                lines.append(f"    unresolved: {pv.name}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m catools.cli.cainfo
    from catools.cli import run_command
    run_command(command)
