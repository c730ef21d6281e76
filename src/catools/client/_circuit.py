"""One circuit of the client: a TCP connection (``catools.stream``) to one server at one
priority, the VirtualCircuit that parses it, and the tables that route its commands
(cid -> PV, ioid -> Operation, subscription id -> Subscription).

The circuit reports to its Context only through a :class:`CircuitOwner`.
"""
from __future__ import annotations

from itertools import repeat

from ..hints import TYPE_CHECKING, Protocol, cast
from ..protocol import (CLIENT, DISCONNECTED, AccessRightsResponse, ClientNameRequest,
                        CreateChanResponse, CreateChFailResponse, CreateRun, EchoRequest,
                        EchoResponse, ErrorResponse, EventAddRequest, EventAddResponse, EventAddRun,
                        EventCancelResponse, HostNameRequest, LocalProtocolError,
                        ReadNotifyRequest, ReadNotifyResponse, ReadNotifyRun, ReadRequest,
                        RemoteProtocolError, SearchResponse, ServerDisconnResponse,
                        VersionRequest, VirtualCircuit, WriteNotifyRequest,
                        WriteNotifyResponse, WriteRequest)
from ..protocol import ChannelState, ClientChannel
from ._batch import CircuitReads, ReadBatch
from ._callbacks import CallbackQueue
from ._confirms import Confirms
from ._errors import CaStatusError, DisconnectedError
from ._poll import Poller
from ._pv import CONNECTED, NEVER_CONNECTED, PV, Operation, Subscription
from ..stream import Stream

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Sequence

_tnew = tuple.__new__
#: Requests whose IOID an ERROR quotes in p2 (their operation ends with it).
_IO_REQUESTS = frozenset({ReadRequest.ID, ReadNotifyRequest.ID, WriteNotifyRequest.ID})
#: Replies that name their request's IOID in p2 / carry our channel id in p1 (how a
#: bad reply is traced to its channel).
_IOID_REPLIES = frozenset({ReadNotifyResponse.ID, WriteNotifyResponse.ID})
_CID_REPLIES = frozenset({ErrorResponse.ID, CreateChanResponse.ID, AccessRightsResponse.ID,
                          CreateChFailResponse.ID, ServerDisconnResponse.ID})
#: The protocol state of an open channel.
_CHANNEL_UP = ChannelState.CONNECTED
#: A channel dropped after a bad reply is searched again after this long (libca's
#: disconnect-governor period), so a server that keeps sending it is not hammered.
DROP_RETRY = 10.0


class CircuitOwner(Protocol):
    """What a circuit needs from its Context."""

    poller: Poller
    callbacks: CallbackQueue
    max_payload_size: int
    user_name: str
    host_name: str

    def flush_later(self, circuit: "Circuit") -> None: ...
    def lost(self, circuit: "Circuit", reason: str) -> None: ...
    def established(self, circuit: "Circuit") -> None: ...
    def channel_lost(self, pv: PV, retry_after: float) -> None: ...
    def search_reply(self, circuit: "Circuit", cid: int, address: tuple[str, int]) -> None: ...
    def warn(self, message: str, context: str) -> None: ...
    def host_label(self, address: str) -> str: ...


