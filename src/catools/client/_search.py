"""Search bookkeeping, sans-I/O: which PVs are searched, when, in which datagrams, and
what a reply or a beacon changes (libca's bursts and back-off per PV).

:class:`SearchScheduler` owns no socket and reads no clock: every call takes ``now``;
:meth:`SearchScheduler.poll` returns the datagrams due (each for every destination)
and the time of its next call. The PVs it searches are any objects with the
:class:`Searchable` attributes (the client's ``PV``; a stub in tests).
"""
from __future__ import annotations

from operator import attrgetter

from ..hints import TYPE_CHECKING, Protocol
from ..protocol import MAX_UDP_SEND, int_to_ip, pack_searches

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Iterable

#: libca's minimum round-trip estimate; the first re-search comes after it.
MIN_PERIOD = 0.032
#: Re-search period ceiling for a channel whose server went away (beats libca's
#: beacon anomaly: a restarted server is found within this time).
RECONNECT_PERIOD = 0.5
#: How long after a disconnect the reconnect ceiling applies.
RECONNECT_WINDOW = 600.0
#: Datagrams sent per burst (to each destination) before yielding to replies.
BURST = 64
#: Seconds between bursts of a long search.
BURST_GAP = 0.002
#: Re-search period of unresolved channels right after a beacon anomaly.
ANOMALY_PERIOD = 1.0
#: Anomalies closer together than this boost the searches once.
ANOMALY_HOLDOFF = 0.2
#: next_search of a PV whose search datagram waits in the backlog (set when it is sent).
PARKED = 3600.0
#: The most names a search datagram holds (the shortest: 16-byte header + 8 bytes).
_NAMES_PER_DATAGRAM = (MAX_UDP_SEND - 16) // 24

Address = tuple[str, int]
_next_search_key = attrgetter("next_search")
_search_id_of = attrgetter("search_id")
_name_of = attrgetter("name")


def next_period(period: float, ceiling: float) -> float:
    """The back-off step: double, up to ``ceiling``."""
    return min(period * 2.0, ceiling)


class Searchable(Protocol):
    """What the scheduler reads and writes on a searched PV."""

    name: str
    priority: int
    search_id: int | None
    next_search: float
    period: float
    search_ceiling: float
    disconnected_at: float | None
    server: Address | None


def _back_off(datagrams: list[tuple[bytes, list[int]]], get: Callable[[int], Any],
              now: float, earliest: float) -> float:
    """The searched PVs of the ids sent in ``datagrams`` (``get(id)``: the PV or None)
    search next one period from ``now``, their period doubled up to their ceiling (the
    back-off counts from the sending); the earliest next time of those and
    ``earliest``."""
    # (PVs of one burst mostly share period and ceiling: they share the float objects
    # of their next time and period too, not one pair each)
    last_period = last_ceiling = -1.0
    t = period_next = 0.0
    for _, ids in datagrams:
        for search_id in ids:
            pv = get(search_id)
            if pv is not None:
                period, ceiling = pv.period, pv.search_ceiling
                if period != last_period or ceiling != last_ceiling:
                    last_period, last_ceiling = period, ceiling
                    t = now + period
                    doubled = period * 2.0      # (next_period, inline)
                    period_next = doubled if doubled < ceiling else ceiling
                    if t < earliest:
                        earliest = t
                pv.next_search = t
                pv.period = period_next
    return earliest


