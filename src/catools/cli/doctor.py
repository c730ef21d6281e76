"""``catools doctor [PV ...]``: why a PV cannot be seen (settings, search list, who
answers, circuits, access, beacons, the repeater), as text or ``--json``."""
from __future__ import annotations

from typing import Any

import click

from ._options import json_option, option


def _address(address: Any) -> str:
    return f"{address[0]}:{address[1]}"


def render(report: Any) -> str:
    """The report as text for people."""
    out = ["Settings (environment or default):"]
    for s in report.settings:
        value = s.value if s.value != "" else "(empty)"
        out.append(f"  {s.name:34} {value:24} {s.source}")
    for name, known in report.typos:
        out.append(f"  warning: {name} is not a Channel Access variable; did you mean "
                   f"{known}?")
    if report.error:
        out.append(f"error: {report.error}")
        return "\n".join(out) + "\n"
    out.append("Interfaces (up, not loopback):")
    out += [f"  {n:12} {a:16} broadcast {b}" for n, a, b in report.interfaces] or ["  none"]
    out.append("Search address list:")
    out += [f"  {_address(a):24} {src}" for a, src in report.addresses] or \
        ["  (empty: no UDP search is sent)"]
    out += [f"  {_address(a):24} ignored: {why}" for a, why in report.ignored]
    if report.name_servers:
        out.append("Name servers:")
        out += [f"  {_address(a):24} {state}" for a, state in report.name_servers]
    for pv in report.pvs:
        out.append(f"PV {pv.name}:")
        if not pv.replies:
            out.append("  no server answered the search")
        for address, ms in pv.replies:
            out.append(f"  answered by {_address(address)} after {ms:.1f} ms")
        if pv.duplicate:
            out.append(f"  DUPLICATE: {len(pv.servers)} servers answer for this name")
        if pv.replies:
            out.append(f"  circuit: {pv.circuit}")
        if pv.connected:
            access = ("read" if pv.read_access else "no read") + ", " + \
                ("write" if pv.write_access else "no write")
            out.append(f"  connected to {_address(pv.server)}: {pv.native_type}, "
                       f"{pv.native_count} element(s), {access}")
        out += [f"  hint: {hint}" for hint in pv.hints]
    out.append(f"Repeater: {report.repeater}")
    out.append("Beacons heard:")
    out += [f"  {_address(a):24} {n} beacon(s), last id {i}" for a, n, i in
            report.beacons] or ["  none in the window"]
    out += [f"Client message: {w}" for w in report.warnings]
    status = "every PV was reached" if report.ok else "not every PV was reached"
    out.append(f"Result: {status}" if report.pvs else "Result: no PV asked for")
    return "\n".join(out) + "\n"


@click.command("doctor", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar="[PV]...")
@option("-w", "--timeout", "timeout", type=click.FloatRange(0.0), default=1.0,
        show_default=True, help="Seconds to wait for each PV to be found and connected.")
@option("--beacons", "window", type=click.FloatRange(0.0), default=2.0, show_default=True,
        help="Seconds to listen for beacons (at the same time as the search).")
@option("--file", "name_file", metavar="FILE", default=None,
        help="Also read PV names from FILE, one per line ('-' = stdin).")
@json_option("The report as one JSON object.")
def command(names: tuple[str, ...], timeout: float, window: float, name_file: str | None,
            output: str) -> None:
    """Why can't I see my PV? Show the Channel Access settings in effect (and likely
    typos), the interfaces and the search address list, then search for each PV:
    who answered and when, duplicates, name servers, the TCP circuit and access
    rights, with hints for a PV nobody answered. Beacons heard and the repeater's
    state close the report. Exit status 0 when every PV was reached.

    \b
    Examples:
      catools doctor demo:sine
      catools doctor --json demo:sine demo:missing
    """
    from ..doctor import diagnose
    from ._output import open_sink

    from ._args import collect_names
    pv_names = collect_names("catools doctor", names, name_file) \
        if names or name_file is not None else []
    report = diagnose(pv_names, timeout=timeout, beacon_window=window)
    sink = open_sink(output, colour=False)
    sink.document(report.as_dict(), lambda: render(report))
    sink.flush()
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":  # pragma: no cover
    command()
