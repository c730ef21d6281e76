"""VirtualCircuit: one TCP connection, as bytes <-> commands, with its state.

The circuit is the public face of four parts, each with its own job: a ReceiveBuffer
(``_framing``) cuts what arrives into messages, a StateMachine (``_machine``) checks
and applies each command, IdTables (``_ids``) hold the ids in use, and ``_fastpath``
encodes and parses what a client handles by the thousand.
"""
from __future__ import annotations

from operator import attrgetter

from ..hints import TYPE_CHECKING
from ._channel import ClientChannel, ServerChannel
from ._commands import (REGISTRY, ClientNameRequest, Command, EventAddRequest,
                        EventAddResponse, EventCancelRequest, EventCancelResponse,
                        HostNameRequest, VersionRequest, check_dbr_size)
from ._constants import (DEFAULT_PROTOCOL_VERSION, LARGE_HEADER_VERSION, PRIORITY_MAX,
                         PRIORITY_MIN)
from ._errors import (LocalProtocolError, ProtocolError, RemoteProtocolError, as_remote,
                      eca_code)
from ._fastpath import (DBR_TYPE_COUNT, ELEMENT_SIZES, VALUE_OFFSETS, create_requests,
                        read_requests, subscribe_requests, take_batch)
from ._framing import DEFAULT_MAX_PAYLOAD, ReceiveBuffer, short_frame_limit
from ._headers import Header, encode_names, frame_at
from ._ids import IdTables
from ._machine import StateMachine
from ._roles import CLIENT, DISCONNECTED, NEED_DATA, SERVER, CircuitState, Role
from ._state import STAYS

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterable

_UPDATE_STATES = STAYS[EventAddResponse]
#: Payloads from this size on are passed to DBR decoders as views, not copies.
_VIEW_THRESHOLD = 1 << 16
_DBR_CARRIERS = frozenset(cls for role in (CLIENT, SERVER) for cls in REGISTRY[role].values()
                          if cls.ROW.payload == "dbr")
_CIRCUIT_UP = CircuitState.CONNECTED
_ERROR = CircuitState.ERROR


def _part(path: str, doc: str, settable: bool = True) -> property:
    """A property that reads (and sets) ``self.<part>.<name>``, given as ``path``."""
    part, name = path.split(".")

    def fset(self: Any, value: Any) -> None:
        setattr(getattr(self, part), name, value)

    return property(attrgetter(path), fset if settable else None, doc=doc)