class SearchIds:
    """``{search id: PV}`` for ids handed out in counting order, as a list (8 bytes an
    entry, where a dict of 100,000 takes 52): ids from ``base`` on are list indices, a
    released id leaves a hole; once holes are half the list, or an id does not follow
    on, the live entries move to a dict (``more``) and a new list starts."""

    __slots__ = ("base", "list", "more", "holes")

    def __init__(self) -> None:
        self.base = 0
        self.list: list[Any] = []
        self.more: dict[int, Any] = {}
        self.holes = 0

    def extend(self, first: int, pvs: list[Any]) -> None:
        """``pvs`` under the ids ``first``, ``first + 1``, ... (no wrap inside)."""
        if first != self.base + len(self.list):
            self._spill(first)
        self.list += pvs

    def get(self, search_id: int, default: Any = None) -> Any:
        i = search_id - self.base
        if 0 <= i < len(self.list):
            pv = self.list[i]
            return default if pv is None else pv
        return self.more.get(search_id, default)

    def __contains__(self, search_id: object) -> bool:
        return self.get(search_id) is not None    # type: ignore[arg-type]

    def __getitem__(self, search_id: int) -> Any:
        pv = self.get(search_id)
        if pv is None:
            raise KeyError(search_id)
        return pv

    def __delitem__(self, search_id: int) -> None:
        items = self.list
        i = search_id - self.base
        if 0 <= i < len(items) and items[i] is not None:
            items[i] = None
            self.holes += 1
            if self.holes * 2 > len(items) and len(items) > 64:
                self._spill(self.base + len(items))
        else:
            del self.more[search_id]

    def __len__(self) -> int:
        return len(self.list) - self.holes + len(self.more)

    def keys(self) -> set[int]:
        base = self.base
        return {base + i for i, pv in enumerate(self.list) if pv is not None} | \
            self.more.keys()

    def _spill(self, base: int) -> None:
        """The list's live entries to ``more``; a new, empty list from ``base``."""
        first = self.base
        self.more.update((first + i, pv) for i, pv in enumerate(self.list)
                         if pv is not None)
        self.base, self.list, self.holes = base, [], 0


