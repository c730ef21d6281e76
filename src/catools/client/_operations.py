"""The C tools' request policy, as operations over a :class:`Context`.

An operation is a small state machine over a Context: ``start(ctx, now)`` once, then
``step(ctx, now)`` after each turn of the Context's loop until ``done``; ``step``
returns when it next needs a turn (None: only when I/O happens). It never blocks and
never reads a clock: :func:`run` drives one on the caller's thread (the command-line
tools), and the library's I/O thread drives the same objects for its callers.

What the operations decide, so that nobody else does: which DBR type to ask for
(:func:`request_type`), how many elements (the tools' ``-#``/``-c`` rules), the
``EPICS_CA_MAX_ARRAY_BYTES`` bound (libca's ECA_TOLARGE, nothing sent), zero-filling
short replies as libca does, the old and new values around a put, a put that is too
long (ECA_BADCOUNT) or not allowed (ECA_NOWTACCESS), and the events of a monitor
(ECA_NORDACCESS is ``no_read_access``).
"""
from __future__ import annotations

import math
from operator import attrgetter, itemgetter

from ..errors import CAError, NotFound, RemoteError, Timeout
from ..hints import TYPE_CHECKING
from ..protocol import DBR_TYPES, data_size, promote
from ..results import Reading, Result
from ._pv import CONNECTED, NEVER_CONNECTED, PV

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Sequence

#: Request-type rule: a DBR id, a family ("native", "status", "time", "graphic",
#: "control"), a function of the native type, or None (native).
TypeRule = "int | str | Callable[[int], int] | None"

#: No DBR of this many elements or fewer can exceed the smallest message bound (16 KiB).
SMALL_COUNT = 400

_ENUM = 3
#: DBR ids by their names in the protocol's table ("TIME_STRING": 14, ...)
DBR_IDS = {row.name: row.id for row in DBR_TYPES}
_CONTROL = DBR_TYPES[DBR_IDS["CTRL_DOUBLE"]].family
#: DBR_TIME_<native> of each native type 0..6, looked up by name (promote() would build
#: the ChannelType enum on a tool's first read: ~0.5 ms of its start-up)
_TIME_OF = {native: DBR_IDS["TIME_" + DBR_TYPES[native].name] for native in range(7)}


def request_type(native_type: int, *, enum_as_number: bool = False,
                 float_as_string: bool = False) -> int:
    """The DBR type caget (without ``-d``), caput and camonitor ask for: DBR_TIME of the
    native type; an enum as DBR_TIME_STRING (DBR_TIME_SHORT with ``-n``); a FLOAT or
    DOUBLE as DBR_TIME_STRING with ``-s``."""
    if native_type == _ENUM:
        return DBR_IDS["TIME_SHORT" if enum_as_number else "TIME_STRING"]
    if float_as_string and native_type in (2, 6):
        return DBR_IDS["TIME_STRING"]
    time_type = _TIME_OF.get(native_type)
    return time_type if time_type is not None else int(promote(native_type, "time"))


def resolve_type(rule: Any, native_type: int) -> int:
    """The DBR id a :data:`TypeRule` asks for on a channel of ``native_type``."""
    if rule is None:
        return native_type
    if isinstance(rule, str):
        return int(promote(native_type, rule))
    if callable(rule):
        return int(rule(native_type))
    return int(rule)


def check_timeout(timeout: float | None) -> float | None:
    """``timeout`` if it is None (no limit) or a number >= 0; ValueError otherwise."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ValueError(f"timeout must be a number of seconds or None, not {timeout!r}")
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds (or None), not {timeout!r}")
    return float(timeout)


class Operation:
    """Base of the operations: a deadline, ``done``, and :meth:`on_done` callbacks."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = check_timeout(timeout)
        self.done = False
        self.deadline: float | None = None
        self._done_callbacks: list[Callable[["Operation"], None]] = []

    def on_done(self, callback: Callable[["Operation"], None]) -> None:
        """Call ``callback(op)`` once the operation is done (at once if it is)."""
        if self.done:
            callback(self)
        else:
            self._done_callbacks.append(callback)

    def _arm(self, now: float) -> None:
        self.deadline = None if self.timeout is None else now + self.timeout

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        callbacks, self._done_callbacks = self._done_callbacks, []
        for callback in callbacks:
            callback(self)

    def start(self, ctx: Any, now: float) -> None:
        raise NotImplementedError

    def step(self, ctx: Any, now: float) -> float | None:
        raise NotImplementedError


