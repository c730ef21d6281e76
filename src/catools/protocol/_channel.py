"""Channels: per-channel state plus factories for the commands that concern them."""
from __future__ import annotations

from ..hints import TYPE_CHECKING
from ._commands import (AccessRightsResponse, ClearChannelRequest, ClearChannelResponse,
                        Command, CreateChanRequest, CreateChanResponse, CreateChFailResponse,
                        EventAddRequest, EventAddResponse, EventCancelRequest,
                        EventCancelResponse, ReadNotifyRequest, ReadNotifyResponse,
                        ReadRequest, ServerDisconnResponse, WriteNotifyRequest,
                        WriteNotifyResponse, WriteRequest)
from ._constants import DBE_ALARM, DBE_VALUE, DYNAMIC_COUNT_VERSION, AccessRights
from ._dbr import DBRMetadata, _lazy
from ._errors import LocalProtocolError
from ._roles import ChannelState

if TYPE_CHECKING:
    from typing import Any
    from ._circuit import VirtualCircuit


_NO_ACCESS = AccessRights.NO_ACCESS
_SEND_CREATE = ChannelState.SEND_CREATE_CHAN_REQUEST
_CONNECTED = ChannelState.CONNECTED


class _BaseChannel:
    """What both roles know about a channel."""

    __slots__ = ("circuit", "name", "cid", "sid", "_native_data_type", "native_data_count",
                 "access_rights", "state")

    def __init__(self, circuit: Any, name: Any = None, cid: int | None = None) -> None:
        if circuit.__class__ is str:        # (name, circuit): caproto's order
            circuit, name = name, circuit
        channels = circuit.channels
        if cid is None:
            cid = circuit.new_channel_id()
        else:
            cid = int(cid)
            if cid in channels:
                raise LocalProtocolError(f"CID {cid} is already in use on this circuit")
        self.circuit: VirtualCircuit = circuit
        self.name: str = name
        self.cid: int = cid
        self.sid: int | None = None
        self._native_data_type: int | None = None
        self.native_data_count: int | None = None
        self.access_rights = _NO_ACCESS
        self.state = _SEND_CREATE
        channels[cid] = self

    @property
    def native_data_type(self) -> Any:
        """The channel's native DBR type as a ChannelType (None before it is created)."""
        value = self._native_data_type
        return None if value is None else _lazy("ChannelType")(value)

    @native_data_type.setter
    def native_data_type(self, value: int | None) -> None:
        self._native_data_type = None if value is None else int(value)

    def _known_sid(self) -> int:
        """The SID (LocalProtocolError before the channel has one)."""
        if self.sid is None:
            raise LocalProtocolError(f"channel {self.name!r} has no SID yet "
                                     f"({self.state.name})")
        return self.sid

    @property
    def states(self) -> ChannelState:
        """Alias of ``state`` (kept for code written against caproto)."""
        return self.state

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} name={self.name!r} cid={self.cid} sid={self.sid} "
                f"state={self.state.name}>")


