"""``get``, ``put`` and ``info``: blocking calls over many PVs at once."""
from __future__ import annotations

import weakref
from typing import Any, Mapping, Sequence

from ..errors import NotFound
from ..results import ChannelInfo, Reading, Result
from ..arguments import (READ_GRACE, get_operation, info_operation, put_operation,
                         shape as _shape)
from ..arguments import MISSING as _MISSING
from ._context import Context, default_context

#: enum labels per client Context given as ``context=`` (the library's own Contexts
#: keep theirs)
_client_labels: "weakref.WeakKeyDictionary[Any, dict[str, list[str]]]" = \
    weakref.WeakKeyDictionary()


def _is_client(context: Any) -> bool:
    return not isinstance(context, Context) and hasattr(context, "process") and \
        hasattr(context, "pvs_for")


def _perform(context: Any, op: Any) -> Any:
    """Run ``op`` on ``context`` (a library Context, None for the default, or a client
    Context driven on this thread); release the names it did not find."""
    if context is None:
        context = default_context()
    if _is_client(context):
        from ..client import run
        run(context, op)
        release = getattr(context, "release", None)
        if release is not None:
            for result in op.results:
                if isinstance(result.error, NotFound):
                    release(result.name)
        return op
    if not isinstance(context, Context):
        raise ValueError(f"context must be a catools.Context, not {context!r}")
    return context.run(op, lambda op, client: context.settle(op.results, client))


def _labels_of(context: Any) -> dict[str, list[str]] | None:
    if context is None:
        return default_context().book.labels
    if isinstance(context, Context):
        return context.book.labels
    try:
        return _client_labels.setdefault(context, {})
    except TypeError:
        return None


def get(names: str | Sequence[str], *, timeout: float = 1.0, format: str = "time",
        data_type: Any = None, count: int | None = None, throw: bool = True,
        context: Any = None, priority: int = 0) -> Any:
    """Read one PV (a :class:`Reading`) or many (a list, in the names' order).

    Every PV is searched and read at once, under one ``timeout``: the call returns
    once all have answered or the timeout has passed (the PVs that connected are still
    read when a missing one used it all: they get at least half a second).
    ``format`` is ``"plain"``/``"native"`` (the value alone), ``"status"`` (+ alarm),
    ``"full"`` (time and control merged: value, alarm, timestamp and metadata),
    ``"time"`` (+ timestamp), ``"graphic"`` or ``"ctrl"``/``"control"`` (+ units,
    precision, limits; enum labels). ``data_type`` asks for another type (``str``,
    ``float``, ``int``, ``"DBR_TIME_DOUBLE"``, ``"double"``, a DBR id). ``count``
    limits the elements of arrays. Enums read as their label (``.index`` is the
    number). With ``throw`` the first failure (in order) is raised; else each failure
    is a :class:`Result` with ``ok`` False and its ``error``.
    """
    op, single = get_operation(names, timeout=timeout, format=format,
                               data_type=data_type, count=count, priority=priority,
                               labels=lambda: _labels_of(context))
    if op is None:
        return []
    _perform(context, op)
    return _shape(op.results, single, throw)


def put(names: str | Sequence[str] | Mapping[str, Any], value: Any = _MISSING, *,
        wait: bool = False, timeout: float = 1.0, throw: bool = True,
        data_type: Any = None, context: Any = None, priority: int = 0) -> Any:
    """Write ``value`` to one PV, a list of values to a list of PVs, or each value of
    a mapping ``{name: value}`` to its PV; all at once, each within ``timeout``.

    A value is a number, a str (an enum takes its label; a char array takes the text),
    bytes, or a sequence (an array). ``data_type`` (``float``, ``int``, ``str``,
    ``"double"``, a DBR id) converts it first. With ``wait`` the server calls back
    once the record has processed (put-callback); without it the put is confirmed by a
    round trip (so a refused put is still seen). Returns a Result (or a list) with
    ``ok`` True; with ``throw`` a failure raises (AccessDenied, RemoteError,
    NotFound, Timeout naming the PV), else it is a Result with ``ok`` False.
    """
    op, single = put_operation(names, value, wait=wait, timeout=timeout,
                               data_type=data_type, priority=priority)
    if op is None:
        return []
    _perform(context, op)
    return _shape(op.results, single, throw)


def info(names: str | Sequence[str], *, timeout: float = 1.0, throw: bool = True,
         context: Any = None, priority: int = 0) -> Any:
    """Connect PVs and say what they are: a :class:`ChannelInfo` (server, native type
    and count, access rights) per name, or a list; ``str(info)`` is cainfo's block."""
    op, single = info_operation(names, timeout=timeout, priority=priority)
    if op is None:
        return []
    _perform(context, op)
    return _shape(op.results, single, throw)


__all__ = ["get", "put", "info", "READ_GRACE", "Reading", "Result", "ChannelInfo"]