def run(ctx: Any, op: Operation, *, until: float | None = None,
        after_turn: Callable[[], None] | None = None) -> Any:
    """Drive ``op`` on this thread until it is done, or until the monotonic time
    ``until``; call ``after_turn()`` after each turn of the loop (a command flushes its
    output there; an exception it raises ends the run). Return ``op``."""
    from time import monotonic
    now = monotonic()
    op.start(ctx, now)
    while True:
        due = op.step(ctx, now)
        if op.done:
            return op
        if until is not None:
            if now >= until:
                return op
            due = until if due is None else min(due, until)
        wait = None if due is None else max(0.0, due - now)
        try:
            ctx.process(wait)
        finally:
            if after_turn is not None:
                after_turn()
        now = monotonic()


def step_all(active: list[Any], ctx: Any, now: float,
             fails: dict[int, Callable[[BaseException], None]]) -> float | None:
    """Step each operation of ``active`` on ``ctx`` (for a driver that runs many: the
    library's I/O thread, the asyncio driver). One that is done leaves ``active``; one
    whose step raises leaves it too, and its caller fails through ``fails[id(op)]`` (the
    error is raised again when it has none). Return when one is due again."""
    due: float | None = None
    for op in list(active) if active else ():
        if not op.done:
            try:
                t = op.step(ctx, now)
            except Exception as exc:        # (a bug: fail that call alone)
                active.remove(op)
                fail = fails.pop(id(op), None)
                if fail is None:
                    raise
                fail(exc)
                continue
            if not op.done:
                if t is not None and (due is None or t < due):
                    due = t
                continue
        active.remove(op)
        fails.pop(id(op), None)
    return due


class _Connect:
    """Waits, within a deadline, until every PV is connected (most connect in order:
    ``pending[:first]`` are connected)."""

    def __init__(self, pvs: Sequence[PV]) -> None:
        self.pending = [pv for pv in pvs if pv.state != CONNECTED]
        self.first = 0

    def all_connected(self) -> bool:
        pending = self.pending
        n = len(pending)
        first = self.first
        while True:     # (not ``while <test>``: see protocol._fastpath.take_batch)
            if first >= n or pending[first].state != CONNECTED:
                break
            first += 1
        self.first = first
        if first == n:
            return True
        if any(pv.state != CONNECTED for pv in pending[first:]):
            return False
        self.first = n
        return True


def too_large(name: str) -> RemoteError:
    """The error of a read not sent: its reply could not fit the message bound (libca's
    ECA_TOLARGE from ca_array_get)."""
    from ..protocol import CAStatus     # (the ECA table is loaded only when needed)
    return RemoteError(name, CAStatus.ECA_TOLARGE, refused=True)


def is_too_large(error: Any) -> bool:
    """True for :func:`too_large`'s error (a read refused before it was sent)."""
    if not isinstance(error, RemoteError) or not error.refused:
        return False
    from ..protocol import CAStatus
    return error.status == CAStatus.ECA_TOLARGE


def not_found(name: str) -> NotFound:
    """The error of a PV that no server answered for."""
    return NotFound(name, f"Channel connect timed out: '{name}' not found.")


class Request:
    """What a read asked for: DBR type and count, and the channel's native type and
    count at the time."""

    __slots__ = ("data_type", "count", "native_type", "native_count")

    def __init__(self, data_type: int, count: int, native_type: int,
                 native_count: int) -> None:
        self.data_type = data_type
        self.count = count
        self.native_type = native_type
        self.native_count = native_count

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Request) and \
            (self.data_type, self.count, self.native_type, self.native_count) == \
            (other.data_type, other.count, other.native_type, other.native_count)

    def __repr__(self) -> str:
        return (f"Request(data_type={self.data_type}, count={self.count}, "
                f"native_type={self.native_type}, native_count={self.native_count})")


