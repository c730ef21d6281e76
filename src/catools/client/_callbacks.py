"""User callbacks, delivered in arrival order and never inside the dispatch of I/O.

While the Context handles I/O (``depth`` > 0) every user callback (monitor updates,
connection and access events, operation callbacks) is queued; the outermost loop level
delivers the queue after its I/O is handled. A callback may block on its own Context
(a get, a put, a sync): the nested loop still handles I/O, so what it waits for can
complete, but it only queues further callbacks, which come after the callback
returns, in order. An exception in a callback goes to ``on_error`` once; the other
callbacks of that read are delivered as usual.
"""
from __future__ import annotations

from collections import deque
from ..hints import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable


class CallbackQueue:
    """Queued ``(callback, args)`` and the nesting depth of the loop that fills it."""

    __slots__ = ("items", "depth", "on_error")

    def __init__(self, on_error: Callable[[BaseException, Any], None]) -> None:
        self.items: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        #: 0: the user's own code; > 0: handling I/O or running a callback
        self.depth = 0
        self.on_error = on_error

    def call(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` now if no I/O is being handled and nothing waits,
        else queue it."""
        if self.depth or self.items:
            self.items.append((callback, args))
            return
        self.depth = 1
        try:
            callback(*args)
        except Exception as exc:
            self.on_error(exc, callback)
        finally:
            self.depth = 0

    def drain(self) -> None:
        """Deliver the queue (at the outermost level only: depth 0)."""
        if self.depth:
            return
        items = self.items
        popleft = items.popleft
        self.depth = 1
        try:
            while items:
                callback, args = popleft()
                try:
                    callback(*args)
                except Exception as exc:
                    self.on_error(exc, callback)
        finally:
            self.depth = 0

    def clear(self) -> None:
        self.items.clear()


__all__ = ["CallbackQueue"]
