"""The ids in use on one circuit, and what each of them names."""
from __future__ import annotations

from ..hints import TYPE_CHECKING
from ._errors import LocalProtocolError
from ._headers import Header, next_free_id
from ._records import Record
from ._commands import (EventAddRequest, ReadNotifyRequest,
                        ReadNotifyResponse, ReadRequest, ReadResponse, WriteNotifyRequest,
                        WriteNotifyResponse)

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

#: The reply that ends each kind of request that carries an IOID.
REPLY_TO: dict[type[Any], type] = {ReadNotifyRequest: ReadNotifyResponse, ReadRequest: ReadResponse,
                              WriteNotifyRequest: WriteNotifyResponse}
#: Request codes whose quoting ERROR ends an IOID / a subscription (from the table).
_IO_CODES = frozenset(cls.ID for cls in REPLY_TO)
_SUBSCRIBE_CODE = EventAddRequest.ID


class EventAddRecord(Record):
    """What the circuit keeps of a subscription's EVENT_ADD: what its cancel and the
    cancel's confirmation repeat (the channel is in ``IdTables.sub_channel``). Records
    are shared: many subscriptions of one shape hold the same one."""

    __slots__ = ()
    data_type: int
    data_count: int
    mask: int


#: one record per shape in use (a client with 100,000 monitors has a handful)
_RECORDS: dict[tuple[int, int, int], EventAddRecord] = {}


def event_add_record(data_type: int, data_count: int, mask: int) -> EventAddRecord:
    """The shared record of an EVENT_ADD of this type, count and mask."""
    key = (data_type, data_count, mask)
    record = _RECORDS.get(key)
    if record is None:
        if len(_RECORDS) > 4096:        # (odd counts by the thousand: start again)
            _RECORDS.clear()
        record = _RECORDS[key] = EventAddRecord(*key)
    return record


class IdTables:
    """Channels by CID and SID, subscriptions and requests in flight on one circuit, and
    the counters that allocate new ids (plain counters: no locking here).

    .. attribute:: channels

       ``{cid: channel}``: every channel of the circuit until it is cleared or fails.

    .. attribute:: channels_sid

       ``{sid: channel}``: channels the server has created.

    .. attribute:: event_add_commands

       ``{subscriptionid: EventAddRecord}``: subscriptions in force (their data type,
       count and mask).

    .. attribute:: sub_channel

       ``{subscriptionid: channel}``: the channel of each subscription.

    .. attribute:: cancelling

       Subscription ids whose EVENT_CANCEL is sent and not yet confirmed.

    .. attribute:: ioids

       ``{ioid: (channel, request class)}``: requests waiting for their reply.
    """

    __slots__ = ("channels", "channels_sid", "event_add_commands", "sub_channel",
                 "cancelling", "ioids", "next_cid", "next_ioid", "next_subid")

    def __init__(self) -> None:
        self.channels: dict[int, Any] = {}
        self.channels_sid: dict[int, Any] = {}
        self.event_add_commands: dict[int, EventAddRecord] = {}
        self.sub_channel: dict[int, Any] = {}
        self.cancelling: set[int] = set()
        self.ioids: dict[int, tuple[Any, type]] = {}
        #: the last id handed out of each kind (the next one is the first free after it)
        self.next_cid = 0
        self.next_ioid = 0
        self.next_subid = 0

    # -- allocation ---------------------------------------------------------

    def new_cid(self) -> int:
        """A CID not in use on this circuit."""
        self.next_cid = next_free_id(self.next_cid, self.channels)
        return self.next_cid

    def new_ioid(self) -> int:
        """An IOID not in flight on this circuit."""
        self.next_ioid = next_free_id(self.next_ioid, self.ioids)
        return self.next_ioid

    def new_subscriptionid(self) -> int:
        """A subscription id not in use on this circuit."""
        self.next_subid = next_free_id(self.next_subid, self.event_add_commands)
        return self.next_subid

    # -- look-up ------------------------------------------------------------

    def channel_for(self, command: Any, key: str) -> Any:
        """The channel that ``command``'s ``key`` field (``_state.CHANNEL_KEY``) names,
        or None."""
        if key == "subscriptionid":
            return self.sub_channel.get(command.subscriptionid)
        if key == "ioid":
            entry = self.ioids.get(command.ioid)
            return None if entry is None else entry[0]
        if key == "sid":
            return self.channels_sid.get(command.sid)
        return self.channels.get(command.cid)

    # -- bookkeeping --------------------------------------------------------

    def bind_sid(self, channel: Any, sid: int) -> None:
        """The server created ``channel`` under ``sid``."""
        self.channels_sid[sid] = channel

    def forget(self, channel: Any) -> None:
        """The channel is over: drop its ids (its CID is reusable at once)."""
        self.channels.pop(channel.cid, None)
        sid = channel.sid
        if sid is not None and self.channels_sid.get(sid) is channel:
            del self.channels_sid[sid]
        for subid in [s for s, ch in self.sub_channel.items() if ch is channel]:
            del self.sub_channel[subid]
            self.event_add_commands.pop(subid, None)
            self.cancelling.discard(subid)
        for ioid in [i for i, (ch, _) in self.ioids.items() if ch is channel]:
            del self.ioids[ioid]

    def start_io(self, ioid: int, channel: Any, request: type) -> None:
        """A request that carries an IOID was sent."""
        if ioid in self.ioids:
            raise LocalProtocolError(f"IOID {ioid} is already in flight")
        self.ioids[ioid] = (channel, request)

    def end_io(self, ioid: int, reply: type) -> None:
        """The reply for ``ioid`` arrived (LocalProtocolError, and the request stays in
        flight, if it is not the reply that request takes)."""
        ioids = self.ioids
        channel, request = ioids.pop(ioid)
        if reply is not REPLY_TO[request]:
            ioids[ioid] = (channel, request)
            raise LocalProtocolError(f"{reply.__name__} answers IOID {ioid}, "
                                     f"which was a {request.__name__}")

    def subscribe(self, request: EventAddRequest, channel: Any) -> None:
        """An EVENT_ADD was sent: the subscription is in force."""
        subid = request.subscriptionid
        if subid in self.event_add_commands:
            raise LocalProtocolError(f"subscription id {subid} is in use")
        if not 0 < request.mask <= 0xFF:
            raise LocalProtocolError(f"event mask {request.mask:#x} is outside 1..0xff")
        self.event_add_commands[subid] = event_add_record(request.data_type,
                                                          request.data_count, request.mask)
        self.sub_channel[subid] = channel

    def cancel(self, subscriptionid: int, channel: Any) -> None:
        """An EVENT_CANCEL was sent for a subscription of ``channel``."""
        if self.event_add_commands.get(subscriptionid) is None or \
                self.sub_channel[subscriptionid] is not channel:
            raise LocalProtocolError(f"no subscription {subscriptionid} on "
                                     f"{channel.name!r}")
        self.cancelling.add(subscriptionid)

    def end_subscription(self, subscriptionid: int) -> None:
        """The subscription is over (cancel confirmed, or refused by an ERROR)."""
        self.cancelling.discard(subscriptionid)
        self.event_add_commands.pop(subscriptionid, None)
        self.sub_channel.pop(subscriptionid, None)

    def end_quoted(self, quoted: Header) -> None:
        """An ERROR ends the request it quotes: its IOID or subscription id is free."""
        if quoted.command in _IO_CODES:
            self.ioids.pop(quoted.parameter2, None)
        elif quoted.command == _SUBSCRIBE_CODE:
            self.end_subscription(quoted.parameter2)