class VirtualCircuit:
    """The state of one circuit, for either role.

    ``send(*commands) -> bytes`` checks and encodes what we send; ``recv(data)`` buffers
    what arrived (``b''`` is end of stream); ``next_command()`` returns one command,
    ``NEED_DATA`` or ``DISCONNECTED`` and updates the state. Breaking a rule raises
    ``LocalProtocolError`` (ours) or ``RemoteProtocolError`` (theirs; the circuit then
    refuses to parse further, unless the error says it is ``recoverable``).
    ``drain_oversize``: a message above ``max_payload_size`` is skipped and answered
    (a server's circuit, see ``ReceiveBuffer``) instead of ending the circuit.
    """

    def __init__(self, our_role: Role, address: tuple[str, int] | None = None,
                 priority: int = 0, *, max_payload_size: int = DEFAULT_MAX_PAYLOAD,
                 protocol_version: int = DEFAULT_PROTOCOL_VERSION,
                 ignore_unknown_ids: bool = False, drain_oversize: bool = False) -> None:
        if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
            raise LocalProtocolError(f"priority {priority} outside 0..99")
        self.our_role = our_role
        self.their_role = our_role.peer
        self.address = address
        #: the largest payload accepted from the peer (checked before it is buffered)
        self.max_payload_size = max_payload_size
        self._ids = IdTables()
        self._machine = StateMachine(our_role, priority, protocol_version, self._ids,
                                     ignore_unknown_ids=ignore_unknown_ids,
                                     new_channel=self._server_channel)
        self._rx = ReceiveBuffer(drain_oversize)
        self._deferred: ProtocolError | None = None     # raised by the next next_commands
        #: a client's next_commands gives runs of same-shape replies: EventAddRun,
        #: ReadNotifyRun, CreateRun (see ``_fastpath.take_batch``)
        self.runs = False
        self._their_registry = REGISTRY[self.their_role]

    # -- the parts' state, under the circuit's names ---------------------------

    states = _part("_machine.states", "``{CLIENT: CircuitState, SERVER: CircuitState}``.")
    their_version = _part("_machine.their_version", "The peer's protocol minor version "
                          "(None until its VERSION arrives).")
    our_version = _part("_machine.our_version", "Our protocol minor version.")
    protocol_version = _part("_machine.protocol_version", "The minor version in force: the "
                             "lower of both ends' (ours until known).", settable=False)
    priority = _part("_machine.priority", "The circuit's priority (0..99).")
    host_name = _part("_machine.host_name", "The client's HOST_NAME (None until sent).")
    client_name = _part("_machine.client_name", "The client's CLIENT_NAME (None until sent).")
    ignore_unknown_ids = _part(
        "_machine.ignore_unknown_ids", "A reply or update for an unknown IOID / "
        "subscription id (late, duplicated) raises a recoverable, ``ignorable`` error "
        "instead of ending the circuit.")
    channels = _part("_ids.channels", "``{cid: channel}``.")
    channels_sid = _part("_ids.channels_sid", "``{sid: channel}``.")
    event_add_commands = _part("_ids.event_add_commands", "``{subscriptionid: "
                               "EventAddRecord}``: subscriptions in force.")
    # (the bookkeeping the tests and the core fuzzer compare between runs)
    _ioids = _part("_ids.ioids", "``{ioid: (channel, request class)}`` in flight.")
    _cancelling = _part("_ids.cancelling", "Subscription ids being cancelled.")

    def new_channel_id(self) -> int:
        """A CID not in use on this circuit."""
        return self._ids.new_cid()

    def new_ioid(self) -> int:
        """An IOID not in flight on this circuit."""
        return self._ids.new_ioid()

    def new_subscriptionid(self) -> int:
        """A subscription id not in use on this circuit."""
        return self._ids.new_subscriptionid()

    def _server_channel(self, name: str, cid: int) -> ServerChannel:
        return ServerChannel(self, name, cid)

    # -- sending ------------------------------------------------------------

    def send(self, *commands: Command) -> bytes:
        """Check, apply and encode commands that we send."""
        out = []
        for command in commands:
            if command.SENDER is not self.our_role:
                raise LocalProtocolError(f"a {self.our_role.value.lower()} cannot send "
                                         f"{type(command).__name__}")
            if "tcp" not in command.TRANSPORTS:
                raise LocalProtocolError(f"{type(command).__name__} is not sent on a circuit")
            if command.__class__ in _DBR_CARRIERS:      # (data_type, data_count, ...)
                dtype = command[0]
                if not 0 <= dtype < DBR_TYPE_COUNT or len(command[-1]) < \
                        VALUE_OFFSETS[dtype] + command[1] * ELEMENT_SIZES[dtype]:
                    check_dbr_size(command)   # raises, unless a single string cut short
            raw = bytes(command)
            extended = (frame_at(raw) or _SHORT)[6] > 16    # (the 24-byte header)
            if extended and (self._machine.their_version
                             or LARGE_HEADER_VERSION) < LARGE_HEADER_VERSION:
                raise LocalProtocolError("peer's protocol version does not allow large arrays")
            self._machine.process(command, self.our_role)
            out.append(raw)
        return b"".join(out)

    def _client_up(self) -> bool:
        """We are a client and our side of the circuit is CONNECTED (batches allowed)."""
        return self.our_role is CLIENT and self._machine.states[CLIENT] is _CIRCUIT_UP

    def create_channels(self, names: Iterable[str]) -> tuple[list[ClientChannel], bytes]:
        """New ClientChannels for many names and their CREATE_CHAN requests, encoded in
        one go: what ``[ClientChannel(self, n) ...]`` then ``send(*[c.create() ...])``
        give, without a command object per channel (a many-PV client opens thousands)."""
        names = list(names)
        if not self._client_up() or max(map(len, names), default=0) > 16000:
            # (names that long need the extended header)
            channels = [ClientChannel(self, name) for name in names]
            return channels, self.send(*[channel.create() for channel in channels])
        raws = encode_names(names)
        if raws is None:
            raise LocalProtocolError("name contains a NUL byte")
        channels, data = create_requests(self, self._ids, names, raws, self.protocol_version)
        if channels:
            self._machine.created_channel = True
        return channels, data

    def read_notify_many(self, reads: Iterable[tuple[ClientChannel, int | None, int | None]]
                         ) -> tuple[list[int], bytes]:
        """READ_NOTIFY requests for many ``(channel, data_type, data_count)`` (None:
        native), encoded in one go: the IOIDs and bytes that ``send(*[channel.read(t, n)
        ...])`` give, without a command object per read (a many-PV get sends thousands)."""
        reads = list(reads)
        if not self._client_up():
            requests = [channel.read(t, n) for channel, t, n in reads]
            return [request.ioid for request in requests], self.send(*requests)
        return read_requests(self, self._ids, reads, self.send)

    def subscribe_many(self, subs: Iterable[tuple[ClientChannel, int | None, int | None, int]]
                       ) -> tuple[list[int], bytes]:
        """EVENT_ADD requests for many ``(channel, data_type, data_count, mask)`` (None:
        as ``ClientChannel.subscribe``'s defaults), encoded in one go: the subscription
        ids and bytes that ``send(*[channel.subscribe(t, n, mask=m) ...])`` give, without
        a command object per subscription."""
        subs = list(subs)
        if not self._client_up():
            requests = [channel.subscribe(t, n, mask=m) for channel, t, n, m in subs]
            return [r.subscriptionid for r in requests], self.send(*requests)
        return subscribe_requests(self, self._ids, subs, self.send)

    # -- receiving ----------------------------------------------------------

    def recv(self, data: bytes) -> None:
        """Buffer received bytes; ``b''`` means the peer closed the stream."""
        self._rx.feed(data)

    @property
    def receive_buffer(self) -> ReceiveBuffer:
        """What arrived and is not parsed yet (a server peeks at the next request's
        header, or takes a large write's payload past the framing)."""
        return self._rx

    @property
    def buffered(self) -> int:
        """Bytes received but not yet parsed."""
        return len(self._rx)

    def next_command(self) -> Any:
        """The next command received, or ``NEED_DATA``, or ``DISCONNECTED``."""
        states = self._machine.states
        their_role = self.their_role
        if states[their_role] is _ERROR:
            raise RemoteProtocolError("circuit is in ERROR after an earlier protocol error")
        rx = self._rx
        try:
            frame = rx.frame(self.max_payload_size)
        except RemoteProtocolError as exc:    # (too large: nothing framed, or drained)
            if not exc.recoverable:
                states[their_role] = _ERROR
            raise
        if frame is None:
            return self._need_data()
        cmd, psize, dtype, count, p1, p2, start, end = frame
        cls = self._their_registry.get(cmd)
        payload: bytes | memoryview
        if psize < _VIEW_THRESHOLD or cls not in _DBR_CARRIERS:
            payload = rx.data[start:end] if psize else b""
        else:
            # a large array: a read-only view of the (immutable) buffer, not a copy
            payload = memoryview(rx.data)[start:end]
        try:
            if cls is None:
                raise RemoteProtocolError(f"unknown command code {cmd} from the "
                                          f"{their_role.value.lower()}")
            if cls is EventAddResponse and not psize:
                # a cancel confirmation, unless it is a zero-size update (dynamic count,
                # empty array) for a subscription that is not being cancelled
                ids = self._ids
                if p2 in ids.cancelling or p2 not in ids.event_add_commands:
                    cls = EventCancelResponse
            try:
                command = cls._from_wire(dtype, count, p1, p2, payload)
            except RemoteProtocolError as exc:
                # the message is framed (its bytes are consumed): a bad DBR payload
                # concerns its channel alone, which the peer may clear
                exc.recoverable = cls in _DBR_CARRIERS
                raise
            if cls is EventAddResponse:
                # the hot path (monitor updates): the same checks as process, inlined
                channel = self._ids.sub_channel.get(p2)
                if channel is None or channel.state not in _UPDATE_STATES or \
                        states[their_role] is not _CIRCUIT_UP:
                    self._machine.process(command, their_role)
            else:
                self._machine.process(command, their_role)
        except LocalProtocolError as exc:
            remote = as_remote(exc, Header(cmd, psize, dtype, count, p1, p2))
            if their_role is CLIENT:
                request_error_hint(remote, payload, self._machine.their_version is None)
            if not remote.recoverable:
                states[their_role] = _ERROR
            raise remote from None
        except RemoteProtocolError as exc:
            exc.header = Header(cmd, psize, dtype, count, p1, p2)
            if their_role is CLIENT:
                request_error_hint(exc, payload, self._machine.their_version is None)
            if not exc.recoverable:
                states[their_role] = _ERROR
            raise
        return command

    def next_commands(self) -> list[Any]:
        """Every command complete in the buffer, in order; ``[]`` means NEED_DATA and a
        list that ends with ``DISCONNECTED`` means the stream ended.

        The same checks and state changes as calling :meth:`next_command` until it
        returns NEED_DATA, faster for what a client receives by the thousand (monitor
        updates, channel creation, access rights, READ_NOTIFY replies). A protocol
        error is raised by the call that reaches it first (by the next call if commands
        preceded it).
        """
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        out: list[Any] = []
        client = self.our_role is CLIENT
        server_state = self._machine.states
        # (the batch path slices payloads: below the size handed over as a view)
        limit = min(short_frame_limit(self.max_payload_size), _VIEW_THRESHOLD - 1)
        while True:
            if client and server_state[SERVER] is _CIRCUIT_UP:
                take_batch(self._rx, self._ids, limit, out, self.runs)
            try:
                command = self.next_command()
            except ProtocolError as exc:
                if not out:
                    raise
                self._deferred = exc
                return out
            if command is NEED_DATA:
                return out
            out.append(command)
            if command is DISCONNECTED:
                return out

    def _need_data(self) -> Any:
        if self._rx.eof:
            self._machine.disconnect()
            self._rx.clear()
            return DISCONNECTED
        return NEED_DATA

    def __repr__(self) -> str:
        states = self._machine.states
        return (f"<VirtualCircuit our_role={self.our_role.value} address={self.address} "
                f"priority={self.priority} states={states[CLIENT].name}/"
                f"{states[SERVER].name}>")