class GetMany(Operation):
    """Read many PVs as caget does: connect all within ``timeout``, then read every
    connected PV (each name once) in one batch per circuit, within ``timeout`` again.

    ``data_type`` is a :data:`TypeRule`. ``count`` is caget's ``-#`` (0: all);
    ``dynamic`` is ``-c`` (ask for at most the native count, take what comes). With
    ``zero_fill`` (and without ``dynamic``) a short reply is zero-filled to the count
    asked for, and a read the server failed gives a Reading of zeros whose ``error``
    says why: what libca's ``ca_array_get`` leaves for the C tools to print.
    A read whose reply could not fit ``max_payload_size`` (EPICS_CA_MAX_ARRAY_BYTES) is
    not sent and fails with ECA_TOLARGE. With ``labels`` (a dict the caller keeps per
    Context), enum readings carry their state labels (read once per channel, as CTRL).

    ``results`` holds one Result per name, in order: a :class:`Reading`, or a failed
    Result whose ``error`` is NotFound, Timeout (no reply in time), AccessDenied,
    Disconnected or RemoteError (the server failed the read, or ECA_TOLARGE).
    ``counts`` (ints; 0 for a name that did not connect) and ``requests`` (a
    :class:`Request`, or None) say, parallel to it, what was asked of each name.

    With ``read_grace`` (seconds) the whole operation has ONE deadline, ``timeout``
    from the start: the reads get what is left of it, but at least ``read_grace`` (so
    that one missing name that used up the time does not fail the PVs found).

    With ``full`` each PV is also read as DBR_CTRL of its native type (one element, in
    the same batch) and its reading carries the CTRL metadata (units, precision,
    limits, enum strings) beside its own alarm and timestamp; a CTRL read that fails
    leaves the reading as it is.
    """

    def __init__(self, names: Sequence[str], *, data_type: Any = None, count: int = 0,
                 dynamic: bool = False, priority: int = 0, timeout: float | None = 1.0,
                 labels: dict[str, list[str]] | None = None, zero_fill: bool = False,
                 read_grace: float | None = None, full: bool = False) -> None:
        super().__init__(timeout)
        self.full = full
        self._ctrl_ops: list[Any] = []
        self.read_grace = check_timeout(read_grace)
        self.zero_fill = zero_fill and not dynamic
        #: the count asked for each name (0 for a name that did not connect)
        self.counts: list[int] = []
        self.names = list(names)
        self.data_type = data_type
        self.count = count
        self.dynamic = dynamic
        self.priority = priority
        self.labels = labels
        self.pvs: list[PV] = []
        self._results: list[Result] | None = []
        self._connect: _Connect | None = None
        self._plan: list[tuple[PV, int, int]] = []
        self._batch: Any = None             # (the ReadBatch of the plan's reads)
        self._big: set[int] = set()         # (plan positions not sent: too large)
        self._one_each = True               # (every read in the plan asks one element)
        self._label_ops: dict[str, Any] = {}
        self._pending: list[Any] = []

    def start(self, ctx: Any, now: float) -> None:
        self.pvs = ctx.pvs_for(self.names, self.priority)
        self._connect = _Connect(self.pvs)
        self._arm(now)

    def step(self, ctx: Any, now: float) -> float | None:
        if self.done:
            return None
        if self._connect is not None:
            if not self._connect.all_connected() and \
                    (self.deadline is None or now < self.deadline):
                return self.deadline
            self._connect = None
            self._send_reads(ctx)
            if self.read_grace is None:
                self._arm(now)
            elif self.deadline is not None:
                self.deadline = max(self.deadline, now + self.read_grace)
        pending = self._pending
        while True:     # (not ``while <test>``: see protocol._fastpath.take_batch)
            if not pending or not pending[-1].done:
                break
            pending.pop()
        if (pending or self._batch.left) and (self.deadline is None or now < self.deadline):
            return self.deadline
        self._collect()
        self._finish()
        return None

    def _send_reads(self, ctx: Any) -> None:
        # a name given twice is read once (most runs name each PV once: no check then)
        seen: set[int] | None = None if len(set(self.names)) == len(self.names) else set()
        types: dict[int, int] = {}
        req = self.count
        limit = ctx.config.max_payload_size
        plan = self._plan
        big: set[int] = set()
        labels = self.labels
        dynamic = self.dynamic
        for pv in self.pvs:
            if pv.state != CONNECTED:
                continue
            if seen is not None:
                if id(pv) in seen:
                    continue
                seen.add(id(pv))
            native_count = pv.native_count
            if dynamic:
                n = native_count if req > native_count else req
            else:
                n = req if 0 < req < native_count else native_count
            data_type = types.get(pv.native_type)
            if data_type is None:
                data_type = types[pv.native_type] = resolve_type(self.data_type,
                                                                 pv.native_type)
            if n != 1:
                self._one_each = False
                if n > SMALL_COUNT and data_size(data_type, n) > limit:
                    big.add(len(plan))
            plan.append((pv, data_type, n))
            if labels is not None and pv.native_type == _ENUM and pv.name not in labels \
                    and DBR_TYPES[data_type].family != _CONTROL:
                self._label_ops[pv.name] = None
        self._batch = ctx.pool.read_batch([p for i, p in enumerate(plan) if i not in big]
                                          if big else plan)
        self._big = big
        extra = []
        if self._label_ops:
            by_name = {pv.name: pv for pv, _, _ in plan}
            label_reads = ctx.read_many([(by_name[name], DBR_IDS["CTRL_ENUM"], 1)
                                         for name in self._label_ops])
            self._label_ops = dict(zip(self._label_ops, label_reads))
            extra = label_reads
        if self.full:
            self._ctrl_ops = ctx.read_many([(pv, int(promote(pv.native_type, "control")), 1)
                                            for pv, _, _ in plan])
            extra = extra + self._ctrl_ops
        self._pending = extra[::-1]

    def _collect(self) -> None:
        labels = self.labels
        if labels is not None:
            for name, op in self._label_ops.items():
                if op is not None and op.done and op.error is None:
                    strings = op.result.metadata.enum_strings or []
                    labels[name] = [s.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                                    for s in strings]
        plan = self._plan
        found: list[Result] = []
        append = found.append
        batch = self._batch
        if self._ctrl_ops:
            for (pv, data_type, n), op, ctrl in zip(plan, self._slots(), self._ctrl_ops):
                result = self._result(pv, data_type, n, op)
                if ctrl is not None and isinstance(result, Reading) and result.error is None:
                    result = _merged(result, ctrl)
                append(result)
        elif labels is None and len(plan) == len(self.pvs) and not batch.left and \
                not self._big and not any(batch.errors):
            # (the common case: every name read once; the Readings are made when first
            # asked for, so that caget's lines can be written from the replies alone)
            self._results = None
            self.counts = list(map(_third, plan))
            return
        elif labels is None:    # (in one pass: no object per PV but its Reading)
            of = Reading.of
            zero_fill = self.zero_fill
            for (pv, data_type, n), op in zip(plan, self._slots()):
                if op is not None and op.done and op.error is None:
                    reply = op.result
                    reading = of(pv.name, reply, pv.native_type, pv.native_count)
                    append(reading.padded(n) if zero_fill and reply.data_count < n
                           else reading)
                else:
                    append(self._result(pv, data_type, n, op))
        else:
            for (pv, data_type, n), op in zip(plan, self._slots()):
                append(self._result(pv, data_type, n, op))
        if len(plan) == len(self.pvs):          # every name connected, none twice
            self._results = found
            self.counts = list(map(_third, plan))
            return
        by_pv = {id(pv): (result, n) for (pv, _, n), result in zip(plan, found)}
        results = self._results = []
        counts = self.counts
        for pv in self.pvs:
            entry = by_pv.get(id(pv))
            if entry is None:
                results.append(Result(pv.name, not_found(pv.name)))
                counts.append(0)
            else:
                results.append(entry[0])
                counts.append(entry[1])

    @property
    def results(self) -> list[Result]:
        """One Result per name, in order (see the class)."""
        results = self._results
        if results is None:     # every read answered: their Readings, made now
            of = Reading.of
            zero_fill = self.zero_fill
            results = []
            append = results.append
            for (pv, _, n), reply in zip(self._plan, self._batch.all_replies()):
                reading = of(pv.name, reply, pv.native_type, pv.native_count)
                append(reading.padded(n) if zero_fill and reply.data_count < n
                       else reading)
            self._results = results
        return results

    def scalar_values(self) -> tuple[list[str], list[int], list[Any]] | None:
        """``(names, data types, values)`` of every name, in order, when every name was
        read once and answered with one element (caget's lines are then written from
        them, without a Reading or a reply per PV); None otherwise."""
        if self._results is not None or not self.done:
            return None
        if self.zero_fill and not self._one_each:
            return None         # (zero-filled to more than one element: not a scalar)
        columns = self._batch.scalar_values()
        if columns is None:
            return None
        return list(map(_name_of, map(_first, self._plan))), *columns

    @property
    def requests(self) -> list[Request | None]:
        """What was asked of each name (a :class:`Request`; None for a name that did not
        connect), parallel to ``results``."""
        asked = {id(pv): Request(data_type, n, pv.native_type, pv.native_count)
                 for pv, data_type, n in self._plan}
        return [asked.get(id(pv)) for pv in self.pvs]

    def _slots(self) -> list[_Slot | None]:
        """Per position of the plan, how its read ended (None: not sent, too large)."""
        batch = self._batch
        slots = list(map(_Slot, batch.all_replies(), batch.errors))
        if not self._big:
            return slots    # type: ignore[return-value]
        it = iter(slots)
        return [None if i in self._big else next(it) for i in range(len(self._plan))]

    def _result(self, pv: PV, data_type: int, n: int, op: Any) -> Result:
        name = pv.name
        if op is None:
            return Result(name, too_large(name))
        if not op.done:
            return Result(name, Timeout(name, "no data available (timeout)"))
        error = op.error
        if error is not None:
            if not isinstance(error, CAError):
                error = CAError(name, str(error))
            if self.zero_fill and isinstance(error, RemoteError) and not error.refused:
                zeros = Reading.zeros(name, data_type, n, pv.native_type, pv.native_count)
                zeros.error = error
                return zeros
            return Result(name, error)
        labels = self.labels.get(name) if self.labels is not None else None
        reading = Reading.of(name, op.result, pv.native_type, pv.native_count, labels)
        if self.zero_fill and reading.count < n:
            reading = reading.padded(n)
        return reading