class ClientChannel(_BaseChannel):
    """A channel as the client sees it; its methods build commands to send.

    ``ClientChannel(circuit, name)`` as in the seed; ``ClientChannel(name, circuit)``
    (caproto's order) works too.
    """

    __slots__ = ()

    def create(self) -> CreateChanRequest:
        """CREATE_CHAN for this channel."""
        return CreateChanRequest(self.name, self.cid, self.circuit.protocol_version)

    def _require_connected(self) -> None:
        if self.state is not ChannelState.CONNECTED:
            raise LocalProtocolError(f"channel {self.name!r} is {self.state.name}, "
                                     "not CONNECTED")

    def _connected(self) -> tuple[int, int, int]:
        """SID, native type and count of a CONNECTED channel (LocalProtocolError else)."""
        if self.state is not _CONNECTED:
            self._require_connected()
        native_type, native_count = self._native_data_type, self.native_data_count
        if native_type is None or native_count is None:   # (set when it connected)
            raise LocalProtocolError(f"channel {self.name!r} has no native type yet")
        return self._known_sid(), native_type, native_count

    def read(self, data_type: int | None = None, data_count: int | None = None,
             notify: bool = True) -> ReadNotifyRequest | ReadRequest:
        """READ_NOTIFY (or the obsolete READ); default type native, count native."""
        sid, native_type, native_count = self._connected()
        cls = ReadNotifyRequest if notify else ReadRequest
        return cls(native_type if data_type is None else data_type,
                   native_count if data_count is None else data_count,
                   sid, self.circuit.new_ioid())

    def write(self, data: Any, data_type: int | None = None, data_count: int | None = None,
              notify: bool = False, metadata: DBRMetadata | None = None
              ) -> WriteNotifyRequest | WriteRequest:
        """WRITE, or WRITE_NOTIFY with ``notify=True``; default type native."""
        sid, native_type, _ = self._connected()
        cls = WriteNotifyRequest if notify else WriteRequest
        return cls(data=data, data_type=native_type if data_type is None else data_type,
                   data_count=data_count, sid=sid,
                   ioid=self.circuit.new_ioid() if notify else self.cid,
                   metadata=metadata)

    def subscribe(self, data_type: int | None = None, data_count: int | None = None,
                  low: float = 0.0, high: float = 0.0, to: float = 0.0,
                  mask: int = DBE_VALUE | DBE_ALARM) -> EventAddRequest:
        """EVENT_ADD; default type native and count 0 (dynamic) when the server allows."""
        sid, native_type, native_count = self._connected()
        if data_count is None:
            data_count = (0 if self.circuit.protocol_version >= DYNAMIC_COUNT_VERSION
                          else native_count)
        return EventAddRequest(data_type=native_type if data_type is None else data_type,
                               data_count=data_count, sid=sid,
                               subscriptionid=self.circuit.new_subscriptionid(),
                               low=low, high=high, to=to, mask=int(mask))

    def unsubscribe(self, subscriptionid: int) -> EventCancelRequest:
        """EVENT_CANCEL for a subscription of this channel."""
        sid = self._connected()[0]
        circuit = self.circuit
        request = circuit.event_add_commands.get(subscriptionid)
        if request is None or circuit._ids.sub_channel.get(subscriptionid) is not self:
            raise LocalProtocolError(f"no subscription {subscriptionid} on {self.name!r}")
        return EventCancelRequest(data_type=request.data_type, data_count=request.data_count,
                                  sid=sid, subscriptionid=subscriptionid)

    def clear(self) -> ClearChannelRequest:
        """CLEAR_CHANNEL."""
        return ClearChannelRequest(sid=self._connected()[0], cid=self.cid)


class ServerChannel(_BaseChannel):
    """A channel as the server sees it (made when CREATE_CHAN arrives)."""

    __slots__ = ("__dict__",)      # servers may hang their own state on a channel

    def create(self, native_data_type: int, native_data_count: int, sid: int,
               access_rights: int = AccessRights.READ_WRITE) -> tuple[Command, Command]:
        """ACCESS_RIGHTS then the CREATE_CHAN reply, as RSRV sends them."""
        return (AccessRightsResponse(cid=self.cid, access_rights=int(access_rights)),
                CreateChanResponse(data_type=native_data_type, data_count=native_data_count,
                                   cid=self.cid, sid=sid))

    def create_fail(self) -> CreateChFailResponse:
        """CREATE_CH_FAIL: no such channel here."""
        return CreateChFailResponse(cid=self.cid)

    def read(self, data: Any, ioid: int, data_type: int, data_count: int | None = None,
             metadata: DBRMetadata | None = None, status: int = 1) -> ReadNotifyResponse:
        """Reply to a READ_NOTIFY."""
        return ReadNotifyResponse(data=data, metadata=metadata, data_type=data_type,
                                  data_count=data_count, status=status, ioid=ioid)

    def write(self, ioid: int, data_type: int, data_count: int,
              status: int = 1) -> WriteNotifyResponse:
        """Reply to a WRITE_NOTIFY."""
        return WriteNotifyResponse(data_type=data_type, data_count=data_count,
                                   status=status, ioid=ioid)

    def subscribe(self, data: Any, subscriptionid: int, data_type: int,
                  data_count: int | None = None, metadata: DBRMetadata | None = None,
                  status: int = 1) -> EventAddResponse:
        """A subscription update."""
        return EventAddResponse(data=data, metadata=metadata, data_type=data_type,
                                data_count=data_count, status=status,
                                subscriptionid=subscriptionid)

    def unsubscribe(self, subscriptionid: int) -> EventCancelResponse:
        """Confirm a cancel (an EVENT_ADD with no payload, carrying the SID)."""
        request = self.circuit.event_add_commands[subscriptionid]
        return EventCancelResponse(data_type=request.data_type,
                                   data_count=request.data_count, sid=self._known_sid(),
                                   subscriptionid=subscriptionid)

    def clear(self) -> ClearChannelResponse:
        """Confirm a CLEAR_CHANNEL."""
        return ClearChannelResponse(sid=self._known_sid(), cid=self.cid)

    def disconnect(self) -> ServerDisconnResponse:
        """Tell the client the channel is gone."""
        return ServerDisconnResponse(cid=self.cid)
