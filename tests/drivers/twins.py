"""One face over both drivers, so that a test is written once: ``Twin.get(...)`` is
``catools.sync.get(..., context=ctx)`` or ``await catools.aio.get(..., context=ctx)``
run to completion on the twin's own event loop."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import catools.aio
import catools.sync

#: ``(test of an event, action once it is seen)``: what :meth:`Twin.watch` does.
Step = tuple[Callable[[Any], bool], Callable[[], None] | None]


class SyncTwin:
    kind = "sync"
    lib = catools.sync

    def __init__(self, **settings: Any) -> None:
        self.ctx = catools.sync.Context(**settings)

    def get(self, *args: Any, **kw: Any) -> Any:
        return catools.sync.get(*args, context=self.ctx, **kw)

    def put(self, *args: Any, **kw: Any) -> Any:
        return catools.sync.put(*args, context=self.ctx, **kw)

    def info(self, *args: Any, **kw: Any) -> Any:
        return catools.sync.info(*args, context=self.ctx, **kw)

    def wait_for(self, *args: Any, **kw: Any) -> Any:
        return catools.sync.wait_for(*args, context=self.ctx, **kw)

    def putter(self, name: str, value: Any) -> Callable[[], Any]:
        """An action of :meth:`watch` that puts ``value`` to ``name``."""
        return lambda: self.put(name, value)

    def watch(self, names: Any, steps: list[Step], timeout: float) -> list[Any]:
        """Monitor ``names``; for each step in turn, wait for an event passing its
        test, then run its action (blocking, e.g. stopping an IOC). All events seen."""
        seen: list[Any] = []
        deadline = time.monotonic() + timeout
        with catools.sync.monitor(names, context=self.ctx) as m:
            for test, action in steps:
                while True:
                    event = m.next_event(max(0.0, deadline - time.monotonic()))
                    assert event is not None, (f"no event passed {test} in time", seen)
                    seen.append(event)
                    if test(event):
                        break
                if action is not None:
                    action()
        return seen

    def close(self) -> None:
        self.ctx.close()


class AioTwin:
    kind = "aio"
    lib = catools.aio

    def __init__(self, **settings: Any) -> None:
        self.runner = asyncio.Runner()
        self.ctx = catools.aio.Context(**settings)

    def _run(self, fn: Any, *args: Any, **kw: Any) -> Any:
        return self.runner.run(fn(*args, context=self.ctx, **kw))

    def get(self, *args: Any, **kw: Any) -> Any:
        return self._run(catools.aio.get, *args, **kw)

    def put(self, *args: Any, **kw: Any) -> Any:
        return self._run(catools.aio.put, *args, **kw)

    def info(self, *args: Any, **kw: Any) -> Any:
        return self._run(catools.aio.info, *args, **kw)

    def wait_for(self, *args: Any, **kw: Any) -> Any:
        return self._run(catools.aio.wait_for, *args, **kw)

    def putter(self, name: str, value: Any) -> Callable[[], Any]:
        async def put() -> None:         # (a coroutine: run on the loop, not a thread)
            await catools.aio.put(name, value, context=self.ctx)
        return put

    def watch(self, names: Any, steps: list[Step], timeout: float) -> list[Any]:
        seen: list[Any] = []

        async def main() -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            async with catools.aio.monitor(names, context=self.ctx) as m:
                for test, action in steps:
                    while True:
                        event = await m.next_event_until(deadline)
                        assert event is not None, (f"no event passed {test} in time", seen)
                        seen.append(event)
                        if test(event):
                            break
                    if asyncio.iscoroutinefunction(action):
                        await action()
                    elif action is not None:    # (blocking: off the loop's thread)
                        await asyncio.to_thread(action)
        self.runner.run(main())
        return seen

    def close(self) -> None:
        async def shut() -> None:
            self.ctx.close()
        self.runner.run(shut())
        self.runner.close()


TWINS = {"sync": SyncTwin, "aio": AioTwin}