class _Slot:
    """How one read of a ReadBatch ended, as an Operation says it."""

    __slots__ = ("result", "error", "done")

    def __init__(self, result: Any, error: Exception | None) -> None:
        self.result = result
        self.error = error
        self.done = result is not None or error is not None


_name_of = attrgetter("name")
_first = itemgetter(0)
_third = itemgetter(2)

_CTRL_FIELDS = ("units", "precision", "upper_disp_limit", "lower_disp_limit",
                "upper_alarm_limit", "upper_warning_limit", "lower_warning_limit",
                "lower_alarm_limit", "upper_ctrl_limit", "lower_ctrl_limit", "enum_strings")


def _merged(reading: Reading, ctrl: Any) -> Reading:
    """``reading`` with the CTRL metadata of a done CTRL read (as it is if that failed)."""
    if not ctrl.done or ctrl.error is not None:
        return reading
    source = ctrl.result.metadata
    if source is None:
        return reading
    from copy import copy
    metadata = copy(reading.metadata)
    for field in _CTRL_FIELDS:
        setattr(metadata, field, getattr(source, field))
    labels = reading.labels
    if labels is None and source.enum_strings is not None:
        labels = [s.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                  for s in source.enum_strings]
    return Reading(reading.name, reading.data_type, reading.data, reading.count,
                   reading.native_type, reading.native_count, metadata, labels)