class Circuit:
    """A circuit to ``address`` at ``priority``: requests out, commands routed in."""

    def __init__(self, address: tuple[str, int], priority: int, owner: CircuitOwner,
                 now: float) -> None:
        self.owner = owner
        self.address = address
        self.priority = priority
        self.core = VirtualCircuit(CLIENT, address, priority, ignore_unknown_ids=True,
                                   max_payload_size=owner.max_payload_size)
        self.core.runs = True   # (replies of one shape come as runs: EventAddRun, ...)
        self.callbacks = owner.callbacks
        self.stream = Stream.connect(address, owner.poller, self,
                                     lambda: owner.flush_later(self),
                                     lambda: owner.lost(self, "Virtual circuit disconnect"))
        self.pvs: dict[int, PV] = {}                 # cid -> PV
        #: ioid -> pending get / put-notify (an Operation, or a ReadBatch's reads here)
        self.ops: dict[int, Operation | CircuitReads] = {}
        self.subs: dict[int, Subscription] = {}      # subscription id -> Subscription
        self.confirms = Confirms()                   # plain WRITEs with confirm=True
        self.last_recv = self.created_at = now
        #: when the server first sent something (None: not yet; the handshake is due)
        self.established_at: float | None = None
        #: when channels were last requested, and when a CREATE_CHAN (or _FAIL) reply
        #: last came: a server silent while it owes replies fails like a silent one
        self.creates_sent_at: float | None = None
        self.creates_answered_at = 0.0
        self.echo_sent: float | None = None
        self.echoes = self.echoes_sent = 0
        self.name_server = self.warned_unknown = False
        self.send(VersionRequest(priority=priority, version=13),
                  ClientNameRequest(owner.user_name), HostNameRequest(owner.host_name))

    closed = property(lambda self: self.stream.closed)

    # -- output -------------------------------------------------------------

    def send(self, *commands: Any) -> None:
        """Encode through the core and queue."""
        self.stream.write(self.core.send(*commands))

    def create_channels(self, pvs: list[PV], now: float) -> None:
        """Open channels for PVs found on this circuit (one CREATE_CHAN each)."""
        channels, data = self.core.create_channels([pv.name for pv in pvs])
        by_cid = self.pvs
        for pv, channel in zip(pvs, channels):
            pv.circuit = self
            pv.channel = channel
            by_cid[channel.cid] = pv
        self.stream.write(data)
        self.creates_sent_at = now

    def read_many(self, ops: list[Operation], reads: list[Any]) -> None:
        """READ_NOTIFYs for ``(channel, data_type, count)``, ending ``ops``."""
        ioids, data = self.core.read_notify_many(reads)
        self.ops.update(zip(ioids, ops))
        self.stream.write(data)

    def read_batch(self, batch: ReadBatch, positions: Sequence[int], reads: list[Any]
                   ) -> None:
        """READ_NOTIFYs for ``(channel, data_type, count)``: ``batch``'s reads at
        ``positions``."""
        ioids, data = self.core.read_notify_many(reads)
        self.ops.update(zip(ioids, repeat(CircuitReads(batch, ioids, positions))))
        self.stream.write(data)

    def write_value(self, op: Operation, request: Any, confirm: bool) -> None:
        """Send a WRITE or WRITE_NOTIFY. A WRITE_NOTIFY ends ``op`` at its reply; a
        WRITE with ``confirm`` at the ECHO sent after it (with the ERROR that quoted
        it, if one came first); a plain WRITE at once."""
        if request.__class__ is WriteNotifyRequest:
            self.ops[request.ioid] = op
            self.send(request)
            return
        self.send(request)
        if confirm:
            self.confirms.add(request.ioid, op, self.echo())
        else:
            op._finish(result=None)

    def echo(self) -> int:
        """Send an ECHO; ``self.echoes`` reaches the number returned when its reply
        (and so every reply to what was sent before it) has arrived."""
        self.send(EchoRequest())
        self.echoes_sent += 1
        return self.echoes_sent

    _due: list[Subscription] | None = None      # (EVENT_ADDs sent after this receive)

    def subscribe(self, sub: Subscription) -> None:
        """EVENT_ADD for ``sub`` on its (connected) PV's channel."""
        channel: Any = sub.pv.channel       # (connected: set)
        request = channel.subscribe(*sub.request(), mask=sub.mask)
        sub.subscriptionid = request.subscriptionid
        self.subs[request.subscriptionid] = sub
        self.send(request)

    def unsubscribe(self, sub: Subscription) -> None:
        """EVENT_CANCEL; later updates for it are dropped quietly."""
        subscriptionid, sub.subscriptionid = sub.subscriptionid, None
        if subscriptionid is None or self.subs.pop(subscriptionid, None) is None:
            return
        channel = sub.pv.channel
        if channel is not None and not self.closed:
            try:
                self.send(channel.unsubscribe(subscriptionid))
            except LocalProtocolError:
                pass

    def forget(self, pv: PV, reason: str, clear: bool = True) -> None:
        """Take ``pv`` off this circuit: its subscriptions and pending operations
        (which fail with ``reason``) and, with ``clear``, its channel (CLEAR_CHANNEL)."""
        channel = pv.channel
        if channel is not None and self.pvs.get(channel.cid) is pv:
            del self.pvs[channel.cid]
            if clear and channel.sid is not None and not self.closed:
                try:
                    self.send(channel.clear())
                except LocalProtocolError:
                    pass
        for sub in pv._subscriptions or ():
            if sub.subscriptionid is not None:    # (the channel's end ends them)
                self.subs.pop(sub.subscriptionid, None)
                sub.subscriptionid = None
        for table in (self.ops, self.confirms.ops):
            for ioid in [i for i, op in table.items() if _pv_of(op, i) is pv]:
                _end(table.pop(ioid), ioid, error=DisconnectedError(pv.name, reason))

    def close(self, reason: str) -> list[PV]:
        """Close the socket; fail every pending operation; the PVs it had."""
        self.stream.close()
        for table in (self.ops, self.confirms.ops):
            for ioid, op in list(table.items()):
                _end(op, ioid, error=DisconnectedError(_pv_of(op, ioid).name,
                                                       reason or "not connected"))
            table.clear()
        pvs = list(self.pvs.values())
        self.pvs.clear()
        self.subs.clear()
        self.confirms.queue.clear()
        return pvs

    # -- input --------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> None:
        """Parse what arrived and route each command (user callbacks are queued)."""
        self.last_recv = now
        self.echo_sent = None
        if data and self.established_at is None:
            self.established_at = now
            self.owner.established(self)
        core = self.core
        core.recv(data)
        subs = self.subs
        pop_op = self.ops.pop
        queue = self.callbacks.items.append
        dispatch = _DISPATCH
        stream = self.stream            # (stream.closed: self.closed without a call)
        while True:
            try:
                commands = core.next_commands()
            except RemoteProtocolError as exc:
                if getattr(exc, "recoverable", False):
                    self._bad_reply(exc)        # the circuit stays; next message
                    if self.closed:
                        return
                    continue
                self.owner.lost(self, f"protocol error: {exc}")
                return
            if not commands:
                return
            for command in commands:
                cls = command.__class__
                if cls is EventAddResponse:       # (the hot paths: updates and gets)
                    sub = subs.get(command.subscriptionid)
                    if sub is not None:
                        queue((_update, (sub, command)))
                    continue
                if cls is ReadNotifyResponse and command.status & 1:
                    op = pop_op(command.ioid, None)     # (_on_io_reply, inline)
                    if op is not None:
                        _end(op, command.ioid, command)
                        if stream.closed:
                            return
                    continue
                handler = dispatch.get(cls)
                if handler is not None:
                    handler(self, command)
                    if stream.closed:
                        return
                elif command is DISCONNECTED:
                    self.owner.lost(self, "Virtual circuit disconnect")
                    return

    def _bad_reply(self, exc: RemoteProtocolError) -> None:
        """A recoverable protocol error: an unknown id is dropped (one warning per
        circuit); otherwise drop the channel it concerns, found from the message's
        header, and keep the circuit and the other channels."""
        host = f"{self.owner.host_label(self.address[0])}:{self.address[1]}"
        if getattr(exc, "ignorable", False):
            if not self.warned_unknown:
                self.warned_unknown = True
                self.owner.warn("Reply for an unknown request dropped", f"{host} {exc}")
            return
        header = getattr(exc, "header", None)
        pv = None
        if header is not None:
            command, p1, p2 = header.command, header.parameter1, header.parameter2
            if command == EventAddResponse.ID:
                sub = self.subs.get(p2)
                pv = sub.pv if sub is not None else None
            elif command in _IOID_REPLIES:
                op = self.ops.get(p2)
                pv = _pv_of(op, p2) if op is not None else None
            elif command in _CID_REPLIES:
                pv = self.pvs.get(p1)
        if pv is None or pv.circuit is not self:
            self.owner.warn("Bad message from server (ignored)", f"{host} {exc}")
            return
        self.owner.warn("Channel dropped after a bad reply", f"{pv.name} {exc}")
        self.forget(pv, str(exc))
        self.owner.channel_lost(pv, DROP_RETRY)

    def _on_io_reply(self, command: Any) -> None:
        """A READ_NOTIFY or WRITE_NOTIFY reply ends its operation (status in p1)."""
        ioid = command.ioid
        op = self.ops.get(ioid)
        if op is None:
            return
        pv = _pv_of(op, ioid)
        del self.ops[ioid]
        if command.status & 1:
            _end(op, ioid, command)
        else:
            _end(op, ioid, error=CaStatusError(pv.name, command.status))

    def _on_created(self, command: Any) -> None:
        self.creates_answered_at = self.last_recv
        pv = self.pvs.get(command.cid)
        if pv is None:      # released while its create was in flight: close it again
            channel = self.core.channels.get(command.cid)
            if channel is not None:
                self.send(channel.clear())
            return
        data_type = command.data_type
        type_changed = pv.native_type != data_type and pv.native_type != -1
        pv.native_type = data_type
        pv.native_count = command.data_count
        channel = pv.channel
        pv.access_rights = 0 if channel is None else int(channel.access_rights)
        pv.state = CONNECTED
        pv.disconnected_at = None
        if pv._subscriptions or pv._connection_callbacks:
            _connected(self, pv, type_changed)

    def _on_access(self, command: Any) -> None:
        pv = self.pvs.get(command.cid)
        if pv is None:
            return
        rights = command.access_rights & 3
        changed = pv.access_rights != rights
        pv.access_rights = rights
        if changed and pv.state == CONNECTED:
            for callback in pv._access_callbacks or ():
                self.callbacks.call(callback, pv)

    def _on_gone(self, command: Any) -> None:
        """CREATE_CH_FAIL or SERVER_DISCONN: the channel is over, the PV searched again."""
        if command.__class__ is CreateChFailResponse:
            self.creates_answered_at = self.last_recv
        pv = self.pvs.pop(command.cid, None)
        if pv is not None:
            self.forget(pv, "channel disconnected by the server", clear=False)
            self.owner.channel_lost(pv, 1.0 if command.__class__ is CreateChFailResponse
                                    else 0.0)

    def _on_echo(self, command: Any) -> None:
        self.echoes += 1
        if self.confirms.queue:
            self.confirms.echoed(self.echoes)

    def _on_search(self, command: Any) -> None:
        address = command.address if command.ip != "255.255.255.255" \
            else (self.address[0], command.port)
        self.owner.search_reply(self, command.cid, address)

    def __repr__(self) -> str:
        return f"<Circuit {self.address[0]}:{self.address[1]} priority {self.priority}>"


