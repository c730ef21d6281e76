"""What the client keeps per PV: its state, its pending operations, its monitors."""
from __future__ import annotations

from collections.abc import ItemsView, MutableMapping, ValuesView
from operator import attrgetter

from ..hints import TYPE_CHECKING
from ..protocol import ClientChannel, promote
from ._errors import DisconnectedError
from ._search import MIN_PERIOD

_new = object.__new__

if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Iterator
    from ._circuit import Circuit
    from ._context import Context

#: Channel states, as cainfo names them.
NEVER_CONNECTED = "never connected"
PREVIOUSLY_CONNECTED = "previously connected"
CONNECTED = "connected"
CLOSED = "closed"


class Operation:
    """A pending get or put-with-notify; ``done`` once answered or failed."""

    __slots__ = ("pv", "kind", "result", "error", "done", "callback")

    def __init__(self, pv: "PV", kind: str, callback: Callable[["Operation"], None] | None
                 = None) -> None:
        self.pv = pv
        self.kind = kind
        self.result: Any = None
        self.error: Exception | None = None
        self.done = False
        self.callback = callback

    def _finish(self, result: Any = None, error: Exception | None = None) -> None:
        if self.done:
            return
        self.result, self.error, self.done = result, error, True
        if self.callback is not None:       # (now, or queued while I/O is handled)
            self.pv.context.callbacks.call(self.callback, self)


class SubscriptionSpec:
    """What a subscription asks for and whom it tells: shared by the Subscriptions made
    together (``Context.subscribe_many``); a Subscription's own change copies it."""

    __slots__ = ("callback", "requested_type", "count", "mask", "batch")

    def __init__(self, callback: Callable[..., None], requested_type: int | str | None | Any,
                 count: int | None, mask: int,
                 batch: Callable[[list[Subscription], Any], None] | None = None) -> None:
        self.callback = callback
        self.requested_type = requested_type
        self.count = count
        self.mask = mask
        self.batch = batch


def _spec_field(name: str) -> Any:
    """A Subscription attribute kept in its (shared) spec; setting it copies the spec."""
    def set(sub: "Subscription", value: Any) -> None:
        old = sub.spec
        spec = sub.spec = SubscriptionSpec(old.callback, old.requested_type, old.count,
                                           old.mask, old.batch)
        setattr(spec, name, value)
    return property(attrgetter("spec." + name), set)


class Subscription:
    """A monitor on one PV; survives reconnects (re-subscribed on the new circuit).

    ``callback(sub, event, response)`` gets events ``"update"`` (response is the
    EventAddResponse), ``"connected"`` and ``"disconnected"`` (response None).
    ``requested_type`` is a DBR id, a family name ("time"), None (native) or f(native
    type) -> DBR id. ``batch(subs, run)``, if not None, takes a run of updates (an
    ``EventAddRun``, ``subs[i]`` the Subscription of its update i) when every one of
    them has this same ``batch``; None: each update goes to ``callback``. These, with
    ``count`` and ``mask``, live in a :class:`SubscriptionSpec` that many share.
    """

    __slots__ = ("pv", "spec", "subscriptionid", "cancelled")

    callback = _spec_field("callback")
    requested_type = _spec_field("requested_type")
    count = _spec_field("count")
    mask = _spec_field("mask")
    batch = _spec_field("batch")

    def __init__(self, pv: "PV", callback: Callable[..., None] | None = None,
                 data_type: int | str | None = None, count: int | None = None,
                 mask: int = 5, *, spec: SubscriptionSpec | None = None) -> None:
        self.pv = pv
        self.spec = spec if spec is not None else \
            SubscriptionSpec(callback, data_type, count, mask)  # type: ignore[arg-type]
        self.subscriptionid: int | None = None
        self.cancelled = False

    @property
    def data_type(self) -> int | None:
        """The DBR type asked for on the present channel (None: not subscribed): kept
        by the circuit's record of the EVENT_ADD, not here (a slot less: a 64-byte
        object, not 80). Setting it does nothing: each subscribe asks afresh."""
        circuit, subscriptionid = self.pv.circuit, self.subscriptionid
        if circuit is None or subscriptionid is None:
            return None
        record = circuit.core.event_add_commands.get(subscriptionid)
        return None if record is None else int(record.data_type)

    @data_type.setter
    def data_type(self, value: int | None) -> None:
        pass

    def cancel(self) -> None:
        """Stop the monitor (no callback after this; forgotten everywhere)."""
        if self.cancelled:
            return
        self.cancelled = True
        pv = self.pv
        if self in pv.subscriptions:
            pv.subscriptions.remove(self)
        if self.subscriptionid is not None and pv.circuit is not None:
            pv.circuit.unsubscribe(self)
        self.subscriptionid = None

    def request(self) -> tuple[int, int | None]:
        """The DBR type and count to ask for on the PV's present channel."""
        pv = self.pv
        spec = self.spec
        requested = spec.requested_type
        if callable(requested):
            data_type = requested(pv.native_type)
        elif isinstance(requested, str):
            data_type = promote(pv.native_type, requested)
        elif requested is None:
            data_type = pv.native_type
        else:
            data_type = requested
        count = spec.count
        if count and pv.native_count and count > pv.native_count:
            count = pv.native_count     # as libca/camonitor: never more than the channel has
        return data_type, count


