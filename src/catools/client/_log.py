"""Where the client's warnings go when its user gives no callback: the ``catools.client``
logger (the client itself never prints; the command-line tools pass callbacks that
print libca's stderr formats)."""
from __future__ import annotations

from typing import Any

_logger: Any = None


def _get_logger() -> Any:
    global _logger
    if _logger is None:
        import logging          # (imported only by a Context that has no callbacks)
        _logger = logging.getLogger("catools.client")
    return _logger


def log_line(line: str) -> None:
    """A one-line error (libca's errlogPrintf) as a WARNING."""
    _get_logger().warning("%s", line)


def log_warning(message: str, context: str) -> None:
    """A CA exception (libca's ``CA.Client.Exception`` block) as a WARNING."""
    _get_logger().warning("%s: %s", message, context)


__all__ = ["log_line", "log_warning"]
