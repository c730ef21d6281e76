"""Side-by-side figures of our client tools and libca's (the EPICS base C tools) against
the malicious server of test_malicious_server.py.

Each run is kept as an :class:`Outcome` with :func:`record`; at the end of the pytest
run a terminal-summary section ("our tools vs libca (C tools) against a malicious
server") lists, per tool and side, how many runs finished in time, their exit statuses,
crashes (killed by a signal we did not send), hangs (killed at the time bound), the
peak RSS and the slowest run. The C figures are the reference, not asserted: the bar is
"no worse than libca". :func:`register` adds the section to a run (idempotent).
"""
from __future__ import annotations

import signal
import statistics
from dataclasses import dataclass
from typing import Any

_NAME = "client_report_summary"
_TITLE = ("tool (same argv, same seeds)", "figure", "ours", "C (libca)")


@dataclass(frozen=True)
class Outcome:
    """One tool run: seed, exit status (negative: killed by that signal), whether it
    was killed at the time bound, whether we stopped it on purpose (C camonitor's
    SIGINT, its only way to end), peak RSS (KiB) and wall time (s)."""
    seed: int
    status: int
    hung: bool
    stopped: bool
    rss_kib: int
    seconds: float

    @property
    def crashed(self) -> bool:
        """Ended by a signal that neither the time bound nor a planned stop sent."""
        return (self.status < 0 and not self.hung
                and not (self.stopped and self.status == -signal.SIGINT))


#: tool label -> side ("ours" or "c") -> outcomes, in the order the runs happened
RUNS: dict[str, dict[str, list[Outcome]]] = {}
#: lines printed under the table (how the runs were made)
NOTES: list[str] = []


def record(tool: str, side: str, outcome: Outcome) -> None:
    """Keep one run of ``tool`` by ``side`` ("ours" or "c") for the summary."""
    RUNS.setdefault(tool, {}).setdefault(side, []).append(outcome)


def note(text: str) -> None:
    """Add a line under the table (once)."""
    if text not in NOTES:
        NOTES.append(text)


def _signame(status: int) -> str:
    try:
        return signal.Signals(-status).name
    except ValueError:
        return f"signal {-status}"


def _code(run: Outcome) -> str:
    """A run's ending in a few characters: its exit status, HUNG, INT (the planned
    SIGINT) or the signal that killed it."""
    if run.hung:
        return "HUNG"
    if run.status >= 0:
        return str(run.status)
    return "INT" if not run.crashed else _signame(run.status).removeprefix("SIG")


def _seeds(runs: list[Outcome], test: Any) -> str:
    hits = [run for run in runs if test(run)]
    if not hits:
        return "none"
    return ", ".join(f"seed {run.seed}" + (f" {_signame(run.status)}" if run.status < 0
                                           and run.crashed else "") for run in hits)


def figures(runs: list[Outcome]) -> list[tuple[str, str]]:
    """The (figure, value) rows that summarise one side's runs of one tool."""
    if not runs:
        return [("runs", "0 (not run)")]
    in_time = sum(not run.hung for run in runs)
    statuses = [run.status for run in runs if not run.hung and run.status >= 0]
    rss = [run.rss_kib / 1024 for run in runs]
    stopped = sum(run.stopped for run in runs)
    return [
        ("finished in time", f"{in_time}/{len(runs)}"
         + (f" ({stopped} after the planned SIGINT)" if stopped else "")),
        ("exit 0 / 1 / other", f"{statuses.count(0)} / {statuses.count(1)} / "
         f"{sum(s not in (0, 1) for s in statuses)}"
         + (f" ({in_time - len(statuses)} ended by a signal)"
            if len(statuses) < in_time else "")),
        ("crashed (signal)", _seeds(runs, lambda run: run.crashed)),
        ("hung (killed at bound)", _seeds(runs, lambda run: run.hung)),
        ("per seed (exit, signal)", " ".join(_code(run) for run in
                                             sorted(runs, key=lambda run: run.seed))),
        ("peak RSS MiB max (median)", f"{max(rss):.1f} ({statistics.median(rss):.1f})"),
        ("slowest run s", f"{max(run.seconds for run in runs):.2f}"),
    ]


def rows() -> list[tuple[str, str, str, str]]:
    """The table: per tool, each figure for ours and for the C tool."""
    table = []
    for tool, sides in RUNS.items():
        ours, theirs = figures(sides.get("ours", [])), figures(sides.get("c", []))
        names = [name for name, _ in ours] or [name for name, _ in theirs]
        ours_d, theirs_d = dict(ours), dict(theirs)
        for i, name in enumerate(dict.fromkeys(names + [n for n, _ in theirs])):
            table.append((tool if i == 0 else "", name, ours_d.get(name, "-"),
                          theirs_d.get(name, "-")))
    return table


class _Summary:
    """A pytest plugin object that prints the table at the end of the session."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not RUNS:
            return
        terminalreporter.section("our tools vs libca (C tools) against a malicious server")
        table = [_TITLE, *rows()]
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        for row in table:
            terminalreporter.write_line("  ".join(cell.ljust(width)
                                                  for cell, width in zip(row, widths)))
        for line in NOTES:
            terminalreporter.write_line(line)


def register(config: Any) -> None:
    """Print the table at the end of this pytest run (idempotent)."""
    if not config.pluginmanager.has_plugin(_NAME):
        config.pluginmanager.register(_Summary(), _NAME)
