"""``catools snap save | compare | restore``: snapshots of many PVs (JSON, or autosave
``.sav`` for a FILE ending in .sav), compared and restored in one operation each."""
from __future__ import annotations

from typing import Any

import click

from ._options import json_option, option

_SETTINGS = {"help_option_names": ["-h", "--help"]}


def _timeout(f: Any) -> Any:
    return option("-w", "--timeout", "timeout", type=click.FloatRange(0.0), default=1.0,
                  show_default=True, help="Seconds to wait for the PVs to connect, and "
                  "again for the reads or writes.")(f)


def _load(path: str) -> list[Any]:
    from ..snapshot import SnapshotError, load
    try:
        return load(path)
    except SnapshotError as exc:
        click.echo(f"catools snap: {exc}", err=True)
        raise SystemExit(2) from None


def _show(value: Any) -> str:
    if isinstance(value, list):
        text = " ".join(str(v) for v in value[:8])
        return f"[{len(value)}] {text}" + (" ..." if len(value) > 8 else "")
    return "" if value is None else str(value)


@click.group("snap", context_settings=_SETTINGS)
def command() -> None:
    """Save PVs to a snapshot file, compare the PVs now against one, restore one.

    A FILE ending in .sav is read and written in autosave's format; any other name is
    JSON (value, native type and count, timestamp, severity and status per PV; an
    optional "tolerance" per PV is used by compare).

    \b
    Examples:
      catools snap save before.json demo:setpoint demo:mode
      catools snap compare before.json --tolerance 0.01
      catools snap restore before.json --dry-run
    """


@command.command("save", context_settings=_SETTINGS)
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("names", nargs=-1, metavar="[PV]...")
@option("--file", "name_file", metavar="NAMES", default=None,
        help="Also read PV names from NAMES, one per line ('-' = stdin).")
@_timeout
def save(file: str, names: tuple[str, ...], name_file: str | None, timeout: float) -> None:
    """Read the PVs and write them to FILE. Exit status 1 if a PV was not read (it is
    kept in the file with its error), 2 on error."""
    from ..snapshot import SnapshotError, dump, read
    from ._args import collect_names
    pv_names = collect_names("catools snap save", names, name_file)
    entries = read(pv_names, timeout=timeout)
    try:
        dump(entries, file)
    except SnapshotError as exc:
        click.echo(f"catools snap: {exc}", err=True)
        raise SystemExit(2) from None
    failed = [e for e in entries if e.error is not None]
    for e in failed:
        click.echo(f"{e.name}: {e.error}", err=True)
    click.echo(f"saved {len(entries) - len(failed)} of {len(entries)} PVs to {file}",
               err=True)
    raise SystemExit(1 if failed else 0)


@command.command("compare", context_settings=_SETTINGS)
@click.argument("file", type=click.Path(dir_okay=False))
@option("--tolerance", type=click.FloatRange(0.0), default=0.0, show_default=True,
        help="Numbers this close are equal (a PV's own tolerance in the file wins).")
@option("--all", "show_all", is_flag=True, help="List equal PVs too.")
@_timeout
@json_option("One JSON object: each PV's saved and current value and state.")
def compare(file: str, tolerance: float, show_all: bool, timeout: float,
            output: str) -> None:
    """Compare the PVs now with FILE. Exit status 0 when all are equal, 1 when any
    differs, 2 on error (a file or PV that cannot be read)."""
    from ..snapshot import compare as diff
    from ..snapshot import read
    from ._output import open_sink
    saved = _load(file)
    rows = diff(saved, read([e.name for e in saved], timeout=timeout), tolerance)
    code = 2 if any(r.state == "error" for r in rows) else \
        1 if any(r.state == "different" for r in rows) else 0
    counts = {s: sum(1 for r in rows if r.state == s) for s in ("equal", "different",
                                                                 "error")}

    def text() -> str:
        shown = [r for r in rows if show_all or r.state != "equal"]
        width = max([len(r.name) for r in shown] + [2])
        lines = [f"{'PV':{width}}  {'saved':24} {'now':24} state"] if shown else []
        lines += [f"{r.name:{width}}  {_show(r.saved):24} {_show(r.current):24} "
                  f"{r.state}{': ' + r.detail if r.detail else ''}" for r in shown]
        lines.append(f"{counts['equal']} equal, {counts['different']} different, "
                     f"{counts['error']} error(s)")
        return "\n".join(lines) + "\n"
    sink = open_sink(output, colour=False)
    sink.document({"file": file, "tolerance": tolerance, **counts,
                   "pvs": [r.as_dict() for r in rows]}, text)
    sink.flush()
    raise SystemExit(code)


@command.command("restore", context_settings=_SETTINGS)
@click.argument("file", type=click.Path(dir_okay=False))
@option("--no-wait", is_flag=True, help="Plain writes, without put-callback.")
@option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@_timeout
@json_option("One JSON object: each PV's value and error.")
def restore(file: str, no_wait: bool, dry_run: bool, timeout: float, output: str) -> None:
    """Write FILE's values back, in file order (put-callback per PV unless --no-wait).
    Each failure is reported and never stops the rest. Exit status 1 if any failed."""
    from ..snapshot import Outcome
    from ..snapshot import restore as write
    from ._output import open_sink
    entries = _load(file)
    if dry_run:
        outcomes = [Outcome(e.name, e.value, e.error) for e in entries]
    else:
        outcomes = write(entries, wait=not no_wait, timeout=timeout)
    failed = [o for o in outcomes if o.error is not None]

    def text() -> str:
        verb = "would write" if dry_run else "wrote"
        lines = [f"{o.name}: {verb} {_show(o.value)}" for o in outcomes
                 if dry_run and o.error is None]
        lines += [f"{o.name}: FAILED: {o.error}" for o in failed]
        lines.append(f"{verb} {len(outcomes) - len(failed)} of {len(outcomes)} PVs"
                     + (f", {len(failed)} failed" if failed else ""))
        return "\n".join(lines) + "\n"
    sink = open_sink(output, colour=False)
    sink.document({"file": file, "dry_run": dry_run, "failed": len(failed),
                   "pvs": [o.as_dict() for o in outcomes]}, text)
    sink.flush()
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":  # pragma: no cover
    command()