def _connected(circuit: Circuit, pv: PV, type_changed: bool) -> None:
    """``pv``'s channel is open on ``circuit``: its monitors subscribe again (asking for
    the new native type if it changed) and its callbacks are told."""
    call = circuit.callbacks.call
    # (while the outermost loop handles I/O, the callbacks are delivered right after
    # it: the EVENT_ADDs of every channel opened meanwhile go first, in one piece)
    later = circuit.callbacks.depth == 1
    for sub in pv._subscriptions or ():
        if type_changed:
            sub.data_type = None
        if not sub.cancelled:
            if later:
                _subscribe_later(circuit, sub)
            else:
                circuit.subscribe(sub)
            call(sub.callback, sub, "connected", None)
    for callback in pv._connection_callbacks or ():
        call(callback, pv, True)


def _subscribe_later(circuit: Circuit, sub: Subscription) -> None:
    """Subscribe ``sub`` with the others due on ``circuit`` (first in the callbacks)."""
    due = circuit._due
    if due is None:
        due = circuit._due = []
        circuit.callbacks.items.append((_subscribe_due, (circuit,)))
    due.append(sub)


def _subscribe_due(circuit: Circuit) -> None:
    """The EVENT_ADDs of the subscriptions due on ``circuit``, encoded in one go (those
    cancelled, or whose channel went, meanwhile are left out)."""
    due, circuit._due = circuit._due, None
    if not due or circuit.closed:
        return
    pvs = circuit.pvs
    subs = [sub for sub in due if not sub.cancelled and sub.subscriptionid is None
            and (pv := sub.pv).circuit is circuit and pv.state == CONNECTED
            and (channel := pv.channel) is not None and pvs.get(channel.cid) is pv
            and channel.state is _CHANNEL_UP]
    if not subs:
        return
    ids, data = circuit.core.subscribe_many(cast(   # (each channel: not None, as above)
        "list[tuple[ClientChannel, int, int | None, int]]",
        [(sub.pv.channel, *sub.request(), int(sub.mask)) for sub in subs]))
    by_id = circuit.subs
    for sub, subscriptionid in zip(subs, ids):
        sub.subscriptionid = subscriptionid
        by_id[subscriptionid] = sub
    circuit.stream.write(data)


