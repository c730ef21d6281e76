"""Put, as caput does it: an operation over a :class:`Context` (see ``_operations``)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..errors import AccessDenied, CAError, RemoteError, Timeout
from ..protocol import data_size
from ..results import Reading, Result
from ._operations import (DBR_IDS, SMALL_COUNT, Operation, not_found, request_type,
                          resolve_type, too_large)
from ._pv import CONNECTED, PV

_ENUM = 3
_DBR_GR_ENUM = DBR_IDS["GR_ENUM"]
_DBR_STRING = 0
_DBR_CHAR = 4
_DBR_LONG = 5
_DBR_DOUBLE = 6


class PutResult(Result):
    """The outcome of a put on one PV: ``error`` (None if it succeeded), ``stage``
    where it stopped (``connect``, ``labels``, ``convert``, ``check`` (refused before
    sending: too many elements, or no write access), ``write`` (the server rejected
    it, or it timed out), ``done``), and, when asked for, the ``old`` and ``new``
    readings (Results) around it (``new`` is read even after a rejected or timed-out
    write, as caput does)."""

    __slots__ = ("stage", "old", "new")

    def __init__(self, name: str, error: CAError | None = None, stage: str = "done",
                 old: Result | None = None, new: Result | None = None) -> None:
        super().__init__(name, error)
        self.stage = stage
        self.old = old
        self.new = new


#: ``convert(native_type, native_count, labels) -> (data_type, data, count)``: the
#: value of a put in the form the wire takes; ``labels`` are an enum's states (None
#: unless ``Put(labels=True)`` and the channel is an enum).
Converter = Callable[[int, int, "list[bytes] | None"], "tuple[int, Any, int]"]


class _PutOne:
    """One PV's way through a :class:`Put`: connect, labels, old, write, new."""

    __slots__ = ("pv", "convert", "stage", "waiting", "labels", "old", "new", "write",
                 "error", "new_op", "old_op", "typ", "n", "deadline")

    def __init__(self, pv: PV, convert: Converter) -> None:
        self.pv = pv
        self.convert = convert
        self.stage = "connect"
        self.waiting: Any = None          # the client Operation it waits for
        self.labels: list[bytes] | None = None
        self.old: Result | None = None
        self.new: Result | None = None
        self.write: Any = None
        self.error: CAError | None = None
        self.old_op: Any = None
        self.new_op: Any = None
        self.typ = 0
        self.n = 0
        self.deadline: float | None = None


