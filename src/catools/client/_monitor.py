"""Monitors, as camonitor makes them: an operation over a :class:`Context` (see
``_operations``)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ._operations import Operation, check_timeout, request_type
from ._pv import NEVER_CONNECTED, PV

#: ``on_event(name, kind, reply, pv)`` of a :class:`Subscribe`: ``kind`` is ``update``
#: (``reply`` is the EVENT_ADD reply), ``no_read_access`` or ``error`` (a failing
#: reply, or an ERROR for the subscription), ``connected``, ``disconnected`` or
#: ``not_found`` (``reply`` None).
EventCallback = Callable[[str, str, Any, PV], None]
#: ``on_updates(subs, run)`` of a :class:`Subscribe`: a run of successful updates (a
#: ``catools.protocol.EventAddRun``), ``subs[i]`` the Subscription of update i (its
#: ``pv`` the PV); in place of one ``on_event(name, "update", reply, pv)`` per update.
UpdatesCallback = Callable[[list[Any], Any], None]



class Subscribe(Operation):
    """Monitor PVs as camonitor does: one subscription per PV (a name given twice is
    monitored once), asking for ``data_type`` (a :data:`TypeRule`, applied again to
    the native type at every connect) and ``count`` elements (0: the native count, as
    libca's dynamic count; never more than the channel has), re-established after
    every reconnect. Each event goes to ``on_event`` as it is dispatched; a PV not
    connected ``not_found_after`` seconds after the start gets one ``not_found``.
    With ``on_updates``, a run of successful updates goes to it in one call instead.
    It is done only once :meth:`stop` is called."""

    def __init__(self, names: Sequence[str], on_event: EventCallback, *,
                 data_type: Any = request_type, count: int = 0, mask: int = 5,
                 priority: int = 0, not_found_after: float | None = None,
                 on_updates: UpdatesCallback | None = None) -> None:
        super().__init__(None)
        self.names = names if isinstance(names, list) else list(names)  # (not copied)
        self.on_event = on_event
        self.on_updates = on_updates
        self.data_type = data_type
        self.count = count
        self.mask = mask
        self.priority = priority
        self.not_found_after = check_timeout(not_found_after)
        self.pvs: list[PV] = []
        self.subscriptions: list[Any] = []
        self._check_at: float | None = None
        self._normal = self._no_read = -1

    def start(self, ctx: Any, now: float) -> None:
        self.pvs = pvs = ctx.pvs_for(self.names, self.priority)
        rule = self.data_type
        data_type = rule if callable(rule) or rule is None or isinstance(rule, str) \
            else int(rule)
        from ..protocol import CAStatus     # (the ECA table: loaded once a monitor starts)
        self._normal = int(CAStatus.ECA_NORMAL)
        self._no_read = int(CAStatus.ECA_NORDACCESS)
        # (one callback for every PV: it finds the PV in sub; one batch: see Circuit)
        self.subscriptions = ctx.subscribe_many(
            dict.fromkeys(pvs), self._event, data_type, count=self.count, mask=self.mask,
            batch=self._updates)        # (a name given twice is monitored once)
        if self.not_found_after is not None:
            self._check_at = now + self.not_found_after

    def _event(self, sub: Any, event: str, reply: Any) -> None:
        """A subscription's event, as ``on_event(name, kind, reply, pv)``."""
        pv = sub.pv
        if event == "update":
            status = reply.status
            if status == self._normal:
                self.on_event(pv.name, "update", reply, pv)
            elif status == self._no_read:
                self.on_event(pv.name, "no_read_access", reply, pv)
            else:
                self.on_event(pv.name, "error", reply, pv)
        else:
            self.on_event(pv.name, event, reply, pv)

    def _updates(self, subs: list[Any], run: Any) -> None:
        """A run of updates (an EventAddRun; ``subs[i]`` the Subscription of update i):
        to ``on_updates`` at once when they succeeded and it is given, else each to
        ``on_event`` as :meth:`_event` does."""
        if self.on_updates is not None and run.status == self._normal:
            self.on_updates(subs, run)
            return
        event = self._event
        for i, sub in enumerate(subs):
            event(sub, "update", run.reply(i))

    def step(self, ctx: Any, now: float) -> float | None:
        check_at = self._check_at
        if check_at is None:
            return None
        if now < check_at:
            return check_at
        self._check_at = None
        seen: set[int] = set()
        for pv in self.pvs:
            if pv.state == NEVER_CONNECTED and id(pv) not in seen:
                seen.add(id(pv))
                self.on_event(pv.name, "not_found", None, pv)
        return None

    def stop(self) -> None:
        """Cancel every subscription; the operation is done."""
        for sub in self.subscriptions:
            sub.cancel()
        self.subscriptions.clear()
        self._finish()


__all__ = ["Subscribe", "EventCallback", "UpdatesCallback"]