class Connect(Operation):
    """Connect PVs within ``timeout``; ``results`` holds a :class:`ChannelInfo` or a
    failed Result (NotFound) per name, in order."""

    def __init__(self, names: Sequence[str], *, priority: int = 0,
                 timeout: float | None = 1.0) -> None:
        super().__init__(timeout)
        self.names = list(names)
        self.priority = priority
        self.pvs: list[PV] = []
        self.results: list[Any] = []
        self._connect: _Connect | None = None

    def start(self, ctx: Any, now: float) -> None:
        self.pvs = ctx.pvs_for(self.names, self.priority)
        self._connect = _Connect(self.pvs)
        self._arm(now)

    def step(self, ctx: Any, now: float) -> float | None:
        if self.done:
            return None
        assert self._connect is not None
        if not self._connect.all_connected() and \
                (self.deadline is None or now < self.deadline):
            return self.deadline
        from ..results import ChannelInfo
        self.results = [ChannelInfo.of(pv) if pv.state == CONNECTED
                        else Result(pv.name, not_found(pv.name)) for pv in self.pvs]
        self._finish()
        return None


__all__ = ["request_type", "resolve_type", "check_timeout", "Operation", "run", "step_all",
           "GetMany",
           "Request", "too_large", "is_too_large",
           "Connect", "not_found", "SMALL_COUNT", "NEVER_CONNECTED"]