def monitor_all(pvs: Iterable["PV"], spec: SubscriptionSpec) -> list[Subscription]:
    """A Subscription of ``spec`` on each PV (see ``Context.subscribe_many``)."""
    subs = []
    for pv in pvs:
        sub = Subscription(pv, spec=spec)
        if pv._subs is None:
            pv._subs = sub                      # (a list once a second one comes)
        else:
            pv.subscriptions.append(sub)
        if pv.state == CONNECTED:
            pv.circuit.subscribe(sub)  # type: ignore[union-attr]  # (connected: set)
        subs.append(sub)
    return subs


class _LazyList:
    """A list attribute made on first use (most of thousands of PVs never need theirs);
    kept in the slot of the same name with a leading underscore (None until then)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.private = "_" + name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = getattr(obj, self.private)
        if value.__class__ is not list:     # (None, or a PV's one monitor as a tuple)
            value = [] if value is None else list(value)
            setattr(obj, self.private, value)
        return value

    def __set__(self, obj: Any, value: list[Any]) -> None:
        setattr(obj, self.private, value)


class PV:
    """A named channel: searched, connected, reconnected by its Context."""

    __slots__ = ("context", "name", "priority", "state", "circuit", "channel", "server",
                 "access_rights", "native_type", "native_count", "_subs",
                 "_callbacks", "search_id", "next_search", "period", "search_ceiling")

    #: Monitors on this PV.
    subscriptions = _LazyList()
    #: ``callback(pv, connected)`` on each connect and disconnect.
    connection_callbacks = _LazyList()
    #: ``callback(pv)`` when the access rights change.
    access_callbacks = _LazyList()

    def __init__(self, context: "Context", name: str, priority: int) -> None:
        self.context = context
        self.name = name
        self.priority = priority
        self.state = NEVER_CONNECTED
        self.circuit: Circuit | None = None
        self.channel: ClientChannel | None = None
        self.server: tuple[str, int] | None = None
        self.access_rights = 0
        self.native_type: int = -1
        self.native_count = 0
        #: None, the PV's one monitor, or the list of them: see ``_subscriptions``
        self._subs: list[Subscription] | Subscription | None = None
        #: None, or [connection callbacks, access callbacks] (each a list or None)
        self._callbacks: list[Any] | None = None
        self.search_id: int | None = None
        self.next_search = 0.0
        self.period = MIN_PERIOD
        self.search_ceiling = 0.0

    @classmethod
    def many(cls, context: "Context", names: Iterable[str], priority: int) -> list["PV"]:
        """``[PV(context, name, priority) for name in names]``, without a constructor
        call each (a many-PV get makes thousands); the same fields, set the same."""
        out: list[PV] = []
        append = out.append
        new = _new
        for name in names:
            pv = new(cls)
            pv.context = context
            pv.name = name
            pv.priority = priority
            pv.state = NEVER_CONNECTED
            pv.circuit = pv.channel = pv.server = pv._subs = pv._callbacks = None
            pv.search_id = None
            pv.access_rights = 0
            pv.native_type = -1
            pv.native_count = 0
            pv.next_search = pv.search_ceiling = 0.0
            pv.period = MIN_PERIOD
            append(pv)
        return out

    @property
    def _subscriptions(self) -> list[Subscription] | tuple[Subscription] | None:
        """The monitors (None: none; a 1-tuple made now for a PV's one monitor, which
        is kept alone: 100,000 PVs need no container each); ``subscriptions`` is
        always the list."""
        subs = self._subs
        return (subs,) if subs.__class__ is Subscription else subs  # type: ignore[return-value]

    @_subscriptions.setter
    def _subscriptions(self, value: list[Subscription] | None) -> None:
        self._subs = value

    @property
    def _connection_callbacks(self) -> list[Callable[["PV", bool], None]] | None:
        callbacks = self._callbacks
        return None if callbacks is None else callbacks[0]

    @_connection_callbacks.setter
    def _connection_callbacks(self, value: list[Callable[["PV", bool], None]] | None) -> None:
        self._set_callbacks(0, value)

    @property
    def _access_callbacks(self) -> list[Callable[["PV"], None]] | None:
        callbacks = self._callbacks
        return None if callbacks is None else callbacks[1]

    @_access_callbacks.setter
    def _access_callbacks(self, value: list[Callable[["PV"], None]] | None) -> None:
        self._set_callbacks(1, value)

    def _set_callbacks(self, which: int, value: Any) -> None:
        """(both lists in one slot: few PVs have either)"""
        callbacks = self._callbacks
        if callbacks is None:
            if value is None:
                return
            callbacks = self._callbacks = [None, None]
        callbacks[which] = value

    @property
    def disconnected_at(self) -> float | None:
        """When the PV last lost its channel (None: connected since, or never was);
        kept by the search scheduler (``disconnected``) for the few PVs that have one."""
        return self.context.search.disconnected.get(self)

    @disconnected_at.setter
    def disconnected_at(self, value: float | None) -> None:
        disconnected = self.context.search.disconnected
        if value is not None:
            disconnected[self] = value
        elif disconnected:
            disconnected.pop(self, None)

    @property
    def connected(self) -> bool:
        return self.state == CONNECTED

    def link(self) -> tuple[Circuit, ClientChannel]:
        """The circuit and channel of a connected PV (DisconnectedError otherwise)."""
        circuit, channel = self.circuit, self.channel
        if circuit is None or channel is None or self.state != CONNECTED:
            raise DisconnectedError(self.name, "not connected")
        return circuit, channel

    def release(self) -> None:
        """Cancel the monitors, clear the channel and forget this PV (see
        ``Context.release``)."""
        self.context.release(self)

    @property
    def read_access(self) -> bool:
        return bool(self.access_rights & 1)

    @property
    def write_access(self) -> bool:
        return bool(self.access_rights & 2)

    @property
    def host(self) -> str:
        """``host:port`` of the server, as cainfo prints it."""
        if self.server is None:
            return "<disconnected>"
        return f"{self.context.host_label(self.server[0])}:{self.server[1]}"

    def __repr__(self) -> str:
        return f"<PV {self.name!r} {self.state}>"


class PVTable(MutableMapping[tuple[str, int], PV]):
    """A Context's PVs by ``(name, priority)``; those of priority 0 (nearly all) are
    kept by name alone (``names``), the others in ``others``: no key tuple per PV."""

    __slots__ = ("names", "others")

    def __init__(self) -> None:
        self.names: dict[str, PV] = {}
        self.others: dict[tuple[str, int], PV] = {}

    def __getitem__(self, key: tuple[str, int]) -> PV:
        name, priority = key
        return self.others[key] if priority else self.names[name]

    def get(self, key: tuple[str, int], default: Any = None) -> Any:  # type: ignore[override]
        name, priority = key
        return self.others.get(key, default) if priority else self.names.get(name, default)

    def __setitem__(self, key: tuple[str, int], pv: PV) -> None:
        name, priority = key
        if priority:
            self.others[key] = pv
        else:
            self.names[name] = pv

    def __delitem__(self, key: tuple[str, int]) -> None:
        name, priority = key
        if priority:
            del self.others[key]
        else:
            del self.names[name]

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for name in self.names:
            yield (name, 0)
        yield from self.others

    def __len__(self) -> int:
        return len(self.names) + len(self.others)

    def values(self) -> ValuesView[PV]:
        return _Values(self)

    def items(self) -> ItemsView[tuple[str, int], PV]:
        return _Items(self)

    def __repr__(self) -> str:
        return f"PVTable({dict(self.items())!r})"


class _Values(ValuesView[PV]):
    _mapping: PVTable

    def __iter__(self) -> Iterator[PV]:
        yield from self._mapping.names.values()
        yield from self._mapping.others.values()


class _Items(ItemsView[tuple[str, int], PV]):
    _mapping: PVTable

    def __iter__(self) -> Iterator[tuple[tuple[str, int], PV]]:
        for name, pv in self._mapping.names.items():
            yield (name, 0), pv
        yield from self._mapping.others.items()
