"""The Python library: blocking calls that any thread may make, over one Channel
Access client per process.

>>> import catools
>>> catools.get("demo:sine").value                    # doctest: +SKIP
>>> catools.put("demo:setpoint", 2.5, wait=True)      # doctest: +SKIP
>>> with catools.monitor(["demo:sine"]) as m:         # doctest: +SKIP
...     for event in m: print(event)

:func:`get`, :func:`put`, :func:`info`, :func:`monitor` and :func:`wait_for` use
the default :class:`Context` (made from the environment on first use, again in a
forked child, closed at exit) unless given ``context=``. A Context owns one I/O
thread; the calls of every thread hand their work to it and wait for the answer.
See docs/library.md.
"""
from __future__ import annotations

from ..errors import AccessDenied, CAError, Disconnected, NotFound, RemoteError, Timeout
from ..results import ChannelInfo, Limits, Reading, Result
from ._args import FORMATS, MASK_LETTERS
from ._book import IN_USE_VIEW, MONITORS_VIEW, ChannelBook
from ._calls import get, info, put
from ._context import Context, Status, close, default_context
from ._loop import ContextClosed
from ._monitor import (Connected, ConnectionEvent, ConnectionLost, Monitor, Update,
                       monitor)
from ._wait import Condition, Waiter, not_met, parse_condition, wait_arguments, wait_for

__all__ = ["get", "put", "info", "monitor", "wait_for", "parse_condition", "Condition", "Waiter",
           "Context", "ContextClosed", "Status", "default_context", "close", "Monitor", "Update",
           "ConnectionEvent", "Connected", "ConnectionLost", "Reading", "Result",
           "ChannelInfo", "Limits", "CAError", "NotFound", "Timeout", "Disconnected",
           "AccessDenied", "RemoteError", "FORMATS", "MASK_LETTERS", "wait_arguments", "not_met", "ChannelBook",
           "MONITORS_VIEW", "IN_USE_VIEW"]