_EVENT_ADD, _EVENT_CANCEL = EventAddRequest.ID, EventCancelRequest.ID
#: What ``frame_at`` would say of a plain 16-byte header (our own bytes always have one).
_SHORT = (0, 0, 0, 0, 0, 0, 16, 16)
_VERSION, _NAMES = VersionRequest.ID, (HostNameRequest.ID, ClientNameRequest.ID)
#: RSRV answers a bad HOST_NAME / CLIENT_NAME up to this payload size and goes on.
_NAME_ANSWERED = 512


def request_error_hint(exc: RemoteProtocolError, payload: bytes | memoryview,
                       before_version: bool) -> None:
    """Fill in what a server answers a request it refused (``exc.header``'s), as RSRV
    does: ``exc.status`` is the ECA code of the ERROR to send (None: close without
    one), and ``exc.recoverable`` whether the circuit goes on.

    A bad VERSION closes the circuit silently; any other request before the client's
    VERSION is answered ECA_DEFUNCT ("client version too old") and the circuit goes on,
    as after a late or bad HOST_NAME / CLIENT_NAME (ECA_INTERNAL); otherwise ECA_BADMONID
    for EVENT_CANCEL, ECA_ALLOCMEM for an EVENT_ADD whose mask is outside 1..255, and
    ECA_INTERNAL, and the circuit ends after the answer.
    """
    header = exc.header
    cmd = header.command if header is not None else -1
    if cmd == _VERSION:
        exc.status = None
        return
    if before_version:
        exc.status, exc.recoverable = eca_code("ECA_DEFUNCT"), True
        return
    if cmd in _NAMES and len(payload) <= _NAME_ANSWERED:
        exc.status, exc.recoverable = eca_code("ECA_INTERNAL"), True
        return
    exc.status, exc.recoverable = eca_code("ECA_INTERNAL"), False
    if cmd == _EVENT_CANCEL:
        exc.status = eca_code("ECA_BADMONID")
    elif cmd == _EVENT_ADD and len(payload) >= 16 and \
            not 0 < int.from_bytes(payload[12:14], "big") <= 0xFF:
        exc.status = eca_code("ECA_ALLOCMEM")


__all__ = ["VirtualCircuit", "ClientChannel", "ServerChannel", "request_error_hint"]
