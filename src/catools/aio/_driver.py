"""The asyncio driver of a client Context: the same Context and operations as the
blocking client, with the event loop in place of the Context's own wait.

The Context's poller is an epoll whose descriptor is readable while any of its
sockets is ready, so the loop watches that one descriptor (``loop.add_reader``); each
time it is ready, or a timer is due (``loop.call_at``), the driver takes one turn:
``process(0)`` (I/O ready now, callbacks), a ``step`` of each operation in progress,
then ``prepare`` (searches and checks due, queued output sent), which says when the
next turn is due. Nothing here decides anything about Channel Access.
"""
from __future__ import annotations

import asyncio
import weakref
from time import monotonic
from typing import Any, Callable

from ..client import Context as ClientContext, step_all


class Driver:
    """One client Context run by one asyncio loop."""

    def __init__(self, config: Any, loop: asyncio.AbstractEventLoop) -> None:
        # (weakly: a default Context must not keep its loop alive; see aio._context)
        self._loop = weakref.ref(loop)
        self.client = ClientContext(config)
        self.fd = self.client.poller.fileno()
        if self.fd < 0:
            self.client.close()
            raise RuntimeError("catools.aio needs select.epoll (Linux)")
        self.closed = False
        self._active: list[Any] = []            # operations stepped after each turn
        self._fails: dict[int, Callable[[BaseException], None]] = {}  # id(op) -> fail
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._soon = False
        loop.add_reader(self.fd, self.turn)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop()
        if loop is None:
            raise RuntimeError("the event loop of this catools.aio.Context is gone")
        return loop

    def start(self, op: Any, finished: Callable[[Any], None],
              fail: Callable[[BaseException], None] | None = None) -> None:
        """Start client operation ``op``; ``finished(op)`` once it is done. An error
        in a later step goes to ``fail`` (to the loop's handler when there is none)."""
        op.on_done(finished)
        now = monotonic()
        op.start(self.client, now)
        due = None
        if not op.done:
            self._active.append(op)
            if fail is not None:
                self._fails[id(op)] = fail
            due = op.step(self.client, now)
        self._schedule(due)

    def stop(self, op: Any) -> None:
        """Step ``op`` no more."""
        if op in self._active:
            self._active.remove(op)
        self._fails.pop(id(op), None)

    def turn(self) -> None:
        """Handle what is ready, step the operations, send, and sleep until due."""
        if self.closed:
            return
        client = self.client
        client.process(0)
        if self.closed:
            return
        now = monotonic()
        due = self._step(now)
        t = client.prepare(now)
        if t is not None and (due is None or t < due):
            due = t
        self._arm(due)

    def poke(self) -> None:
        """A turn soon: something done outside a turn (a channel released, a
        subscription cancelled) has output to send."""
        self._schedule(None)

    def _schedule(self, due: float | None) -> None:
        """A turn soon (what was just started has output to send) and at ``due``."""
        if not self._soon and not self.closed:
            self._soon = True
            self.loop.call_soon(self._soon_turn)
        if due is not None:
            self._arm(due)

    def _soon_turn(self) -> None:
        self._soon = False
        self.turn()

    def _arm(self, due: float | None) -> None:
        """One timer, at ``due`` (monotonic, the loop's own clock); None: none."""
        if due == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = due
        if due is not None:
            # (asyncio's loop.time() is time.monotonic(); convert in case it is not)
            self._timer = self.loop.call_at(self.loop.time() + (due - monotonic()),
                                            self._fire)

    def _fire(self) -> None:
        self._timer = self._timer_at = None
        self.turn()

    def _step(self, now: float) -> float | None:
        return step_all(self._active, self.client, now, self._fails)

    def close(self, error: BaseException | None = None) -> None:
        """Stop watching, close the client's sockets (channels cleared); the calls
        still waiting fail with ``error``."""
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        fails = list(self._fails.values())
        self._fails.clear()
        self._active.clear()
        if error is not None:
            for fail in fails:
                fail(error)
        loop = self._loop()
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self.fd)
        self.client.close()


__all__ = ["Driver"]
