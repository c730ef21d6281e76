"""The asyncio twin of the library: ``catools.get``, ``put``, ``info``, ``monitor`` and
``wait_for`` as coroutines and async iterators, with no threads.

>>> import asyncio, catools.aio
>>> async def main():
...     reading = await catools.aio.get("demo:sine")
...     async with catools.aio.monitor("demo:sine") as events:
...         async for event in events: print(event)
>>> asyncio.run(main())          # doctest: +SKIP

The arguments, results (:class:`Reading`, :class:`Result`, :class:`ChannelInfo`),
events (:class:`Connected`, :class:`ConnectionLost`, ``Update``) and exceptions are
those of ``catools.sync``; the client underneath (search, back-off, beacons, circuits,
the request policy of the operations) is the very one the blocking library and the
tools use, driven by the running event loop instead of a thread. A cancelled call
leaves no channel, subscription or task behind. See docs/library.md.
"""
from __future__ import annotations

from ..errors import AccessDenied, CAError, Disconnected, NotFound, RemoteError, Timeout
from ..results import ChannelInfo, Limits, Reading, Result
from ..sync import (Condition, Connected, ConnectionEvent, ConnectionLost, ContextClosed,
                    Status, Update, parse_condition)
from ._calls import get, info, put, wait_for
from ._context import Context, close, default_context
from ._monitor import QUEUE_SIZE, Monitor, monitor

__all__ = ["get", "put", "info", "monitor", "wait_for", "parse_condition", "Condition",
           "Context", "ContextClosed", "Status", "default_context", "close", "Monitor",
           "Update", "ConnectionEvent", "Connected", "ConnectionLost", "Reading", "Result",
           "ChannelInfo", "Limits", "CAError", "NotFound", "Timeout", "Disconnected",
           "AccessDenied", "RemoteError", "QUEUE_SIZE"]
