"""Severity colouring of finished EPICS text lines for a terminal.

Import this module only when stdout is a TTY: it is the only place that imports
``rich``. Colouring wraps the line in ANSI codes and never changes its layout.
``NO_COLOR`` (any non-empty value) turns colouring off; ``FORCE_COLOR`` turns it on
(the command-line tools then colour a pipe too); ``TERM=dumb`` turns it off.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from rich.color import ColorSystem
from rich.style import Style

__all__ = ["STYLES", "colour_enabled", "severity_style", "colorize", "make_colorizer"]

#: rich style per severity (0..3) and per camonitor/caget event.
STYLES: dict[object, str] = {
    0: "",
    1: "yellow",
    2: "bold red",
    3: "magenta",
    "disconnected": "dim red",
    "not_found": "dim red",
    "no_read_access": "dim red",
    "error": "red",
}

_MARK = "\x00"
_codes: dict[str, tuple[str, str]] = {}


def colour_enabled(environ: dict[str, str] | None = None) -> bool:
    """False when ``NO_COLOR`` is set to a non-empty value, or when ``TERM`` is "dumb"
    and ``FORCE_COLOR`` (non-empty, not "0") does not force colour."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    force = env.get("FORCE_COLOR")
    return bool(force and force != "0") or env.get("TERM") != "dumb"


def _wrap_codes(style: str) -> tuple[str, str]:
    codes = _codes.get(style)
    if codes is None:
        if style:
            rendered = Style.parse(style).render(_MARK, color_system=ColorSystem.STANDARD)
            pre, _, post = rendered.partition(_MARK)
            codes = (pre, post)
        else:
            codes = ("", "")
        _codes[style] = codes
    return codes


def severity_style(severity: int | None = None, event: str | None = None) -> str:
    """rich style name for a severity or event ('' for no colour)."""
    if event is not None and event in STYLES:
        return STYLES[event]
    if severity is None:
        return ""
    return STYLES.get(severity, STYLES[3] if severity > 3 else "")


def colorize(line: str, severity: int | None = None, event: str | None = None, *,
             enabled: bool | None = None) -> str:
    """Colour one finished line (a trailing newline stays outside the colour)."""
    if enabled is None:
        enabled = colour_enabled()
    style = severity_style(severity, event)
    if not enabled or not style:
        return line
    pre, post = _wrap_codes(style)
    if line.endswith("\n"):
        return pre + line[:-1] + post + "\n"
    return pre + line + post


def make_colorizer(enabled: bool | None = None) -> Callable[..., str]:
    """A ``colorize`` with ``NO_COLOR`` checked once (returns a no-op when disabled)."""
    if enabled is None:
        enabled = colour_enabled()
    if not enabled:
        return lambda line, severity=None, event=None: line
    return lambda line, severity=None, event=None: colorize(line, severity, event,
                                                            enabled=True)
