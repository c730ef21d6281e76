"""Side-by-side figures of server attacks: ``catools serve`` against softIoc (RSRV).

Tests call :func:`record`; the rows are printed in a terminal-summary section at the end
of the run ("catools serve vs softIoc (RSRV)"), so that the bar is always in sight: no
worse than RSRV. :func:`register` adds the summary to a pytest run (tests/server's
conftest does it; other directories call it from a fixture).
"""
from __future__ import annotations

from typing import Any

ROWS: list[tuple[str, str, str, str]] = []
_TITLE = ("attack", "case", "catools serve", "softIoc")
_NAME = "serve_report_summary"


class _Summary:
    """A pytest plugin object that prints ROWS at the end of the session."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not ROWS:
            return
        terminalreporter.section("catools serve vs softIoc (RSRV)")
        rows = [_TITLE, *ROWS]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            terminalreporter.write_line("  ".join(cell.ljust(width)
                                                  for cell, width in zip(row, widths)))


def register(config: Any) -> None:
    """Print the rows at the end of this pytest run (idempotent)."""
    if not config.pluginmanager.has_plugin(_NAME):
        config.pluginmanager.register(_Summary(), _NAME)


def record(attack: str, case: str, ours: Any, theirs: Any) -> None:
    """Keep one row of figures (ours, softIoc's) for the end-of-run summary."""
    ROWS.append((attack, case, str(ours), str(theirs)))
