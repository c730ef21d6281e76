"""``get``, ``put``, ``info`` and ``wait_for`` as coroutines: the arguments, checks and
client operations of ``catools.sync``'s calls, awaited on the running loop."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from ..arguments import MISSING, get_operation, info_operation, put_operation, shape
from ..results import Reading
from ..sync import not_met, wait_arguments
from ._context import Context, default_context
from ._monitor import monitor


def _context(context: Any) -> Context:
    if context is None:
        return default_context()
    if not isinstance(context, Context):
        raise ValueError(f"context must be a catools.aio.Context, not {context!r}")
    return context


async def get(names: str | Sequence[str], *, timeout: float = 1.0, format: str = "time",
              data_type: Any = None, count: int | None = None, throw: bool = True,
              context: Context | None = None, priority: int = 0) -> Any:
    """Read one PV (a :class:`Reading`) or many (a list, in the names' order): as
    :func:`catools.get`, awaited. Cancelled, it leaves no channel it made behind."""
    ctx = _context(context)
    op, single = get_operation(names, timeout=timeout, format=format,
                               data_type=data_type, count=count, priority=priority,
                               labels=lambda: ctx.book.labels)
    if op is None:
        return []
    await ctx.run(op)
    return shape(op.results, single, throw)


async def put(names: str | Sequence[str] | Mapping[str, Any], value: Any = MISSING, *,
              wait: bool = False, timeout: float = 1.0, throw: bool = True,
              data_type: Any = None, context: Context | None = None,
              priority: int = 0) -> Any:
    """Write to one PV, a list of PVs, or a mapping ``{name: value}``: as
    :func:`catools.put` (``wait``: put-callback), awaited."""
    op, single = put_operation(names, value, wait=wait, timeout=timeout,
                               data_type=data_type, priority=priority)
    if op is None:
        return []
    await _context(context).run(op)
    return shape(op.results, single, throw)


async def info(names: str | Sequence[str], *, timeout: float = 1.0, throw: bool = True,
               context: Context | None = None, priority: int = 0) -> Any:
    """Connect PVs and say what they are (a :class:`ChannelInfo` per name): as
    :func:`catools.info`, awaited."""
    op, single = info_operation(names, timeout=timeout, priority=priority)
    if op is None:
        return []
    await _context(context).run(op)
    return shape(op.results, single, throw)


async def wait_for(name: str, condition: str | Callable[[Any], Any], *,
                   timeout: float | None, format: str = "time",
                   context: Context | None = None) -> Reading:
    """Wait until PV ``name`` meets ``condition`` (a ``parse_condition`` text or a
    function of the Reading) and return that Reading: as :func:`catools.wait_for`,
    awaited; after ``timeout`` seconds (None: no limit) it raises Timeout."""
    seconds, test, described = wait_arguments(name, condition, timeout)
    last: Any = None
    async with monitor(name, format=format, context=context) as events:
        deadline = None if seconds is None else events.now() + seconds
        while True:
            event = await events.next_event_until(deadline)
            if event is None:
                break
            if isinstance(event, Reading):
                last = event
                if test(event):
                    return event
    raise not_met(name, described, seconds, last)


__all__ = ["get", "put", "info", "wait_for"]