class Put(Operation):
    """Write to PVs as caput does: connect within ``timeout``; for an enum with
    ``labels``, read its states (DBR_GR_ENUM); convert the value; with ``read_old``
    read the value before; refuse a value longer than the channel (ECA_BADCOUNT) or a
    channel without write access (ECA_NOWTACCESS); write with WRITE_NOTIFY
    (``wait``) or a plain WRITE whose outcome an ECHO round trip confirms; with
    ``read_new`` read the value after. ``results`` holds a :class:`PutResult` per
    ``(name, convert)`` item, in order. Old and new values are read with
    ``read_type`` (a :data:`TypeRule`) for the native count; with ``zero_fill`` as
    caput prints them (a short reply zero-filled, a read the server failed as zeros
    whose ``error`` says why: see :class:`GetMany`)."""

    def __init__(self, items: Sequence[tuple[str, Converter]], *, wait: bool = False,
                 priority: int = 0, timeout: float | None = 1.0, labels: bool = False,
                 read_old: bool = False, read_new: bool = False,
                 read_type: Any = request_type, zero_fill: bool = False) -> None:
        super().__init__(timeout)
        self.zero_fill = zero_fill
        self.items = list(items)
        self.wait = wait
        self.priority = priority
        self.want_labels = labels
        self.read_old = read_old
        self.read_new = read_new
        self.read_type = read_type
        self.results: list[PutResult] = []
        self._ones: list[_PutOne] = []

    def start(self, ctx: Any, now: float) -> None:
        pvs = ctx.pvs_for([name for name, _ in self.items], self.priority)
        self._ones = [_PutOne(pv, convert) for pv, (_, convert) in zip(pvs, self.items)]
        self._arm(now)
        for one in self._ones:
            one.deadline = self.deadline

    def step(self, ctx: Any, now: float) -> float | None:
        if self.done:
            return None
        due: float | None = None
        busy = False
        for one in self._ones:
            if one.waiting is not _FINISHED:
                self._advance(ctx, one, now)
                if one.waiting is not _FINISHED:
                    busy = True
                    if one.deadline is not None:
                        due = one.deadline if due is None else min(due, one.deadline)
        if busy:
            return due
        self.results = [PutResult(one.pv.name, one.error, one.stage, one.old, one.new)
                        for one in self._ones]
        self._finish()
        return None

    @staticmethod
    def _fail(one: _PutOne, error: CAError) -> None:
        """``one`` stops where it is (its stage says where) with ``error``."""
        one.error = error
        one.waiting = _FINISHED

    def _advance(self, ctx: Any, one: _PutOne, now: float) -> None:
        """Move ``one`` on as far as it can go now (each wait has its own timeout)."""
        pv = one.pv
        timeout = self.timeout
        while one.waiting is not _FINISHED:
            expired = one.deadline is not None and now >= one.deadline
            waiting = one.waiting
            if waiting is not None and not waiting.done:
                if expired:
                    self._timed_out(ctx, one, now)
                    continue
                return
            stage = one.stage
            if stage == "connect":
                if pv.state != CONNECTED:
                    if expired:
                        self._fail(one, not_found(pv.name))
                        break
                    return
                if self.want_labels and pv.native_type == _ENUM:
                    one.stage = "labels"
                    one.waiting = ctx.read(pv, _DBR_GR_ENUM, 1)
                    one.deadline = None if timeout is None else now + timeout
                    continue
                one.stage = "convert"
            elif stage == "labels":
                if waiting.error is not None:
                    self._fail(one, Timeout(pv.name, "ENUM data was not read"))
                    break
                one.labels = list(waiting.result.metadata.enum_strings or [])
                one.stage = "convert"
            elif stage == "convert":
                try:
                    one.typ, data, one.n = one.convert(pv.native_type, pv.native_count,
                                                       one.labels)
                except CAError as exc:
                    self._fail(one, exc)
                    break
                except (ValueError, TypeError, OverflowError) as exc:
                    self._fail(one, CAError(pv.name, str(exc)))
                    break
                one.write = data
                if self.read_old:
                    one.old_op = self._read(ctx, pv)
                    one.waiting = one.old_op
                    one.deadline = None if timeout is None else now + timeout
                one.stage = "old"
            elif stage == "old":
                if one.old_op is not None and one.old is None:
                    one.old = self._reading(pv, one.old_op)
                if one.n > pv.native_count:
                    from ..protocol import CAStatus
                    one.stage = "check"
                    self._fail(one, RemoteError(pv.name, CAStatus.ECA_BADCOUNT,
                                                refused=True))
                    break
                if not pv.write_access:
                    one.stage = "check"
                    self._fail(one, AccessDenied(pv.name, "Write access denied",
                                                 write=True))
                    break
                one.stage = "write"
                if self.wait:
                    one.waiting = ctx.write(pv, one.write, data_type=one.typ,
                                            count=one.n, notify=True)
                else:
                    one.waiting = ctx.write(pv, one.write, data_type=one.typ,
                                            count=one.n, confirm=True)
                one.deadline = None if timeout is None else now + timeout
                if self.read_new and not self.wait:
                    one.new_op = self._read(ctx, pv)
            elif stage == "write":
                if waiting.error is not None:
                    error = waiting.error
                    one.error = error if isinstance(error, CAError) \
                        else CAError(pv.name, str(error))
                    if one.new_op is None:      # (sent with a plain write: wait for it)
                        one.waiting = _FINISHED
                        break
                if self.read_new and one.new_op is None:
                    one.new_op = self._read(ctx, pv)
                    one.deadline = None if timeout is None else now + timeout
                one.stage = "new"
                one.waiting = one.new_op
            elif stage == "new":
                if one.new_op is not None:
                    one.new = self._reading(pv, one.new_op)
                one.stage = "done" if one.error is None else "write"
                one.waiting = _FINISHED

    def _timed_out(self, ctx: Any, one: _PutOne, now: float) -> None:
        """The wait of ``one``'s stage ran out of time."""
        pv = one.pv
        stage = one.stage
        if stage == "write":
            one.error = Timeout(pv.name, "Write callback operation timed out"
                                if self.wait else "put not confirmed in time")
            if self.read_new and one.new_op is None:
                one.new_op = self._read(ctx, pv)    # as caput: New is read all the same
                one.deadline = None if self.timeout is None else now + self.timeout
            one.stage = "new"
            one.waiting = one.new_op if one.new_op is not None else None
        elif stage == "new":
            one.new = self._reading(pv, one.new_op)
            one.stage = "done" if one.error is None else "write"
            one.waiting = _FINISHED
        elif stage == "old":
            one.old = self._reading(pv, one.old_op)
            one.waiting = None      # go on: caput writes even when the old read failed
        else:
            self._fail(one, Timeout(pv.name, "ENUM data was not read" if stage == "labels"
                                    else "timed out"))

    def _read(self, ctx: Any, pv: PV) -> Any:
        data_type = resolve_type(self.read_type, pv.native_type)
        count = pv.native_count
        if count > SMALL_COUNT and data_size(data_type, count) > ctx.config.max_payload_size:
            return _Refused(pv, data_type)
        return ctx.read(pv, data_type, count)

    def _reading(self, pv: PV, op: Any) -> Result:
        name = pv.name
        if isinstance(op, _Refused):
            return Result(name, too_large(name))
        if op is None or not op.done:
            return Result(name, Timeout(name, "no data available (timeout)"))
        count = pv.native_count
        error = op.error
        if error is not None:
            if not isinstance(error, CAError):
                error = CAError(name, str(error))
            if self.zero_fill and isinstance(error, RemoteError):
                zeros = Reading.zeros(name, resolve_type(self.read_type, pv.native_type),
                                      count, pv.native_type, count)
                zeros.error = error
                return zeros
            return Result(name, error)
        reading = Reading.of(name, op.result, pv.native_type, count)
        return reading.padded(count) if self.zero_fill and reading.count < count \
            else reading


