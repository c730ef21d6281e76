"""VirtualCircuit: one TCP connection, as bytes <-> commands, with its state."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from ._channel import ClientChannel, ServerChannel, _BaseChannel
from ._commands import (_DBR_SIZES, REGISTRY, AccessRightsResponse, ClearChannelResponse,
                        ClientNameRequest, Command, CreateChanRequest, CreateChanResponse,
                        CreateChFailResponse, ErrorResponse, EventAddRequest,
                        EventAddResponse, EventCancelRequest, EventCancelResponse,
                        HostNameRequest, ReadNotifyRequest,
                        ReadNotifyResponse, ReadRequest, ReadResponse, ServerDisconnResponse,
                        VersionRequest, VersionResponse, WriteNotifyRequest,
                        WriteNotifyResponse, check_dbr_size)
from ._constants import (DEFAULT_PROTOCOL_VERSION, LARGE_HEADER_VERSION,
                         MIN_PROTOCOL_VERSION, PRIORITY_MAX, PRIORITY_MIN, AccessRights)
from ._errors import LocalProtocolError, ProtocolError, RemoteProtocolError, as_remote
from ._headers import EXTENDED_MARKER, HEADER, NUL_PADS, Header, next_free_id
from ._roles import (CLIENT, DISCONNECTED, NEED_DATA, SERVER, ChannelState, CircuitState,
                     Role)
from ._state import CHANNEL_KEY, CHANNEL_TRANSITIONS, CIRCUIT_TRANSITIONS, STAYS

_UPDATE_STATES = STAYS[EventAddResponse]

#: Default bound on one message's payload (EPICS_CA_MAX_ARRAY_BYTES is passed in by I/O).
DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024
#: Payloads from this size on are passed to DBR decoders as views, not copies.
_VIEW_THRESHOLD = 1 << 16
_DBR_CARRIERS = frozenset(cls for cls in (*REGISTRY[CLIENT].values(), *REGISTRY[SERVER].values())
                          if cls.ROW.payload == "dbr")
_CONNECTED = ChannelState.CONNECTED
_MUST_CLOSE = ChannelState.MUST_CLOSE
_SEND_CREATE = ChannelState.SEND_CREATE_CHAN_REQUEST
_CIRCUIT_UP = CircuitState.CONNECTED
_unpack_header = HEADER.unpack_from
_pack_header = HEADER.pack
_tnew = tuple.__new__
#: Per DBR type: where the values start, and the size of one (the fast paths' size check).
_VALUE_OFFSETS = tuple(offset for offset, _ in _DBR_SIZES)
_ELEMENT_SIZES = tuple(size for _, size in _DBR_SIZES)
_DBR_TYPE_COUNT = len(_DBR_SIZES)
_RIGHTS = tuple(AccessRights(bits) for bits in range(4))
#: Command codes of the fast paths (from the command table).
_EVENT_ADD, _READ_NOTIFY = EventAddResponse.ID, ReadNotifyResponse.ID
_ACCESS_RIGHTS, _CREATE_CHAN = AccessRightsResponse.ID, CreateChanResponse.ID
#: Channel states in which a READ_NOTIFY reply / an ACCESS_RIGHTS may arrive (and
#: leave the state as it is): from the transition tables, for the batch fast path.
_READ_REPLY_STATES = frozenset(state for state, moves in CHANNEL_TRANSITIONS.items()
                               if moves.get(ReadNotifyResponse) is state)
_ACCESS_STATES = frozenset(state for state, moves in CHANNEL_TRANSITIONS.items()
                           if moves.get(AccessRightsResponse) is state)
_CREATED_MOVE = {state: moves[CreateChanResponse] for state, moves in
                 CHANNEL_TRANSITIONS.items() if CreateChanResponse in moves}
_CREATE_MOVE = {state: moves[CreateChanRequest] for state, moves in
                CHANNEL_TRANSITIONS.items() if CreateChanRequest in moves}
_READ_MOVE = {state: moves[ReadNotifyRequest] for state, moves in
              CHANNEL_TRANSITIONS.items() if ReadNotifyRequest in moves}


class VirtualCircuit:
    """The state of one circuit, for either role.

    ``send(*commands) -> bytes`` checks and encodes what we send; ``recv(data)`` buffers
    what arrived (``b''`` is end of stream); ``next_command()`` returns one command,
    ``NEED_DATA`` or ``DISCONNECTED`` and updates the state. Breaking a rule raises
    ``LocalProtocolError`` (ours) or ``RemoteProtocolError`` (theirs; the circuit then
    refuses to parse further).
    """

    def __init__(self, our_role: Role, address: tuple[str, int] | None = None,
                 priority: int = 0, *, max_payload_size: int = DEFAULT_MAX_PAYLOAD,
                 protocol_version: int = DEFAULT_PROTOCOL_VERSION,
                 ignore_unknown_ids: bool = False) -> None:
        if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
            raise LocalProtocolError(f"priority {priority} outside 0..99")
        self.our_role = our_role
        self.their_role = our_role.peer
        self.address = address
        self.priority = priority
        self.max_payload_size = max_payload_size
        #: a reply or update for an unknown IOID / subscription id (late, duplicated)
        #: raises a recoverable, ``ignorable`` error instead of ending the circuit
        self.ignore_unknown_ids = ignore_unknown_ids
        self.our_version = protocol_version
        self.their_version: int | None = None
        self.states: dict[Role, CircuitState] = {
            CLIENT: CircuitState.SEND_VERSION_REQUEST,
            SERVER: CircuitState.SEND_VERSION_RESPONSE}
        self.channels: dict[int, _BaseChannel] = {}
        self.channels_sid: dict[int, _BaseChannel] = {}
        self.event_add_commands: dict[int, EventAddRequest] = {}
        self._sub_channel: dict[int, _BaseChannel] = {}
        self._cancelling: set[int] = set()
        self._ioids: dict[int, tuple[_BaseChannel, type]] = {}   # ioid -> (channel, request class)
        self._created_channel = False
        self.host_name: str | None = None
        self.client_name: str | None = None
        self._next_cid = 0
        self._next_ioid = 0
        self._next_subid = 0
        self._buf = b""
        self._pos = 0
        self._chunks: list[bytes] = []
        self._pending = 0
        self._eof = False
        self._deferred: ProtocolError | None = None
        self._their_registry = REGISTRY[self.their_role]
        self._handlers: dict[type, Callable[[Any, Any], None]] = {
            VersionRequest: self._on_version, VersionResponse: self._on_version,
            CreateChanRequest: self._on_create, CreateChanResponse: self._on_created,
            CreateChFailResponse: self._on_gone, ServerDisconnResponse: self._on_gone,
            ClearChannelResponse: self._on_gone,
            AccessRightsResponse: self._on_access,
            ReadNotifyRequest: self._on_io_request, ReadRequest: self._on_io_request,
            WriteNotifyRequest: self._on_io_request,
            ReadNotifyResponse: self._on_io_response, ReadResponse: self._on_io_response,
            WriteNotifyResponse: self._on_io_response,
            EventAddRequest: self._on_event_add, EventCancelRequest: self._on_event_cancel,
            EventCancelResponse: self._on_event_cancelled,
            ErrorResponse: self._on_error,
            HostNameRequest: self._on_name, ClientNameRequest: self._on_name,
        }

    # -- identifiers --------------------------------------------------------

    def new_channel_id(self) -> int:
        """A CID not in use on this circuit."""
        self._next_cid = next_free_id(self._next_cid, self.channels)
        return self._next_cid

    def new_ioid(self) -> int:
        """An IOID not in flight on this circuit."""
        self._next_ioid = next_free_id(self._next_ioid, self._ioids)
        return self._next_ioid

    def new_subscriptionid(self) -> int:
        """A subscription id not in use on this circuit."""
        self._next_subid = next_free_id(self._next_subid, self.event_add_commands)
        return self._next_subid

    @property
    def protocol_version(self) -> int:
        """The minor version in force: the lower of both ends' (ours until known)."""
        if self.their_version is None:
            return self.our_version
        return min(self.our_version, self.their_version)

    # -- I/O ----------------------------------------------------------------

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
                if not 0 <= dtype < _DBR_TYPE_COUNT or len(command[-1]) < \
                        _VALUE_OFFSETS[dtype] + command[1] * _ELEMENT_SIZES[dtype]:
                    check_dbr_size(command)   # raises, unless a single string cut short
            raw = bytes(command)
            if raw[2:4] == b"\xff\xff" and (self.their_version or LARGE_HEADER_VERSION) \
                    < LARGE_HEADER_VERSION:
                raise LocalProtocolError("peer's protocol version does not allow large arrays")
            self._process(command, self.our_role)
            out.append(raw)
        return b"".join(out)

    def create_channels(self, names: Iterable[str]) -> tuple[list[ClientChannel], bytes]:
        """New ClientChannels for many names and their CREATE_CHAN requests, encoded in
        one go: what ``[ClientChannel(self, n) ...]`` then ``send(*[c.create() ...])``
        give, without a command object per channel (a many-PV client opens thousands)."""
        names = list(names)
        if self.our_role is not CLIENT or self.states[CLIENT] is not _CIRCUIT_UP or \
                any(len(name) > 16000 for name in names):   # (those need long headers)
            channels = [ClientChannel(self, name) for name in names]
            return channels, self.send(*[channel.create() for channel in channels])
        if "\0" in "".join(names):
            raise LocalProtocolError("name contains a NUL byte")
        version = self.protocol_version
        creating = _CREATE_MOVE[_SEND_CREATE]
        channels = []
        out = []
        for name in names:
            raw = name.encode("utf-8", "surrogateescape")
            payload = raw + NUL_PADS[len(raw) & 7]
            channel = ClientChannel(self, name)
            channel.state = creating
            channels.append(channel)
            out.append(_pack_header(_CREATE_CHAN, len(payload), 0, 0, channel.cid,
                                    version))
            out.append(payload)
        if channels:
            self._created_channel = True
        return channels, b"".join(out)

    def read_notify_many(self, reads: Iterable[tuple[ClientChannel, int | None, int | None]]
                         ) -> tuple[list[int], bytes]:
        """READ_NOTIFY requests for many ``(channel, data_type, data_count)`` (None:
        native), encoded in one go: the IOIDs and bytes that ``send(*[channel.read(t, n)
        ...])`` give, without a command object per read (a many-PV get sends thousands)."""
        reads = list(reads)
        if self.our_role is not CLIENT or self.states[CLIENT] is not _CIRCUIT_UP:
            requests = [channel.read(t, n) for channel, t, n in reads]
            return [request.ioid for request in requests], self.send(*requests)
        ioids = self._ioids
        ioid = self._next_ioid
        reading = _READ_MOVE[_CONNECTED]
        out = []
        new_ioids = []
        for channel, data_type, count in reads:
            if channel.circuit is not self:
                raise LocalProtocolError(f"channel {channel.name!r} is not on this circuit")
            if channel.state is not _CONNECTED:
                channel._require_connected()            # (raises)
            if data_type is None:
                data_type = channel._native_data_type
            if count is None:
                count = channel.native_data_count
            ioid = next_free_id(ioid, ioids)
            # (a connected channel has its SID, native type and count: not None here)
            if count < 0xFFFF:  # type: ignore[operator]
                out.append(_pack_header(_READ_NOTIFY, 0, data_type, count, channel.sid, ioid))
                ioids[ioid] = (channel, ReadNotifyRequest)
                channel.state = reading
            else:                   # a large array: the long header, and its checks
                out.append(self.send(ReadNotifyRequest(
                    data_type, count, channel.sid, ioid)))  # type: ignore[arg-type]
            new_ioids.append(ioid)
        self._next_ioid = ioid
        return new_ioids, b"".join(out)

    def recv(self, data: bytes) -> None:
        """Buffer received bytes; ``b''`` means the peer closed the stream."""
        if not data:
            self._eof = True
            return
        self._chunks.append(bytes(data))
        self._pending += len(data)

    @property
    def buffered(self) -> int:
        """Bytes received but not yet parsed."""
        return len(self._buf) - self._pos + self._pending

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``_pos``; False if not received yet."""
        have = len(self._buf) - self._pos
        if have + self._pending < need:
            return False
        self._buf = b"".join([self._buf[self._pos:], *self._chunks])
        self._pos = 0
        self._chunks.clear()
        self._pending = 0
        return True

    def next_command(self) -> Any:
        """The next command received, or ``NEED_DATA``, or ``DISCONNECTED``."""
        if self.states[self.their_role] is CircuitState.ERROR:
            raise RemoteProtocolError("circuit is in ERROR after an earlier protocol error")
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < 16:
            if not self._fill(16):
                return self._need_data()
            buf, pos = self._buf, 0
        cmd, psize, dtype, count, p1, p2 = _unpack_header(buf, pos)
        start = pos + 16
        if psize == EXTENDED_MARKER:
            if len(buf) - pos < 24:
                if not self._fill(24):
                    return self._need_data()
                buf, pos = self._buf, 0
            start = pos + 24
            psize = int.from_bytes(buf[pos + 16:pos + 20], "big")
            count = int.from_bytes(buf[pos + 20:start], "big")
        if psize > self.max_payload_size:
            self._fail(f"message of {psize} payload bytes exceeds the limit of "
                       f"{self.max_payload_size} (command {cmd})")
        end = start + psize
        if end > len(buf):
            if not self._fill(end - pos):
                return self._need_data()
            buf = self._buf
            start -= pos
            end -= pos
            pos = 0
        self._pos = end
        cls = self._their_registry.get(cmd)
        payload: bytes | memoryview
        if psize < _VIEW_THRESHOLD or cls not in _DBR_CARRIERS:
            payload = buf[start:end] if psize else b""
        else:
            # a large array: a read-only view of the (immutable) buffer, not a copy
            payload = memoryview(buf)[start:end]
        try:
            if cls is None:
                raise RemoteProtocolError(f"unknown command code {cmd} from the "
                                          f"{self.their_role.value.lower()}")
            if cls is EventAddResponse and not psize:
                # a cancel confirmation, unless it is a zero-size update (dynamic count,
                # empty array) for a subscription that is not being cancelled
                if p2 in self._cancelling or p2 not in self.event_add_commands:
                    cls = EventCancelResponse
            try:
                command = cls._from_wire(dtype, count, p1, p2, payload)
            except RemoteProtocolError as exc:
                # the message is framed (its bytes are consumed): a bad DBR payload
                # concerns its channel alone, which the peer may clear
                exc.recoverable = cls in _DBR_CARRIERS  # type: ignore[attr-defined]
                raise
            if cls is EventAddResponse:
                # the hot path (monitor updates): the same checks as _process, inlined
                channel = self._sub_channel.get(p2)
                if channel is None or channel.state not in _UPDATE_STATES or \
                        self.states[self.their_role] is not CircuitState.CONNECTED:
                    self._process(command, self.their_role)
            else:
                self._process(command, self.their_role)
        except LocalProtocolError as exc:
            remote = as_remote(exc)
            remote.header = Header(cmd, psize, dtype, count, p1, p2)  # type: ignore[attr-defined]
            remote.recoverable = getattr(exc, "recoverable", False)  # type: ignore[attr-defined]
            remote.ignorable = getattr(exc, "ignorable", False)  # type: ignore[attr-defined]
            if not remote.recoverable:  # type: ignore[attr-defined]
                self.states[self.their_role] = CircuitState.ERROR
            raise remote from None
        except RemoteProtocolError as exc:
            exc.header = Header(cmd, psize, dtype, count, p1, p2)  # type: ignore[attr-defined]
            exc.recoverable = getattr(exc, "recoverable", False)  # type: ignore[attr-defined]
            if not exc.recoverable:  # type: ignore[attr-defined]
                self.states[self.their_role] = CircuitState.ERROR
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
        append = out.append
        fast = self.our_role is CLIENT and self.states[SERVER] is _CIRCUIT_UP
        channels = self.channels
        ioids = self._ioids
        sub_channel = self._sub_channel
        cancelling = self._cancelling
        channels_sid = self.channels_sid
        sizes, elems = _VALUE_OFFSETS, _ELEMENT_SIZES
        # (a 16-bit size of 0xFFFF marks the 24-byte extended header: never fast)
        limit = min(self.max_payload_size, _VIEW_THRESHOLD - 1, EXTENDED_MARKER - 1)
        buf = self._buf
        pos = self._pos             # (kept here, stored before next_command and return)
        size = len(buf)
        while True:
            if fast and size - pos >= 16:
                cmd, psize, dtype, count, p1, p2 = _unpack_header(buf, pos)
                end = pos + 16 + psize
                if end <= size and psize <= limit:
                    if cmd == _EVENT_ADD and psize:   # a monitor update
                        channel = sub_channel.get(p2)
                        if channel is not None and channel.state in _UPDATE_STATES \
                                and p2 not in cancelling and dtype < 39 \
                                and psize >= sizes[dtype] + count * elems[dtype]:
                            append(_tnew(EventAddResponse,
                                         (dtype, count, p1, p2, buf[pos + 16:end])))
                            pos = end
                            continue
                    elif cmd == _READ_NOTIFY:         # a get's reply
                        entry = ioids.get(p2)
                        if entry is not None and entry[1] is ReadNotifyRequest \
                                and entry[0].state in _READ_REPLY_STATES and dtype < 39 \
                                and psize >= sizes[dtype] + count * elems[dtype]:
                            del ioids[p2]
                            append(_tnew(ReadNotifyResponse,
                                         (dtype, count, p1, p2, buf[pos + 16:end])))
                            pos = end
                            continue
                    elif cmd == _ACCESS_RIGHTS and not psize:
                        channel = channels.get(p1)
                        if channel is not None and channel.state in _ACCESS_STATES:
                            channel.access_rights = _RIGHTS[p2 & 3]
                            append(_tnew(AccessRightsResponse, (p1, p2, b"")))
                            pos = end
                            continue
                    elif cmd == _CREATE_CHAN and not psize:      # the channel is open
                        channel = channels.get(p1)
                        if channel is not None and dtype <= 6:
                            new_state = _CREATED_MOVE.get(channel.state)
                            if new_state is not None:
                                channel.sid = p2
                                channel._native_data_type = dtype
                                channel.native_data_count = count
                                channels_sid[p2] = channel
                                channel.state = new_state
                                append(_tnew(CreateChanResponse, (dtype, count, p1, p2, b"")))
                                pos = end
                                continue
            self._pos = pos
            try:
                command = self.next_command()
            except ProtocolError as exc:
                if not out:
                    raise
                self._deferred = exc
                return out
            if command is NEED_DATA:
                return out
            append(command)
            if command is DISCONNECTED:
                return out
            fast = self.our_role is CLIENT and self.states[SERVER] is _CIRCUIT_UP
            buf = self._buf
            pos = self._pos
            size = len(buf)

    def _need_data(self) -> Any:
        if self._eof:
            self._disconnect()
            return DISCONNECTED
        return NEED_DATA

    def _fail(self, message: str) -> None:
        self.states[self.their_role] = CircuitState.ERROR
        raise RemoteProtocolError(message)

    def _disconnect(self) -> None:
        for role in (CLIENT, SERVER):
            self.states[role] = CircuitState.DISCONNECTED
        for channel in self.channels.values():
            if channel.state not in (ChannelState.CLOSED, ChannelState.FAILED):
                channel.state = ChannelState.DISCONNECTED
        self._buf = b""
        self._pos = 0
        self._chunks.clear()
        self._pending = 0

    # -- state --------------------------------------------------------------

    def _process(self, command: Command, sender: Role) -> None:
        """Apply one command to the state; raise LocalProtocolError if it breaks a rule."""
        cls = type(command)
        state = self.states[sender]
        if state is CircuitState.CONNECTED:
            key = CHANNEL_KEY.get(cls)
            if key is not None:
                self._process_channel(command, cls, key, sender)
                return
        elif state in (CircuitState.DISCONNECTED, CircuitState.ERROR):
            raise LocalProtocolError(f"cannot handle {cls.__name__}: circuit is "
                                     f"{state.name} for the {sender.value.lower()}")
        new_state = CIRCUIT_TRANSITIONS[sender].get(state, {}).get(cls)
        if new_state is None:
            error = LocalProtocolError(f"{cls.__name__} is not allowed from the "
                                       f"{sender.value.lower()} in state {state.name}")
            # RSRV answers a request that comes before VERSION and keeps the circuit
            error.recoverable = state in (CircuitState.SEND_VERSION_REQUEST,  # type: ignore
                                          CircuitState.SEND_VERSION_RESPONSE)
            raise error
        handler = self._handlers.get(cls)
        if handler is not None:
            handler(command, sender)
        self.states[sender] = new_state

    def _process_channel(self, command: Any, cls: type, key: str, sender: Role) -> None:
        if key == "subscriptionid":
            channel = self._sub_channel.get(command.subscriptionid)
        elif key == "ioid":
            entry = self._ioids.get(command.ioid)
            channel = None if entry is None else entry[0]
        elif key == "sid":
            channel = self.channels_sid.get(command.sid)
        else:
            channel = self.channels.get(command.cid)
            if channel is None and cls is CreateChanRequest and sender is CLIENT \
                    and self.our_role is SERVER:
                channel = ServerChannel(self, command.name, command.cid)
        if channel is None:
            error = LocalProtocolError(f"{cls.__name__} names an unknown {key} "
                                       f"{getattr(command, key)}")
            if self.ignore_unknown_ids and key in ("ioid", "subscriptionid"):
                error.recoverable = error.ignorable = True  # type: ignore[attr-defined]
            raise error
        new_state = CHANNEL_TRANSITIONS[channel.state].get(cls)
        if new_state is None:
            raise LocalProtocolError(f"{cls.__name__} is not allowed when channel "
                                     f"{channel.name!r} is {channel.state.name}")
        handler = self._handlers.get(cls)
        if handler is not None:
            handler(command, channel)
        channel.state = new_state

    # -- handlers (side effects beyond the state tables) ---------------------

    def _on_version(self, command: Any, sender: Any) -> None:
        if command.version < MIN_PROTOCOL_VERSION:
            raise LocalProtocolError(f"protocol version {command.version} is too old")
        if sender is self.their_role:
            self.their_version = command.version
        if isinstance(command, VersionRequest):
            if not PRIORITY_MIN <= command.priority <= PRIORITY_MAX:
                raise LocalProtocolError(f"priority {command.priority} outside 0..99")
            if sender is self.their_role:
                self.priority = command.priority
            elif command.priority != self.priority:
                raise LocalProtocolError(f"VersionRequest priority {command.priority} does "
                                         f"not match the circuit's {self.priority}")

    def _on_name(self, command: Any, sender: Any) -> None:
        if self._created_channel:
            error = LocalProtocolError(f"{type(command).__name__} after creating the first "
                                       "channel is ignored by servers")
            # (RSRV keeps the circuit)
            error.recoverable = True  # type: ignore[attr-defined]
            raise error
        if isinstance(command, HostNameRequest):
            self.host_name = command.name
        else:
            self.client_name = command.name

    def _on_create(self, command: Any, channel: _BaseChannel) -> None:
        if command.name != channel.name:
            raise LocalProtocolError(f"CreateChanRequest names {command.name!r} but CID "
                                     f"{channel.cid} is {channel.name!r}")
        self._created_channel = True

    def _on_created(self, command: Any, channel: _BaseChannel) -> None:
        if command.data_type > 6:
            raise LocalProtocolError(f"native type {command.data_type} is not a DBR base type")
        channel.sid = command.sid
        channel.native_data_type = command.data_type
        channel.native_data_count = command.data_count
        self.channels_sid[command.sid] = channel

    def _on_access(self, command: Any, channel: _BaseChannel) -> None:
        from ._constants import AccessRights
        channel.access_rights = AccessRights(command.access_rights & 3)

    def _on_gone(self, command: Any, channel: _BaseChannel) -> None:
        """The channel is over: forget its ids (CID reusable at once)."""
        self.channels.pop(channel.cid, None)
        if channel.sid is not None and self.channels_sid.get(channel.sid) is channel:
            del self.channels_sid[channel.sid]
        for subid in [s for s, ch in self._sub_channel.items() if ch is channel]:
            del self._sub_channel[subid]
            self.event_add_commands.pop(subid, None)
            self._cancelling.discard(subid)
        for ioid in [i for i, (ch, _) in self._ioids.items() if ch is channel]:
            del self._ioids[ioid]

    def _on_io_request(self, command: Any, channel: _BaseChannel) -> None:
        if command.ioid in self._ioids:
            raise LocalProtocolError(f"IOID {command.ioid} is already in flight")
        self._ioids[command.ioid] = (channel, type(command))

    def _on_io_response(self, command: Any, channel: _BaseChannel) -> None:
        channel_, request = self._ioids.pop(command.ioid)
        if type(command) is not _REPLY_TO[request]:
            self._ioids[command.ioid] = (channel_, request)
            raise LocalProtocolError(f"{type(command).__name__} answers IOID {command.ioid}, "
                                     f"which was a {request.__name__}")

    def _on_event_add(self, command: Any, channel: _BaseChannel) -> None:
        if command.subscriptionid in self.event_add_commands:
            raise LocalProtocolError(f"subscription id {command.subscriptionid} is in use")
        if not 0 < command.mask <= 0xFF:
            raise LocalProtocolError(f"event mask {command.mask:#x} is outside 1..0xff")
        self.event_add_commands[command.subscriptionid] = command
        self._sub_channel[command.subscriptionid] = channel

    def _on_event_cancel(self, command: Any, channel: _BaseChannel) -> None:
        if self.event_add_commands.get(command.subscriptionid) is None or \
                self._sub_channel[command.subscriptionid] is not channel:
            raise LocalProtocolError(f"no subscription {command.subscriptionid} on "
                                     f"{channel.name!r}")
        self._cancelling.add(command.subscriptionid)

    def _on_event_cancelled(self, command: Any, channel: _BaseChannel) -> None:
        self._cancelling.discard(command.subscriptionid)
        self.event_add_commands.pop(command.subscriptionid, None)
        self._sub_channel.pop(command.subscriptionid, None)

    def _on_error(self, command: Any, sender: Any) -> None:
        """An ERROR ends the request it quotes."""
        header = command.original_header
        if header.command in (3, 15, 19):
            self._ioids.pop(header.parameter2, None)
        elif header.command == 1:
            self.event_add_commands.pop(header.parameter2, None)
            self._sub_channel.pop(header.parameter2, None)
            self._cancelling.discard(header.parameter2)

    def __repr__(self) -> str:
        return (f"<VirtualCircuit our_role={self.our_role.value} address={self.address} "
                f"priority={self.priority} states={self.states[CLIENT].name}/"
                f"{self.states[SERVER].name}>")


_REPLY_TO: dict[type, type] = {ReadNotifyRequest: ReadNotifyResponse, ReadRequest: ReadResponse,
             WriteNotifyRequest: WriteNotifyResponse}

__all__ = ["VirtualCircuit", "ClientChannel", "ServerChannel"]
