"""The single-threaded Channel Access client underneath the library and the tools.

A :class:`Context` owns the sockets and runs on the caller's thread; operations
(:class:`GetMany`, :class:`Put`, :class:`Subscribe`, :class:`Connect`) carry the C
tools' request policy and answer in :class:`~catools.results.Reading` and
:class:`~catools.results.Result`; :func:`run` drives one. ``catools.get``/``put``/
``monitor`` (``catools.sync``) drive the same operations from an I/O thread.
"""
from __future__ import annotations

import sys

from ..errors import AccessDenied, CAError, Disconnected, NotFound, RemoteError, Timeout
from ..protocol import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, EPICS2UNIX_EPOCH, dbr_type
from ..results import ChannelInfo, Reading, Result
from ._context import (CLOSED, CONNECTED, NEVER_CONNECTED, PREVIOUSLY_CONNECTED, PV, Context,
                       Operation, Subscription, observe)
from ._errors import (AccessDeniedError, CaStatusError, CaTimeoutError, ChannelNotFoundError,
                      ClientError, DisconnectedError)
from ._operations import (SMALL_COUNT, Connect, GetMany, Request, check_timeout,
                          is_too_large, request_type, resolve_type, run, step_all,
                          too_large)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from ._monitor import EventCallback, Subscribe
    from ._put import Put, PutResult, python_value

#: Imported on first use (a plain caget needs neither): name -> module.
_LAZY = {"Put": "_put", "PutResult": "_put", "python_value": "_put",
         "Subscribe": "_monitor", "EventCallback": "_monitor"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    full = f"{__name__}.{module}"
    __import__(full)                # (not importlib's import_module: no importlib to load)
    value = getattr(sys.modules[full], name)
    globals()[name] = value
    return value


__all__ = ["Context", "observe", "PV", "Operation", "Subscription", "Reading", "Result",
           "ChannelInfo",
           "CAError", "NotFound", "Timeout", "Disconnected", "AccessDenied", "RemoteError",
           "ClientError", "ChannelNotFoundError", "CaTimeoutError", "CaStatusError",
           "DisconnectedError", "AccessDeniedError", "NEVER_CONNECTED",
           "PREVIOUSLY_CONNECTED", "CONNECTED", "CLOSED", "EPICS2UNIX_EPOCH", "dbr_type",
           "GetMany", "Put", "PutResult", "Subscribe", "Connect", "run", "step_all", "request_type",
           "resolve_type", "check_timeout", "python_value", "SMALL_COUNT", "EventCallback",
           "Request", "too_large", "is_too_large", "DBE_VALUE", "DBE_LOG", "DBE_ALARM",
           "DBE_PROPERTY"]
