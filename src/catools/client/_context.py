"""The blocking client: a Context joins the UDP port (``_udp``), the search bookkeeping
(``_search``), the circuits (``_circuit``) and the PVs (``_pv``) with one readiness loop
(``_poll``) and ``time.monotonic`` deadlines, all on the caller's thread.

User callbacks go through a ``CallbackQueue`` (``_callbacks``): never inside the
handling of I/O, always in arrival order.
"""
from __future__ import annotations

import math
import os
import time

from ..config import ClientConfig
from ..hints import TYPE_CHECKING, cast
from ..protocol import WriteRequest
from ..protocol import MAX_NAME_LENGTH, NAME_CHARS_SAFE, name_too_long
from .. import netinfo as _net
from ._callbacks import CallbackQueue
from ._circuit import Circuit
from ._errors import AccessDeniedError, CaStatusError, CaTimeoutError, DisconnectedError
from ._finder import Finder
from ._poll import READ, WRITE, Poller
from ._pool import CircuitPool
from ._pv import (CLOSED, CONNECTED, NEVER_CONNECTED, PREVIOUSLY_CONNECTED, PV, Operation,
                  PVTable, Subscription, SubscriptionSpec, monitor_all)
from ._search import SearchScheduler
from ._udp import UdpPort

if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Sequence
    from ._status import ContextStatus

Address = tuple[str, int]


