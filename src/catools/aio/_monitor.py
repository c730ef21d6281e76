"""``monitor`` as an async iterator and async context manager.

The subscriptions, the enum labels held back until read, the queue with ``latest``
merging and ``queue_size`` dropping are those of ``catools.sync.Monitor`` (this is a
subclass); only the consumer's side differs: ``async for`` waits on the loop, not on
a condition variable, and a ``callback`` runs in a task of the loop.
"""
from __future__ import annotations

import asyncio
import inspect
import sys
import traceback
from typing import Any, AsyncIterator, Callable, cast

from ..arguments import check_timeout, monitor_arguments
from ..sync import Monitor as SyncMonitor
from ..sync import monitor as sync_monitor
from ._context import Context, default_context

#: Events a monitor keeps for a consumer that has not taken them (as catools.monitor).
QUEUE_SIZE: int = cast("dict[str, Any]", sync_monitor.__kwdefaults__)["queue_size"]


class Monitor(SyncMonitor):
    """Subscriptions to PVs and the queue of their events: ``async for`` over it, or
    give ``callback=``. Leaving the ``async with`` block (or :meth:`close`, or the
    end of the iteration) cancels them."""

    def __init__(self, ctx: Context, names: list[str], *, callback: Any = None,
                 **options: Any) -> None:
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        super().__init__(ctx, names, callback=None, **options)  # type: ignore[arg-type]
        self.callback = callback
        self._task: asyncio.Task[None] | None = None
        if callback is not None:
            self._task = self._loop.create_task(self._dispatch_async(callback))

    def _push_many(self, events: Any) -> None:
        super()._push_many(events)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def now(self) -> float:
        """The loop's time (deadlines of :meth:`next_event_until`)."""
        return self._loop.time()

    async def next_event_until(self, deadline: float | None) -> Any:
        """The next event, or None once the loop's time reaches ``deadline`` (None:
        wait as long as it takes) or the monitor is closed."""
        while True:
            event = self._pop(0)
            if event is not None:
                return event if hasattr(event, "name") else None    # (closed)
            waiter = self._waiter = self._loop.create_future()
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                return None
            finally:
                self._waiter = None

    async def next_event(self, timeout: float | None = None) -> Any:
        """The next event, waiting up to ``timeout`` seconds (None: as long as it
        takes); None if none came in time or the monitor is closed."""
        self._iterable()
        seconds = check_timeout(timeout, allow_none=True)
        return await self.next_event_until(None if seconds is None else self.now() + seconds)

    def __aiter__(self) -> AsyncIterator[Any]:
        self._iterable()
        return self

    async def __anext__(self) -> Any:
        idle = self.idle_timeout
        event = await self.next_event_until(None if idle is None else self.now() + idle)
        if event is None:
            raise StopAsyncIteration
        return event

    def __iter__(self) -> Any:
        raise TypeError("a catools.aio monitor is iterated with 'async for'")

    async def _dispatch_async(self, callback: Callable[[Any], Any]) -> None:
        while True:
            event = await self.next_event_until(None)
            if event is None:
                return
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                sys.stderr.write(f"catools.aio.monitor: the callback failed on {event!r}:\n")
                traceback.print_exc()

    def close(self) -> None:
        """Cancel the subscriptions, release the channels this monitor made, and end
        the iteration (and the callback's task, once the callback returns)."""
        super().close()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def aclose(self) -> None:
        """:meth:`close`, then wait for the callback's task (if any) to end."""
        self.close()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            await task

    async def __aenter__(self) -> "Monitor":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<catools.aio.Monitor {self.names!r}{' closed' if self._closed else ''}>"


def monitor(names: str | list[str], *, callback: Callable[[Any], Any] | None = None,
            format: str = "time", data_type: Any = None, mask: str | int = "va",
            props: bool = False, latest: bool = False, count: int | None = None,
            timeout: float | None = None, queue_size: int = QUEUE_SIZE,
            context: Context | None = None, priority: int = 0) -> Monitor:
    """Monitor PVs (call it in a coroutine): a :class:`Monitor`, to use with ``async
    with`` and ``async for``. The arguments and events are those of
    :func:`catools.monitor`; ``callback`` (a function or a coroutine function) gets
    each event in a task of the loop, in order."""
    name_list, kwargs = monitor_arguments(
        names, format=format, data_type=data_type, mask=mask, props=props, count=count,
        timeout=timeout, queue_size=queue_size, callback=callback)
    ctx = default_context() if context is None else context
    if not isinstance(ctx, Context):
        raise ValueError(f"context must be a catools.aio.Context, not {ctx!r}")
    return Monitor(ctx, name_list, latest=bool(latest), priority=priority, **kwargs)


__all__ = ["monitor", "Monitor"]
