"""The blocking Channel Access client.

>>> import catools
>>> catools.get("demo:sine").value          # doctest: +SKIP
>>> catools.put("demo:setpoint", 2.5, wait=True)   # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any, Sequence

from ..protocol import EPICS2UNIX_EPOCH, dbr_type, promote
from ..protocol._dbr import is_string_type as _is_str
from ._context import (CLOSED, CONNECTED, NEVER_CONNECTED, PREVIOUSLY_CONNECTED, PV, Context,
                       Operation, Subscription)
from ._errors import (AccessDeniedError, CaStatusError, CaTimeoutError, ChannelNotFoundError,
                      ClientError, DisconnectedError)


class Reading:
    """One value read from a PV, with its metadata.

    ``data`` is an ``array.array`` (numbers) or a list of bytes (strings); ``value``
    is the friendly form: a scalar for one element, else a list, strings decoded.
    """

    __slots__ = ("name", "data", "data_type", "count", "native_type", "native_count",
                 "metadata", "status")

    def __init__(self, name: str, response: Any, native_type: int, native_count: int) -> None:
        self.name = name
        self.data = response.data
        self.data_type = response.data_type
        self.count = response.data_count
        self.native_type = native_type
        self.native_count = native_count
        self.metadata = response.metadata
        self.status = response.status

    @property
    def value(self) -> Any:
        data = self.data
        if _is_str(self.data_type):
            items: list[Any] = [b.decode("utf-8", "backslashreplace") for b in data]
        else:
            items = list(data)
        return items[0] if len(items) == 1 else items

    @property
    def timestamp(self) -> float | None:
        """POSIX seconds of the server timestamp (None if the type has none)."""
        return self.metadata.posix_timestamp

    def __repr__(self) -> str:
        return f"Reading({self.name!r}, value={self.value!r})"


def get(names: str | Sequence[str], *, timeout: float = 1.0, data_type: int | str = "time",
        count: int | None = None, priority: int = 0, context: Context | None = None
        ) -> Any:
    """Read one PV (returns a Reading) or many (returns a list, in order).

    ``data_type`` is a DBR id or a family name ("native", "status", "time", "graphic",
    "control") applied to each PV's native type. Raises ChannelNotFoundError,
    CaTimeoutError or CaStatusError naming the PV.
    """
    single = isinstance(names, str)
    name_list: list[str] = [names] if isinstance(names, str) else list(names)
    own = context is None
    ctx = Context() if context is None else context
    try:
        pvs = ctx.pvs_for(name_list, priority)
        ctx.wait_connected(pvs, timeout)
        for pv in pvs:
            if not pv.connected:
                raise ChannelNotFoundError(pv.name)
        ops = []
        for pv in pvs:
            dtype = promote(pv.native_type, data_type) if isinstance(data_type, str) \
                else data_type
            ops.append(ctx.read(pv, dtype, count))
        ctx.wait(ops, timeout)
        readings = []
        for op in ops:
            if op.error is not None:
                raise op.error
            if not op.done:
                raise CaTimeoutError(op.pv.name, "read timed out")
            readings.append(Reading(op.pv.name, op.result, op.pv.native_type,
                                    op.pv.native_count))
        return readings[0] if single else readings
    finally:
        if own:
            ctx.close()


def put(name: str, value: Any, *, wait: bool = False, timeout: float = 1.0,
        data_type: int | None = None, priority: int = 0,
        context: Context | None = None) -> None:
    """Write ``value`` (a scalar, sequence or string) to one PV.

    With ``wait=True`` the put uses WRITE_NOTIFY and returns when the server reports
    completion; a rejected put raises CaStatusError, in both modes.
    """
    own = context is None
    ctx = Context() if context is None else context
    try:
        pv = ctx.pv(name, priority)
        if not ctx.wait_connected([pv], timeout):
            raise ChannelNotFoundError(name)
        if data_type is None and isinstance(value, str):
            data_type = 0
        op = ctx.write(pv, value, data_type=data_type, notify=wait)
        if wait:
            if not ctx.wait([op], timeout):
                raise CaTimeoutError(name, "put callback timed out")
        if op.error is not None:
            raise op.error
        if not wait:
            # a plain WRITE has no reply: an ECHO round trip shows whether it was refused
            ctx.sync(pv, timeout)
            if pv.write_errors:
                raise pv.write_errors[0]
    finally:
        if own:
            ctx.close()


__all__ = ["Context", "PV", "Operation", "Subscription", "Reading", "get", "put",
           "ClientError", "ChannelNotFoundError", "CaTimeoutError", "CaStatusError",
           "DisconnectedError", "AccessDeniedError", "NEVER_CONNECTED",
           "PREVIOUSLY_CONNECTED", "CONNECTED", "CLOSED", "EPICS2UNIX_EPOCH", "dbr_type"]