class Context:
    """A CA client context configured from the environment (or a ClientConfig).

    Connects back off per server address (``ClientConfig.reconnect_delay``, doubling
    up to ``reconnect_ceiling``); a channel that gets a bad reply is cleared alone.
    With ``listen_beacons`` (through a caRepeater), :meth:`on_beacon` callbacks see
    every beacon, and a beacon anomaly (a new or restarted server) searches at once for
    the PVs not connected. ``on_warning(message, context)`` hears libca's CA exceptions
    and ``on_log(line)`` its one-line errors (default: the ``catools.client`` logger);
    ``on_callback_error(exc, callback)`` hears of an exception in a user callback
    (default: one ``on_warning``). :func:`observe` adds diagnostic hooks.
    """

    def __init__(self, config: ClientConfig | None = None, *,
                 on_warning: Callable[[str, str], None] | None = None,
                 on_log: Callable[[str], None] | None = None,
                 listen_beacons: bool = False) -> None:
        self.config = config = config if config is not None else \
            ClientConfig.from_env(os.environ)
        self.on_warning = on_warning if on_warning is not None else log_warning
        self.on_log: Callable[[str], None] = on_log if on_log is not None else log_line
        self.on_callback_error: Callable[[BaseException, Any], None] | None = None
        self.callbacks = CallbackQueue(self._callback_failed)
        self.poller = Poller()
        self._udp = UdpPort(lambda line: self.on_log(line))
        self.udp = self._udp.sock
        self.poller.register(self.udp, READ, None)
        warn = self._warn
        self.search_targets = _net.resolve_all(
            config.search_addresses(_net.broadcast_addresses), "EPICS_CA_ADDR_LIST", warn)
        self.name_servers = list(dict.fromkeys(         # (each name server once)
            _net.resolve_all(config.name_servers, "EPICS_CA_NAME_SERVERS", warn)))
        self.search = SearchScheduler(config.max_search_period,
                                      self.search_targets + self.name_servers,
                                      listening_since=time.monotonic())
        self._labels = _net.HostLabels()
        self.pool = CircuitPool(config, self.poller, self.callbacks, self.search,
                                self.name_servers, user_name=_net.user_name(),
                                host_name=_net.host_name(), host_label=self.host_label,
                                warn=warn, log=lambda line: self.on_log(line))
        self.circuits = self.pool.circuits      # {(address, priority): Circuit}
        #: Beacons (through a caRepeater, if one runs) speed up finding restarted or
        #: new servers; the client never starts a repeater itself.
        self.listen_beacons = listen_beacons
        self.finder = Finder(self._udp, self.search, self.pool, self.callbacks,
                             self.search_targets, server_port=config.server_port,
                             repeater_port=config.repeater_port,
                             listen_beacons=listen_beacons)
        #: ``{(name, priority): PV}``
        self.pvs = PVTable()
        self._closed = False

    # -- PVs -------------------------------------------------------------------

    def pv(self, name: str, priority: int = 0) -> PV:
        """The PV object for ``name`` (created and searched for on first use)."""
        return self.pvs_for((name,), priority)[0]

    def pvs_for(self, names: Iterable[str], priority: int = 0) -> list[PV]:
        """PV objects for many names; all are searched in the first batch."""
        known: dict[Any, PV] = self.pvs.others if priority else self.pvs.names
        names = names if isinstance(names, list) else list(names)
        new: list[PV] = []
        try:
            if not priority and _new_and_valid(known, names):   # (the usual: C loops)
                new = PV.many(self, names, 0)
                known.update(zip(names, new))
                return new
            return _find_or_make(self, known, names, priority, new)
        finally:
            if new:
                self.search.add(new, time.monotonic())

    def release(self, pv_or_name: PV | str, priority: int = 0) -> None:
        """Forget a PV: cancel its monitors (no callback after this), fail its pending
        operations, clear its channel (CLEAR_CHANNEL) and stop searching for it."""
        pv = pv_or_name if isinstance(pv_or_name, PV) else \
            self.pvs.get((pv_or_name, priority))
        if pv is None or self.pvs.get((pv.name, pv.priority)) is not pv:
            return
        del self.pvs[(pv.name, pv.priority)]
        for sub in pv._subscriptions or ():
            sub.cancelled = True
        circuit = pv.circuit
        if circuit is not None and not circuit.closed:
            circuit.forget(pv, "channel released")
        pv._subscriptions = pv._connection_callbacks = pv._access_callbacks = None
        self.search.release(pv)
        pv.circuit = pv.channel = pv.server = None
        pv.access_rights = 0
        pv.state = CLOSED

    def describe(self) -> ContextStatus:
        """A snapshot: search destinations, name servers, circuits and their PVs, and
        the PVs not connected."""
        from ._status import describe      # (dataclasses: ~8 ms of a tool's start-up)
        return describe(self.search_targets, self.name_servers, self.pool.circuits,
                        list(self.pvs.values()))

    # -- waiting ---------------------------------------------------------------

    def wait_connected(self, pvs: Sequence[PV], timeout: float | None) -> bool:
        """Run until every PV is connected or ``timeout`` (None: forever) passes."""
        pending = [pv for pv in pvs if not pv.connected]
        first = 0       # pending[:first] are connected (they mostly connect in order)

        def done() -> bool:
            nonlocal first
            n = len(pending)
            while first < n and pending[first].state == CONNECTED:
                first += 1
            return first == n
        return self.run_until(done, timeout)

    def run_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Process I/O until ``predicate()`` is true or ``timeout`` seconds pass (None
        or inf: no limit; NaN or negative: ValueError)."""
        deadline = _deadline(timeout)
        while not predicate():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return predicate()
            self.process(None if deadline is None else deadline - now)
        return True

    def wait(self, ops: Sequence[Operation], timeout: float | None) -> bool:
        """Run until every operation is done or the timeout passes."""
        pending = list(ops)

        def done() -> bool:
            while pending and pending[-1].done:
                pending.pop()
            return not pending
        return self.run_until(done, timeout)

    def sync(self, pv: PV, timeout: float | None) -> bool:
        """Round-trip an ECHO on ``pv``'s circuit: every earlier reply (e.g. an ERROR
        for a plain WRITE) has arrived when it returns True."""
        _deadline(timeout)
        circuit = pv.circuit
        if circuit is None or circuit.closed:
            return False
        target = circuit.echo()
        return self.run_until(lambda: circuit.echoes >= target or circuit.closed, timeout) \
            and not circuit.closed

    # -- requests --------------------------------------------------------------

    def read(self, pv: PV, data_type: int | None = None, count: int | None = None,
             callback: Callable[[Operation], None] | None = None) -> Operation:
        """Start a READ_NOTIFY; the Operation's result is the ReadNotifyResponse."""
        return self.read_many([(pv, data_type, count)], callback)[0]

    def read_many(self, requests: Iterable[tuple[PV, int | None, int | None]],
                  callback: Callable[[Operation], None] | None = None) -> list[Operation]:
        """Start READ_NOTIFYs for many ``(pv, data_type, count)`` (None: native); as
        :meth:`read` for each, with each circuit's requests encoded in one go."""
        return self.pool.read_many(requests, callback)

    def write(self, pv: PV, data: Any, data_type: int | None = None,
              count: int | None = None, notify: bool = False,
              callback: Callable[[Operation], None] | None = None, *,
              confirm: bool = False) -> Operation:
        """Start a WRITE_NOTIFY (``notify``: done when the server says) or a WRITE
        (done once sent; with ``confirm``, when an ECHO after it returns, with the
        ERROR that quoted this write as ``op.error``). More elements than the PV holds
        fail at once with ECA_BADCOUNT."""
        op = Operation(pv, "write", callback)
        if not pv.connected:
            op._finish(error=DisconnectedError(pv.name, "not connected"))
            return op
        if not pv.write_access:
            op._finish(error=AccessDeniedError(pv.name, "Write access denied", write=True))
            return op
        circuit, channel = pv.link()
        if notify:
            request: Any = channel.write(data, data_type=data_type, data_count=count,
                                         notify=True)
        else:       # (p2: a write id of ours, which an ERROR for it quotes)
            request = WriteRequest(data=data, data_type=pv.native_type if data_type is None
                                   else data_type, data_count=count,
                                   sid=cast(int, channel.sid), ioid=circuit.core.new_ioid())
        if request.data_count > pv.native_count:
            from ..protocol import CAStatus     # (the ECA table, only when needed)
            op._finish(error=CaStatusError(pv.name, CAStatus.ECA_BADCOUNT, refused=True))
            return op
        circuit.write_value(op, request, confirm)
        return op

    def subscribe(self, pv: PV, callback: Callable[..., None], data_type: int | str | None
                  = "time", count: int | None = None, mask: int = 5) -> Subscription:
        """Monitor ``pv``; re-established after every reconnect. ``data_type`` is a DBR
        id, a family ("native", "status", "time", "graphic", "control") applied to the
        native type on each connect, or None (native)."""
        return self.subscribe_many([pv], callback, data_type, count, mask)[0]

    def subscribe_many(self, pvs: Iterable[PV], callback: Callable[..., None],
                       data_type: int | str | None = "time", count: int | None = None,
                       mask: int = 5, *, batch: Callable[[list[Subscription], Any], None]
                       | None = None) -> list[Subscription]:
        """Monitor each PV as :meth:`subscribe` does, sharing one SubscriptionSpec
        (``batch``: see :class:`Subscription`)."""
        return monitor_all(pvs, SubscriptionSpec(callback, data_type, count, mask, batch))

    def on_beacon(self, callback: Callable[[Address, int, Any], None]
                  ) -> Callable[[Address, int, Any], None]:
        """Call ``callback(server_address, beacon_id, anomaly)`` for each beacon heard
        (needs ``listen_beacons`` and a caRepeater); ``anomaly``, a ``BeaconAnomaly``
        or None, also makes the Context search at once. Returns ``callback``."""
        self.finder.beacon_callbacks.append(callback)
        return callback

    def close(self, clear_channels: bool = True) -> None:
        """Clear channels (unless ``clear_channels`` is False: the server frees them with
        the circuit, as after libca's ``ca_context_destroy``); close every socket."""
        if self._closed:
            return
        self._closed = True
        self.pool.close(clear_channels)
        for pv in self.pvs.values():
            pv.state = CLOSED
        self.callbacks.clear()
        self.poller.unregister(self.udp)
        self._udp.close()
        self.poller.close()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def host_label(self, address: str) -> str:
        """The name cainfo shows for a server address (reverse lookup, cached)."""
        return self._labels(address)

    # -- the loop --------------------------------------------------------------

    def process(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` for I/O or a timer, handle what happened, then (at
        the outermost level) deliver the callbacks it brought, in order."""
        callbacks = self.callbacks
        callbacks.depth += 1
        try:
            self._process(timeout)
        finally:
            callbacks.depth -= 1
        if callbacks.items and not callbacks.depth:
            callbacks.drain()

    def _process(self, timeout: float | None) -> None:
        now = time.monotonic()
        due = self.prepare(now)
        wait = due - now if due is not None else None
        if timeout is not None:
            wait = timeout if wait is None else min(wait, timeout)
        if wait is not None and wait < 0:
            wait = 0
        for circuit, events in self.poller.wait(wait):
            if circuit is None:
                self.finder.read()
                continue
            if circuit.closed:
                continue
            if events & WRITE:
                circuit.stream.on_writable()
                if circuit.closed:
                    continue
            if events & READ:
                data = circuit.stream.recv()
                if data is not None:
                    circuit.receive(data, time.monotonic())

    def prepare(self, now: float) -> float | None:
        """Run the searches and checks due, send queued output; the next due time."""
        nxt = self.finder.timers(now)
        t = self.pool.check(now)
        if t is not None:
            nxt = t if nxt is None else min(nxt, t)
        t = self.search.next_due    # (PVs of circuits lost just now search again)
        if t is not None and (nxt is None or t < nxt):
            nxt = t
        if self.pool.dirty:
            self.pool.flush()
        return nxt

    # -- reports -------------------------------------------------------------------

    def _warn(self, message: str, context: str) -> None:
        self.on_warning(message, context)       # (on_warning may be set later)

    def _callback_failed(self, exc: BaseException, callback: Any) -> None:
        callback_failed(self, exc, callback)


def _find_or_make(ctx: Context, known: dict[Any, PV], names: list[str], priority: int,
                  new: list[PV]) -> list[PV]:
    """The PV of each name (``known`` by name alone at priority 0, else by ``(name,
    priority)``), made if new (and appended to ``new``); ValueError for an invalid
    name."""
    out: list[PV] = []
    for name in names:
        pv = known.get(key := (name, priority) if priority else name)
        if pv is None:
            if not name or "\0" in name or (len(name) > NAME_CHARS_SAFE
                                              and name_too_long(name)):
                raise ValueError(f"invalid PV name {name[:60]!r}: empty, over "
                                 f"{MAX_NAME_LENGTH} bytes or holding a NUL")
            pv = known[key] = PV(ctx, name, priority)
            new.append(pv)
        out.append(pv)
    return out


def _new_and_valid(known: dict[Any, PV], names: list[str]) -> bool:
    """More than one name, every one new to ``known``, given once, and a valid PV name
    (not empty, short enough, no NUL): checked in C loops."""
    return len(names) > 1 and known.keys().isdisjoint(names) \
        and len(set(names)) == len(names) and all(names) \
        and max(map(len, names)) <= NAME_CHARS_SAFE and "\0" not in "".join(names)


def observe(ctx: Context, *,
            on_search_reply: Callable[[str, Address, float], None] | None = None,
            on_circuit: Callable[[Address, str, str], None] | None = None) -> None:
    """Diagnostic hooks on ``ctx`` (``catools doctor``), called as callbacks are:
    ``on_search_reply(name, server_address, when)`` for every search reply that names a
    server (a second server's too; ``when`` is ``time.monotonic()`` at arrival), and
    ``on_circuit(server_address, event, detail)`` when a circuit is "connected" (the
    server's first bytes) or "failed" (``detail`` says why)."""
    call = ctx.callbacks.call
    if on_search_reply is not None:
        ctx.search.on_reply = lambda pv, address: call(
            on_search_reply, pv.name, address, time.monotonic())
    if on_circuit is not None:
        ctx.pool.on_circuit = lambda address, event, detail: call(
            on_circuit, address, event, detail)


def callback_failed(ctx: Context, exc: BaseException, callback: Any) -> None:
    """A user callback raised: to ``ctx.on_callback_error``, else one ``on_warning``."""
    if ctx.on_callback_error is not None:
        ctx.on_callback_error(exc, callback)
    else:
        name = getattr(callback, "__qualname__", repr(callback))
        ctx.on_warning("Exception in a callback", f"{name}: {type(exc).__name__}: {exc}")


def log_warning(message: str, context: str) -> None:
    """The default ``on_warning``: the ``catools.client`` logger (loaded when used)."""
    from ._log import log_warning as log
    log(message, context)


def log_line(line: str) -> None:
    """The default ``on_log``: the ``catools.client`` logger (loaded when used)."""
    from ._log import log_line as log
    log(line)


def _deadline(timeout: float | None) -> float | None:
    """The monotonic deadline of a wait (None: none); NaN or < 0 is a ValueError."""
    if timeout is None or timeout == math.inf:
        return None
    if not timeout >= 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout!r}")
    return time.monotonic() + timeout


__all__ = ["Context", "observe", "PV", "Circuit", "Operation", "Subscription",
           "NEVER_CONNECTED", "PREVIOUSLY_CONNECTED", "CONNECTED", "CLOSED", "CaTimeoutError"]