class _Refused:
    """A read not sent (its reply could not fit EPICS_CA_MAX_ARRAY_BYTES)."""

    done = True
    error = None

    def __init__(self, pv: PV, data_type: int) -> None:
        self.pv = pv
        self.data_type = data_type


_FINISHED = object()


def python_value(value: Any) -> Converter:
    """The converter of a Python value for :class:`Put`: ``str`` as DBR_STRING (an
    enum takes its label; a CHAR array the text's bytes and a NUL), ``bytes`` as
    DBR_CHAR, ``bool``/``int`` as DBR_LONG, ``float`` as DBR_DOUBLE, and a sequence of
    them element by element."""

    def convert(native_type: int, native_count: int, labels: Any) -> tuple[int, Any, int]:
        if isinstance(value, str):
            raw = value.encode("utf-8", "surrogateescape")
            if native_type == _DBR_CHAR and native_count > 1:
                data = raw + b"\0"
                return _DBR_CHAR, data, len(data)
            if len(raw) > 39:
                raise ValueError(f"a string of {len(raw)} bytes is longer than "
                                 "DBR_STRING's 39")
            return _DBR_STRING, [raw], 1
        if isinstance(value, (bytes, bytearray)):
            return _DBR_CHAR, bytes(value), len(value)
        if isinstance(value, bool) or isinstance(value, int):
            return _DBR_LONG, [int(value)], 1
        if isinstance(value, float):
            return _DBR_DOUBLE, [value], 1
        try:
            items = list(value)
        except TypeError:
            raise ValueError(f"cannot write a {type(value).__name__}") from None
        if not items:
            raise ValueError("cannot write an empty sequence")
        if all(isinstance(v, str) for v in items):
            raws = [v.encode("utf-8", "surrogateescape") for v in items]
            if any(len(r) > 39 for r in raws):
                raise ValueError("a string is longer than DBR_STRING's 39 bytes")
            return _DBR_STRING, raws, len(raws)
        if all(isinstance(v, int) for v in items):
            return _DBR_LONG, [int(v) for v in items], len(items)
        try:
            return _DBR_DOUBLE, [float(v) for v in items], len(items)
        except (TypeError, ValueError):
            raise ValueError("cannot write a sequence mixing numbers and other "
                             "values") from None
    return convert


__all__ = ["Put", "PutResult", "python_value", "Converter"]