def _update(sub: Subscription, command: Any) -> None:
    if not sub.cancelled:
        sub.callback(sub, "update", command)


def _on_run(circuit: Circuit, run: Any) -> None:
    """A run of updates (an EventAddRun): queued as one callback, with the Subscription
    of each update (None if unknown) found now, as for a single update."""
    circuit.callbacks.items.append(
        (_updates, (circuit, list(map(circuit.subs.get, run.subscription_ids())), run)))


def _updates(circuit: Circuit, subs: list[Subscription | None], run: Any) -> None:
    """A run's delivery (``subs[i]``: the Subscription of update i): in one call to
    their ``batch`` when they all have the same one and none is cancelled, else to each
    callback in turn as :func:`_update` does."""
    first = subs[0]
    batch = None if first is None else first.batch
    if batch is not None:
        for sub in set(subs):
            if sub is None or sub.cancelled or sub.batch is not batch:
                break
        else:
            batch(cast("list[Subscription]", subs), run)    # (none is None, as above)
            return
    on_error = circuit.callbacks.on_error
    for i, sub in enumerate(subs):
        if sub is not None and not sub.cancelled:
            try:
                sub.callback(sub, "update", run.reply(i))
            except Exception as exc:
                on_error(exc, sub.callback)


def _on_error(circuit: Circuit, command: Any) -> None:
    """An ERROR: what it quotes (a get or put-notify, a plain WRITE, a subscription)
    fails; anything else is a warning."""
    header = command.original_header
    request, p2 = header.command, header.parameter2
    pv = circuit.pvs.get(command.cid)
    error = CaStatusError(pv.name if pv is not None else None, command.status,
                          command.error_message)
    if request in _IO_REQUESTS:
        op = circuit.ops.get(p2)
        if op is not None:
            error = CaStatusError(_pv_of(op, p2).name, command.status,
                                  command.error_message)
            del circuit.ops[p2]
            _end(op, p2, error=error)
            return
    elif request == WriteRequest.ID:
        if circuit.confirms.refused(p2, error):
            return          # (an unconfirmed WRITE's ERROR: a warning, as libca)
    elif request == EventAddRequest.ID:
        sub = circuit.subs.pop(p2, None)
        if sub is not None:
            sub.subscriptionid = None
            circuit.callbacks.call(sub.callback, sub, "error", command)
            return
    name = pv.name if pv is not None else ""
    from ..protocol import ca_message   # (the ECA table: loaded when first needed)
    circuit.owner.warn(ca_message(command.status), f"{name} {command.error_message}".strip())


