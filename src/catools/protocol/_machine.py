"""StateMachine: the rules that move a circuit's and its channels' states.

The moves themselves are the tables of ``_state``; this module looks them up for each
command either end sends, and adds what a table cannot say: version and priority
checks, the client's names, channel creation, and the ids each command starts or ends
(kept in an ``IdTables``).
"""
from __future__ import annotations

from ..hints import TYPE_CHECKING
from ._commands import (AccessRightsResponse, ClearChannelResponse, ClientNameRequest,
                        Command, CreateChanRequest, CreateChanResponse,
                        CreateChFailResponse, ErrorResponse, EventAddRequest,
                        EventCancelRequest, EventCancelResponse, HostNameRequest,
                        ReadNotifyRequest, ReadNotifyResponse, ReadRequest, ReadResponse,
                        ServerDisconnResponse, VersionRequest, VersionResponse,
                        WriteNotifyRequest, WriteNotifyResponse)
from ._constants import MIN_PROTOCOL_VERSION, PRIORITY_MAX, PRIORITY_MIN, AccessRights
from ._errors import LocalProtocolError
from ._ids import IdTables
from ._roles import CLIENT, SERVER, ChannelState, CircuitState, Role
from ._state import CHANNEL_KEY, CHANNEL_TRANSITIONS, CIRCUIT_TRANSITIONS

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable

_CONNECTED = CircuitState.CONNECTED
_OVER = (CircuitState.DISCONNECTED, CircuitState.ERROR)
#: RSRV answers a request that comes before VERSION, and keeps the circuit.
_BEFORE_VERSION = (CircuitState.SEND_VERSION_REQUEST, CircuitState.SEND_VERSION_RESPONSE)
_UNKNOWN_ID_KEYS = ("ioid", "subscriptionid")
_CHANNEL_OVER = (ChannelState.CLOSED, ChannelState.FAILED)