class SearchScheduler:
    """The PVs being searched for and their search times (sans-I/O).

    ``destinations`` are where each datagram goes (UDP targets and name servers: the
    caller sends it to each); with none, nothing is ever sent. ``max_period`` is the
    back-off ceiling (EPICS_CA_MAX_SEARCH_PERIOD). ``on_duplicate(pv, address)`` hears
    of a second server answering for a PV already found; ``on_reply(pv, address)``, if
    set, of every reply that names a server (first and duplicate; for diagnostics).
    """

    def __init__(self, max_period: float, destinations: Iterable[Address] = (), *,
                 on_duplicate: Callable[[Any, Address], None] | None = None,
                 listening_since: float | None = None) -> None:
        self.max_period = max_period
        #: when beacons began to be listened for (None: at the first beacon)
        self.listening_since = listening_since
        self.destinations = list(destinations)
        self.on_duplicate = on_duplicate
        self.on_reply: Callable[[Any, Address], None] | None = None
        #: search id -> PV still searched for (not found, not released)
        self.searching: dict[int, Any] = {}
        #: search id -> every PV added and not released (duplicate replies name these)
        self.known = SearchIds()
        self._high = 0          # the most PVs searched at once since searching shrank
        #: PV -> when it lost its channel (the client's PV keeps its disconnected_at here)
        self.disconnected: dict[Any, float] = {}
        #: no PV in ``searching`` needs a datagram before this
        self.due_at = 0.0
        self.sequence = 0
        self._next_id = 0
        self._backlog: list[Any] = []               # PVs to send ...
        self._backlog_start = 0                     # ... from this index on
        self._backlog_due = 0.0
        self._servers: dict[Address, Address] = {}  # one tuple per server
        self._last: tuple[int, int, str, Address] | None = None  # (port, ip, host, ...)
        self._tracker: Any = None                   # a BeaconTracker, at the first beacon
        self._last_anomaly = float("-inf")

    @property
    def backlog(self) -> int:
        """Names queued for the next bursts."""
        return len(self._backlog) - self._backlog_start

    # -- which PVs ----------------------------------------------------------

    def add(self, pvs: Iterable[Any], now: float) -> None:
        """Start searching for new PVs (each gets its search id): the first search
        goes out at the next :meth:`poll`."""
        searching, known = self.searching, self.known
        search_id = self._next_id
        ceiling = self.max_period
        run: list[Any] = []         # (PVs of consecutive ids, for known)
        for pv in pvs:
            search_id = (search_id + 1) & 0xFFFFFFFF
            if not search_id and run:
                known.extend(search_id - len(run) + 0x100000000, run)
                run = []
            pv.search_id = search_id
            pv.next_search = now
            pv.period = MIN_PERIOD
            pv.search_ceiling = ceiling
            searching[search_id] = pv
            run.append(pv)
        if run:
            known.extend(search_id - len(run) + 1, run)
        if search_id != self._next_id:
            self._next_id = search_id
            if now < self.due_at:
                self.due_at = now
            if len(searching) > self._high:
                self._high = len(searching)

    def restart(self, pv: Any, now: float, retry_after: float = 0.0) -> None:
        """Search again for a PV that lost its channel, ``retry_after`` seconds from
        now; a PV disconnected lately backs off only to RECONNECT_PERIOD."""
        searching = self.searching
        searching[pv.search_id] = pv
        if len(searching) > self._high:
            self._high = len(searching)
        pv.next_search = at = now + retry_after
        if at < self.due_at:
            self.due_at = at
        pv.period = MIN_PERIOD
        if pv.disconnected_at is not None and now - pv.disconnected_at < RECONNECT_WINDOW:
            pv.search_ceiling = RECONNECT_PERIOD
        else:
            pv.search_ceiling = self.max_period

    def park(self, pv: Any, at: float) -> None:
        """Search for ``pv`` again at ``at`` (its server is backing off until then)."""
        pv.server = None
        searching = self.searching
        searching[pv.search_id] = pv
        if len(searching) > self._high:
            self._high = len(searching)
        pv.next_search = at
        pv.period = MIN_PERIOD
        if at < self.due_at:
            self.due_at = at

    def release(self, pv: Any) -> None:
        """Forget ``pv``: never searched again (a datagram waiting to go leaves it out)."""
        search_id = pv.search_id
        self.searching.pop(search_id, None)
        if self.known.get(search_id) is pv:
            del self.known[search_id]
        if self.disconnected:
            self.disconnected.pop(pv, None)
        self._shrink()

    def _shrink(self) -> None:
        """A dict keeps its size when emptied: once searching holds an eighth of what
        it held, it is copied into one of its present size."""
        searching = self.searching
        if self._high > 64 and len(searching) * 8 < self._high:
            self.searching = dict(searching)
            self._high = len(searching)

    def boost(self, now: float) -> None:
        """Search at once for every PV not found (a server appeared or came back)."""
        for pv in self.searching.values():
            if pv.next_search > now + MIN_PERIOD:
                pv.next_search = now
                pv.period = min(pv.period, ANOMALY_PERIOD)
        self.due_at = now

    # -- when ---------------------------------------------------------------

    def poll(self, now: float) -> tuple[list[bytes], float | None]:
        """The datagrams to send now (each to every destination) and when to call
        again (None: nothing is searched)."""
        searching = self.searching
        out: list[bytes] = []
        # (while a backlog goes out, PVs that come due would join its end: they are
        # looked for once it is gone, not by a pass over every PV searched each turn)
        if searching and now >= self.due_at and not self._backlog:
            due = [pv for pv in searching.values() if pv.next_search <= now]
            if due:
                out = self._queue(due, now)
            self.due_at = min(map(_next_search_key, searching.values()),
                              default=now + PARKED)
        if self._backlog and now >= self._backlog_due:
            out = out + self._burst(now)
        if self._backlog:
            return out, self._backlog_due
        return out, self.due_at if searching else None

    @property
    def next_due(self) -> float | None:
        """When :meth:`poll` has something to do (None: nothing is searched)."""
        if self._backlog:
            return self._backlog_due
        return self.due_at if self.searching else None

    def _queue(self, due: list[Any], now: float) -> list[bytes]:
        if not self.destinations:
            for pv in due:
                pv.next_search = now + pv.search_ceiling
            return []
        due.sort(key=_next_search_key)
        parked = now + PARKED
        for pv in due:
            pv.next_search = parked         # until its datagram is sent
        self._backlog += due        # (the PVs: their (id, name) pairs made per burst)
        return self._burst(now)

    def _burst(self, now: float) -> list[bytes]:
        """Encode the next BURST datagrams of the backlog (the rest follow BURST_GAP
        apart, so that the servers' receive buffers do not overflow and their replies
        are read in between; encoded as they go, the first leave at once)."""
        backlog = self._backlog
        start = self._backlog_start
        searching = self.searching
        get = searching.get
        pvs = backlog[start:start + BURST * _NAMES_PER_DATAGRAM]
        whole = len(pvs)
        ids = list(map(_search_id_of, pvs))
        kept: list[int] | None = None       # (positions in pvs of those still searched)
        if list(map(get, ids)) != pvs:      # (found or released meanwhile; C loops)
            kept = [k for k, pv in enumerate(pvs) if get(ids[k]) is pv]
            pvs = [pvs[k] for k in kept]
            ids = [ids[k] for k in kept]
        datagrams = pack_searches(ids, list(map(_name_of, pvs)), self.sequence + 1,
                                  max_datagrams=BURST)
        self.sequence += len(datagrams)
        sent = sum(len(ids) for _, ids in datagrams)
        if kept is None:
            start += sent
        elif sent < len(pvs):               # (the burst is full: the rest waits)
            start += kept[sent]
        else:
            start += whole
        self._backlog_start = start
        if start >= len(backlog):
            backlog.clear()
            self._backlog_start = 0
        self._backlog_due = now + BURST_GAP
        self.due_at = _back_off(datagrams, get, now, self.due_at)
        return [datagram for datagram, _ in datagrams]

    # -- replies ------------------------------------------------------------

    def found(self, search_id: int, address: Address | None) -> Any:
        """A reply for ``search_id`` from the server at ``address`` (None: the reply
        gave no usable address): the PV it finds (``pv.server`` set; no longer
        searched), or None (unknown, already found: a duplicate is reported)."""
        pv = self.searching.pop(search_id, None)
        if pv is None:
            self._duplicate(search_id, address)
            return None
        if address is None:
            self.searching[search_id] = pv
            return None
        pv.server = self._servers.setdefault(address, address)
        if self.on_reply is not None:
            self.on_reply(pv, pv.server)
        self._shrink()
        return pv

    def found_many(self, replies: list[tuple[int, int, int, int]], host: str
                   ) -> list[tuple[Address, int, list[Any]]]:
        """The ``(port, ip, search id, version)`` replies of one datagram from
        ``host``: the PVs they find, as ``(server, priority, [pv, ...])`` runs in
        reply order (a datagram's replies mostly name one server)."""
        pop = self.searching.pop
        runs: list[tuple[Address, int, list[Any]]] = []
        last_port = last_ip = last_priority = -1
        batch: list[Any] = []
        append = batch.append
        address: Address = ("", 0)
        for port, ip, search_id, _ in replies:
            pv = pop(search_id, None)
            if pv is None:
                self._duplicate(search_id, self._address(port, ip, host))
                continue
            priority = pv.priority
            if port != last_port or ip != last_ip or priority != last_priority:
                last_port, last_ip, last_priority = port, ip, priority
                address = self._address(port, ip, host)
                batch = []
                append = batch.append
                runs.append((address, priority, batch))
            pv.server = address
            append(pv)
        self._shrink()
        if self.on_reply is not None:
            for address, _, batch in runs:
                for pv in batch:
                    self.on_reply(pv, address)
        return runs

    def _address(self, port: int, ip: int, host: str) -> Address:
        last = self._last
        if last is not None and last[0] == port and last[1] == ip and last[2] == host:
            return last[3]
        address = (host if ip == 0xFFFFFFFF else int_to_ip(ip), port)
        address = self._servers.setdefault(address, address)
        self._last = (port, ip, host, address)
        return address

    def _duplicate(self, search_id: int, address: Address | None) -> None:
        if address is None or (self.on_duplicate is None and self.on_reply is None):
            return
        pv = self.known.get(search_id)
        if pv is not None and pv.server is not None and pv.server != address:
            if self.on_reply is not None:
                self.on_reply(pv, address)
            if self.on_duplicate is not None:
                self.on_duplicate(pv, address)

    # -- beacons ------------------------------------------------------------

    def beacon(self, command: Any, sender: Address, now: float, default_port: int
               ) -> tuple[Address, Any]:
        """A beacon heard at ``now``: the server it announces and the BeaconAnomaly it
        shows (or None). An anomaly boosts the searches (once per ANOMALY_HOLDOFF)."""
        from .beacons import BeaconTracker, beacon_address   # (at the first beacon)
        tracker = self._tracker
        if tracker is None:
            tracker = self._tracker = BeaconTracker(start=self.listening_since)
        key = beacon_address(command, sender, default_port)
        anomaly = tracker.observe_beacon(command, sender, now, default_port)
        if anomaly is not None and now - self._last_anomaly >= ANOMALY_HOLDOFF:
            self._last_anomaly = now
            self.boost(now)
        return key, anomaly


__all__ = ["SearchScheduler", "SearchIds", "Searchable", "next_period", "MIN_PERIOD", "RECONNECT_PERIOD",
           "RECONNECT_WINDOW", "BURST", "BURST_GAP", "ANOMALY_PERIOD", "PARKED"]