def _on_opened(circuit: Circuit, run: Any) -> None:
    """A run of channel openings (a CreateRun): each handled as its ACCESS_RIGHTS and
    then its CREATE_CHAN reply are (:meth:`Circuit._on_access`, then
    :meth:`Circuit._on_created`), in one loop."""
    circuit.creates_answered_at = circuit.last_recv
    pvs = circuit.pvs
    rows = run.rows
    stream = circuit.stream
    for cid, rights, data_type, count, _, sid in rows:
        pv = pvs.get(cid)
        if pv is None or pv.state == CONNECTED:     # (rare: one by one)
            circuit._on_access(_tnew(AccessRightsResponse, (cid, rights, b"")))
            circuit._on_created(_tnew(CreateChanResponse, (data_type, count, cid, sid, b"")))
            if stream.closed:
                return
            continue
        was = pv.native_type
        pv.native_type = data_type
        pv.native_count = count
        pv.access_rights = 0 if pv.channel is None else rights & 3
        if pv.state != NEVER_CONNECTED:     # (a first connect has no time to clear)
            pv.disconnected_at = None
        pv.state = CONNECTED
        callbacks = pv._callbacks           # (the slots behind _subscriptions and
        if pv._subs or callbacks is not None and callbacks[0]:  # _connection_callbacks)
            _connected(circuit, pv, was != data_type and was != -1)
            if stream.closed:               # (a callback may close the circuit)
                return