class StateMachine:
    """Both ends' circuit states and the channel states of one circuit.

    ``process(command, sender)`` checks a command against the state of its sender (or
    of its channel), applies it, or raises LocalProtocolError and changes nothing.

    .. attribute:: states

       ``{CLIENT: CircuitState, SERVER: CircuitState}``.

    .. attribute:: their_version

       The peer's protocol minor version (None until its VERSION arrives).

    .. attribute:: priority

       The circuit's priority (a server takes the client's from its VERSION).

    .. attribute:: host_name, client_name

       What the client said in HOST_NAME / CLIENT_NAME (None until then).

    .. attribute:: created_channel

       A CREATE_CHAN was sent on the circuit (names may no longer change).
    """

    def __init__(self, our_role: Role, priority: int, our_version: int, ids: IdTables, *,
                 ignore_unknown_ids: bool, new_channel: Callable[[str, int], Any]) -> None:
        self.our_role = our_role
        self.their_role = our_role.peer
        self.priority = priority
        self.our_version = our_version
        self.their_version: int | None = None
        self.states: dict[Role, CircuitState] = {
            CLIENT: CircuitState.SEND_VERSION_REQUEST,
            SERVER: CircuitState.SEND_VERSION_RESPONSE}
        self.host_name: str | None = None
        self.client_name: str | None = None
        self.created_channel = False
        #: an unknown IOID / subscription id raises a recoverable, ignorable error
        self.ignore_unknown_ids = ignore_unknown_ids
        self._ids = ids
        self._new_channel = new_channel     # a ServerChannel for a CREATE_CHAN received
        self._handlers: dict[type, Callable[[Any, Any], None]] = {
            VersionRequest: self._on_version, VersionResponse: self._on_version,
            HostNameRequest: self._on_name, ClientNameRequest: self._on_name,
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
        }

    @property
    def protocol_version(self) -> int:
        """The minor version in force: the lower of both ends' (ours until known)."""
        if self.their_version is None:
            return self.our_version
        return min(self.our_version, self.their_version)

    def disconnect(self) -> None:
        """The stream ended: both ends are DISCONNECTED, and so is every channel that
        was not over already."""
        for role in (CLIENT, SERVER):
            self.states[role] = CircuitState.DISCONNECTED
        for channel in self._ids.channels.values():
            if channel.state not in _CHANNEL_OVER:
                channel.state = ChannelState.DISCONNECTED

    def process(self, command: Command, sender: Role) -> None:
        """Apply one command to the states; raise LocalProtocolError if it breaks a rule."""
        cls = type(command)
        state = self.states[sender]
        if state is _CONNECTED:
            key = CHANNEL_KEY.get(cls)
            if key is not None:
                self._process_channel(command, cls, key, sender)
                return
        elif state in _OVER:
            raise LocalProtocolError(f"cannot handle {cls.__name__}: circuit is "
                                     f"{state.name} for the {sender.value.lower()}")
        new_state = CIRCUIT_TRANSITIONS[sender].get(state, {}).get(cls)
        if new_state is None:
            raise LocalProtocolError(f"{cls.__name__} is not allowed from the "
                                     f"{sender.value.lower()} in state {state.name}",
                                     recoverable=state in _BEFORE_VERSION)
        handler = self._handlers.get(cls)
        if handler is not None:
            handler(command, sender)
        self.states[sender] = new_state

    def _process_channel(self, command: Any, cls: type, key: str, sender: Role) -> None:
        channel = self._ids.channel_for(command, key)
        if channel is None and cls is CreateChanRequest and sender is CLIENT \
                and self.our_role is SERVER:
            channel = self._new_channel(command.name, command.cid)
        if channel is None:
            unknown_id = self.ignore_unknown_ids and key in _UNKNOWN_ID_KEYS
            raise LocalProtocolError(f"{cls.__name__} names an unknown {key} "
                                     f"{getattr(command, key)}",
                                     recoverable=unknown_id, ignorable=unknown_id)
        new_state = CHANNEL_TRANSITIONS[channel.state].get(cls)
        if new_state is None:
            raise LocalProtocolError(f"{cls.__name__} is not allowed when channel "
                                     f"{channel.name!r} is {channel.state.name}")
        handler = self._handlers.get(cls)
        if handler is not None:
            handler(command, channel)
        channel.state = new_state

    # -- the circuit's side effects -------------------------------------------

    def _on_version(self, command: Any, sender: Role) -> None:
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

    def _on_name(self, command: Any, sender: Role) -> None:
        if self.created_channel:
            # (RSRV ignores it and keeps the circuit)
            raise LocalProtocolError(f"{type(command).__name__} after creating the first "
                                     "channel is ignored by servers", recoverable=True)
        if isinstance(command, HostNameRequest):
            self.host_name = command.name
        else:
            self.client_name = command.name

    def _on_error(self, command: Any, sender: Role) -> None:
        self._ids.end_quoted(command.original_header)

    # -- the channels' side effects -------------------------------------------

    def _on_create(self, command: Any, channel: Any) -> None:
        if command.name != channel.name:
            raise LocalProtocolError(f"CreateChanRequest names {command.name!r} but CID "
                                     f"{channel.cid} is {channel.name!r}")
        self.created_channel = True

    def _on_created(self, command: Any, channel: Any) -> None:
        if command.data_type > 6:
            raise LocalProtocolError(f"native type {command.data_type} is not a DBR base type")
        channel.sid = command.sid
        channel.native_data_type = command.data_type
        channel.native_data_count = command.data_count
        self._ids.bind_sid(channel, command.sid)

    def _on_access(self, command: Any, channel: Any) -> None:
        channel.access_rights = AccessRights(command.access_rights & 3)

    def _on_gone(self, command: Any, channel: Any) -> None:
        self._ids.forget(channel)

    def _on_io_request(self, command: Any, channel: Any) -> None:
        self._ids.start_io(command.ioid, channel, type(command))

    def _on_io_response(self, command: Any, channel: Any) -> None:
        self._ids.end_io(command.ioid, type(command))

    def _on_event_add(self, command: Any, channel: Any) -> None:
        self._ids.subscribe(command, channel)

    def _on_event_cancel(self, command: Any, channel: Any) -> None:
        self._ids.cancel(command.subscriptionid, channel)

    def _on_event_cancelled(self, command: Any, channel: Any) -> None:
        self._ids.end_subscription(command.subscriptionid)
