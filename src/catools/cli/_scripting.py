"""camonitor's scripting additions for ``--json``: ``--props`` (DBE_PROPERTY updates as
records of their own, with the new metadata) and ``--updates-only``."""
from __future__ import annotations

from ..config import scan_double
from ..hints import TYPE_CHECKING
from ._app import fail

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable


def seconds_option(tool: str, option: str, text: str | None) -> float | None:
    """A ``--timeout``-like value: seconds >= 0 (None: not given, or infinite)."""
    if text is None:
        return None
    value = scan_double(text)
    if value is None or value < 0:
        fail(f"{tool}: {option} {text!r} is not a number of seconds")
    return None if value == float("inf") else value


def updates_only(handler: Callable[..., None]) -> Callable[..., None]:
    """``handler`` of a monitor's events, given only its updates."""
    def on_event(name: str, kind: str, reply: Any, pv: Any) -> None:
        if kind == "update":
            handler(name, kind, reply, pv)
    return on_event


def with_properties(op: Any, sink: Any, char_as_string: bool) -> Any:
    """``op`` (a Subscribe) that also subscribes each PV as DBR_CTRL (one element) for
    DBE_PROPERTY and writes each such update to ``sink`` as a ``property`` record (the
    first one, at each connect, holds the metadata at that time)."""
    from ..client import DBE_PROPERTY, Reading
    from ..format import camonitor_json
    start = op.start

    def callback(pv: Any) -> Callable[[Any, str, Any], None]:
        def on_update(sub: Any, event: str, reply: Any) -> None:
            if event == "update" and reply.metadata is not None and \
                    reply.metadata.status is not None:
                reading = Reading.of(pv.name, reply, pv.native_type, pv.native_count)
                sink.line(camonitor_json(pv.name, "property", reading,
                                         char_as_string=char_as_string))
        return on_update

    def start_both(ctx: Any, now: float) -> None:
        start(ctx, now)
        seen: set[int] = set()
        for pv in op.pvs:
            if id(pv) not in seen:
                seen.add(id(pv))
                op.subscriptions.append(ctx.subscribe(pv, callback(pv), "control",
                                                      count=1, mask=DBE_PROPERTY))
    op.start = start_both
    return op