def _on_read_run(circuit: Circuit, run: Any) -> None:
    """A run of READ_NOTIFY replies (a ReadNotifyRun): each ends its operation as
    :meth:`Circuit._on_io_reply` does."""
    pop_op = circuit.ops.pop
    stream = circuit.stream
    if not run.status & 1:
        for reply in run.replies():
            circuit._on_io_reply(reply)
            if stream.closed:
                return
        return
    ids = run.ids()
    ops = list(map(pop_op, ids, repeat(None)))
    first = ops[0]
    if first.__class__ is CircuitReads and ops.count(first) == len(ops):
        first.end_run(ids, run)         # (a get of many PVs: every reply its)
        return
    for ioid, op, reply in zip(ids, ops, run.replies()):
        if op is not None:
            _end(op, ioid, reply)
            if stream.closed:
                return


def _end(op: Operation | CircuitReads, ioid: int, result: Any = None,
         error: Exception | None = None) -> None:
    """End what waited for the reply to ``ioid``: an Operation, or one read of a
    ReadBatch."""
    if op.__class__ is CircuitReads:
        cast(CircuitReads, op).end(ioid, result, error)
    else:
        cast(Operation, op)._finish(result, error)


def _pv_of(op: Operation | CircuitReads, ioid: int) -> PV:
    """The PV of what waits for the reply to ``ioid``."""
    return cast(CircuitReads, op).pv_for(ioid) if op.__class__ is CircuitReads \
        else cast(Operation, op).pv


_DISPATCH: dict[type, Callable[[Circuit, Any], None]] = {
    ReadNotifyResponse: Circuit._on_io_reply,
    WriteNotifyResponse: Circuit._on_io_reply,
    CreateChanResponse: Circuit._on_created,
    AccessRightsResponse: Circuit._on_access,
    CreateChFailResponse: Circuit._on_gone,
    ServerDisconnResponse: Circuit._on_gone,
    ErrorResponse: _on_error,
    EchoResponse: Circuit._on_echo,
    SearchResponse: Circuit._on_search,
    EventCancelResponse: lambda circuit, command: None,    # (forgotten at the cancel)
    EventAddRun: _on_run,
    CreateRun: _on_opened,
    ReadNotifyRun: _on_read_run,
}

__all__ = ["Circuit", "CircuitOwner"]
