"""``monitor``: the updates of PVs, as an iterator or through a callback.

The client delivers each event on the I/O thread; the monitor turns it into a
:class:`Reading` (or a :class:`Connected`/:class:`ConnectionLost` event, or a failed
:class:`Result`) and puts it on its own bounded queue. Your loop (or, with
``callback=``, the monitor's dispatcher thread) takes events from that queue, so a
slow consumer never holds up the I/O of other calls, and a callback may call
``catools.get``/``put``.
"""
from __future__ import annotations

import sys
import threading
import traceback
from collections import deque
from time import monotonic
from typing import Any, Callable, ClassVar, Iterator

from ..client import resolve_type
from ..errors import AccessDenied, RemoteError
from ..results import Reading, Result
from ..arguments import check_timeout, monitor_arguments, needs_labels
from ._context import Context, default_context
from ._loop import ContextClosed

#: Events a monitor keeps for a consumer that has not taken them (see ``queue_size``).
QUEUE_SIZE = 10000
#: Seconds given to the read of an enum's labels after each connect.
LABEL_TIMEOUT = 5.0
#: the CTRL type of an enum (DBF_ENUM is native type 3): it carries the labels
_DBR_CTRL_ENUM = resolve_type("control", 3)
_CLOSED: Any = object()


class ConnectionEvent:
    """A PV's channel connected or was lost (``name``, ``connected``)."""

    __slots__ = ("name",)
    connected = False

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.name == self.name  # type: ignore

    def __hash__(self) -> int:
        return hash((type(self), self.name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Connected(ConnectionEvent):
    """The PV's channel connected (first, or again after a loss); its current value
    follows as the next update."""

    __slots__ = ()
    connected = True


class ConnectionLost(ConnectionEvent):
    """The PV's channel was lost (its server went away); the client searches for it
    and a :class:`Connected` follows when it is back. (Not called ``Disconnected``:
    that is the exception a call raises for the same cause.)"""

    __slots__ = ()
    connected = False


class Update(Reading):
    """A monitor's :class:`Reading`; ``merged`` counts the older updates of the PV this
    one replaced (``latest=True``) before you took it."""

    __slots__ = ("merged",)
    merged: int
    of: ClassVar[Callable[..., Update]]     # (Reading.of, making an Update)


class Monitor:
    """Subscriptions to PVs and the queue of their events; iterate over it, or give
    ``callback=``. Leaving the ``with`` block (or :meth:`close`) cancels them."""

    def __init__(self, ctx: Context, names: list[str], *, rule: Any, count: int, mask: int,
                 latest: bool, queue_size: int, idle_timeout: float | None,
                 callback: Callable[[Any], None] | None, priority: int = 0) -> None:
        from ..client import Subscribe
        self.names = names
        self.context = ctx
        self.latest = latest
        self.queue_size = queue_size
        self.idle_timeout = idle_timeout
        self.callback = callback
        #: events discarded because the queue was full (the oldest go first)
        self.dropped = 0
        self._rule = rule
        self._cond = threading.Condition()
        self._items: deque[list[Any]] = deque()
        self._tail: dict[str, list[Any]] = {}   # latest: a PV's pending update, if last
        self._closed = False
        self._hold: dict[str, list[Any]] = {}   # replies waiting for an enum's labels
        self._generation: dict[str, int] = {}
        self._created: list[str] = []
        self._op = Subscribe(names, self._on_event, data_type=rule, count=count, mask=mask,
                             priority=priority, on_updates=self._on_updates)
        self._dispatcher: threading.Thread | None = None
        ctx.call(self._start)
        ctx.book.monitors.append(self)
        if callback is not None:
            self._dispatcher = threading.Thread(target=self._dispatch, daemon=True,
                                                name="catools-monitor")
            self._dispatcher.start()

    # -- the I/O thread's side -----------------------------------------------

    def _start(self, client: Any) -> None:
        ctx = self.context
        self._created = ctx.book.use(self.names)
        try:
            ctx.start_op(self._op, lambda op: None)
        except BaseException:
            self._unuse(client)
            raise
        seen: set[str] = set()
        for pv in self._op.pvs:     # (connected already: no "connected" comes for them)
            if pv.connected and pv.name not in seen:
                seen.add(pv.name)
                self._push(Connected(pv.name))
                if pv.name not in ctx.book.labels and needs_labels(self._rule, pv.native_type):
                    self._read_labels(pv.name, pv)

    def _unuse(self, client: Any) -> None:
        ctx = self.context
        ctx.forget(ctx.book.unuse(self.names, self._created), client)

    def _stop(self, client: Any) -> None:
        self._op.stop()
        self.context.stop_op(self._op)
        self._unuse(client)

    def _on_event(self, name: str, kind: str, reply: Any, pv: Any) -> None:
        if kind == "update":
            held = self._hold.get(name)
            if held is not None:
                held.append(reply)
            else:
                self._push(self._update(name, reply, pv))
        elif kind == "connected":
            self._push(Connected(name))
            if needs_labels(self._rule, pv.native_type):
                self._read_labels(name, pv)
        elif kind == "disconnected":
            self._flush(name, pv)
            self._push(ConnectionLost(name))
        elif kind == "no_read_access":
            self._push(Result(name, AccessDenied(name, "no read access")))
        elif kind == "error":
            self._push(Result(name, RemoteError(name, getattr(reply, "status", 0) or 0)))

    def _on_updates(self, subs: list[Any], run: Any) -> None:
        """A run of updates (the client's ``on_updates``): their Updates, queued under
        one lock, as ``_on_event`` would one by one."""
        labels = self.context.book.labels
        hold = self._hold
        make = Update.of
        events = []
        for i, sub in enumerate(subs):
            pv = sub.pv
            name = pv.name
            reply = run.reply(i)
            held = hold.get(name) if hold else None
            if held is not None:
                held.append(reply)
                continue
            event = make(name, reply, pv.native_type, pv.native_count, labels.get(name))
            event.merged = 0
            events.append(event)
        if events:
            self._push_many(events)

    def _update(self, name: str, reply: Any, pv: Any) -> Update:
        event = Update.of(name, reply, pv.native_type, pv.native_count,
                          self.context.book.labels.get(name))
        event.merged = 0
        return event

    def _read_labels(self, name: str, pv: Any) -> None:
        """Hold the PV's updates until its enum labels are read (once per connect)."""
        from ..client import GetMany
        self._hold[name] = []
        generation = self._generation[name] = self._generation.get(name, 0) + 1
        op = GetMany([name], data_type=_DBR_CTRL_ENUM, count=1, timeout=LABEL_TIMEOUT)

        def read(op: Any) -> None:
            if self._generation.get(name) != generation:
                return          # (lost and connected again meanwhile)
            result = op.results[0] if op.results else None
            if result is not None and result.ok and result.enum_strings:
                self.context.book.labels[name] = result.enum_strings
            self._flush(name, pv)
        self.context.start_op(op, read)

    def _flush(self, name: str, pv: Any) -> None:
        held = self._hold.pop(name, None)
        self._generation[name] = self._generation.get(name, 0) + 1
        for reply in held or ():
            self._push(self._update(name, reply, pv))

    def _push(self, event: Any) -> None:
        self._push_many((event,))

    def _push_many(self, events: Any) -> None:
        """Queue ``events`` in order (under one lock)."""
        with self._cond:
            if self._closed:
                return
            items, tail, latest = self._items, self._tail, self.latest
            for event in events:
                name = event.name
                if latest and isinstance(event, Update):
                    box = tail.get(name)
                    if box is not None:
                        event.merged = box[0].merged + 1
                        box[0] = event
                        continue
                    box = [event]
                    items.append(box)
                    tail[name] = box
                else:
                    tail.pop(name, None)
                    items.append([event])
                if len(items) > self.queue_size:
                    box = items.popleft()
                    if tail.get(box[0].name) is box:
                        del tail[box[0].name]
                    self.dropped += 1
            self._cond.notify(len(events))

    # -- the consumer's side -------------------------------------------------

    def _pop(self, timeout: float | None) -> Any:
        """The next event; None after ``timeout`` seconds without one; _CLOSED."""
        with self._cond:
            items = self._items
            if not items and not self._closed:
                deadline = None if timeout is None else monotonic() + timeout
                while not items and not self._closed:
                    left = None if deadline is None else deadline - monotonic()
                    if left is not None and left <= 0:
                        return None
                    self._cond.wait(left)
            if not items:
                return _CLOSED
            box = items.popleft()
            event = box[0]
            if self._tail.get(event.name) is box:
                del self._tail[event.name]
            return event

    def next_event(self, timeout: float | None = None) -> Any:
        """The next event, waiting up to ``timeout`` seconds (None: as long as it
        takes); None if none came in time or the monitor is closed."""
        self._iterable()
        event = self._pop(check_timeout(timeout, allow_none=True))
        return None if event is _CLOSED else event

    def __iter__(self) -> Iterator[Any]:
        self._iterable()
        return self

    def __next__(self) -> Any:
        event = self._pop(self.idle_timeout)
        if event is None or event is _CLOSED:
            raise StopIteration
        return event

    def _iterable(self) -> None:
        if self.callback is not None:
            raise TypeError("this monitor delivers its events to its callback")

    def _dispatch(self) -> None:
        callback = self.callback
        assert callback is not None
        while True:
            event = self._pop(None)
            if event is _CLOSED:
                return
            try:
                callback(event)
            except Exception:
                sys.stderr.write(f"catools.monitor: the callback failed on {event!r}:\n")
                traceback.print_exc()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Cancel the subscriptions, release the channels this monitor made, and end
        the iteration (or the dispatcher thread, once its callback returns)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._items.clear()
            self._tail.clear()
            self._cond.notify_all()
        try:
            self.context.call(self._stop)
        except ContextClosed:
            pass
        if self in self.context.book.monitors:
            self.context.book.monitors.remove(self)
        thread = self._dispatcher
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<catools.Monitor {self.names!r}{' closed' if self._closed else ''}>"


def monitor(names: str | list[str], *, callback: Callable[[Any], None] | None = None,
            format: str = "time", data_type: Any = None, mask: str | int = "va",
            props: bool = False, latest: bool = False, count: int | None = None,
            timeout: float | None = None, queue_size: int = QUEUE_SIZE,
            context: Context | None = None, priority: int = 0) -> Monitor:
    """Monitor PVs; returns a :class:`Monitor` (a context manager and an iterator).

    Events: an :class:`Update` (a Reading) per value change, :class:`Connected` and
    :class:`ConnectionLost` as channels come and go (the client reconnects by itself,
    e.g. after an IOC restart), and a failed Result when the server refuses (no read
    access). ``mask`` letters: v(alue), a(larm), l(og/archive), p(roperty); ``props``
    adds p. ``format``/``data_type``/``count`` as for :func:`catools.get`.

    With ``callback`` each event is passed to ``callback(event)`` on the monitor's own
    thread, in order (``catools.get``/``put`` work there). Else iterate; ``timeout``
    ends the iteration after that many seconds without an event (None: never).
    The queue holds ``queue_size`` events: when it is full the oldest is dropped and
    counted in ``.dropped``. With ``latest`` a PV's update still waiting is replaced by
    the newer one (``event.merged`` counts those replaced), so a slow consumer always
    gets each PV's newest value and the queue holds about one update per PV.
    """
    name_list, kwargs = monitor_arguments(
        names, format=format, data_type=data_type, mask=mask, props=props, count=count,
        timeout=timeout, queue_size=queue_size, callback=callback)
    ctx = default_context() if context is None else context
    if not isinstance(ctx, Context):
        raise ValueError(f"context must be a catools.Context, not {ctx!r}")
    return Monitor(ctx, name_list, latest=bool(latest), priority=priority, **kwargs)


__all__ = ["monitor", "Monitor", "Update", "ConnectionEvent", "Connected",
           "ConnectionLost", "QUEUE_SIZE"]
