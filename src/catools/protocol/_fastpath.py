"""The client's batch paths: what a many-PV client sends and receives by the thousand,
without a command object per message on the way out, nor a trip through the state
machine per message on the way in.

Each function does what the general path (``VirtualCircuit.send`` / ``next_command``)
does for the same messages: the same checks and the same moves, which it reads from
the transition tables, so the two cannot disagree about a state.
"""
from __future__ import annotations

from itertools import repeat

from ..hints import TYPE_CHECKING
from ._channel import ClientChannel
from ._commands import (_DBR_SIZES, AccessRightsResponse, CreateChanRequest,
                        CreateChanResponse, EventAddRequest, EventAddResponse,
                        ReadNotifyRequest, ReadNotifyResponse)
from ._constants import DYNAMIC_COUNT_VERSION, AccessRights
from ._errors import LocalProtocolError
from ._framing import ReceiveBuffer
from ._headers import (EXTENDED_MARKER, HEADER, name_payload_size, named_packer, next_free_id,
                       pack_named, padded)
from ._ids import IdTables, event_add_record
from ._roles import ChannelState
from ._runs import RUN_TYPES, take_create_run, take_read_run, take_run
from ._state import CHANNEL_TRANSITIONS, STAYS

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Iterable

_unpack_header = HEADER.unpack_from
_pack_header = HEADER.pack
_pack_header_into = HEADER.pack_into
_tnew = tuple.__new__
_CONNECTED = ChannelState.CONNECTED
#: Per DBR type: where the values start, and the size of one (the payload size check).
VALUE_OFFSETS = tuple(offset for offset, _ in _DBR_SIZES)
ELEMENT_SIZES = tuple(size for _, size in _DBR_SIZES)
DBR_TYPE_COUNT = len(_DBR_SIZES)
_RIGHTS = tuple(AccessRights(bits) for bits in range(4))
_NO_ACCESS = _RIGHTS[0]
_ClientChannel = ClientChannel
_new_channel = object.__new__
#: Command codes taken here (from the command table).
_EVENT_ADD, _READ_NOTIFY = EventAddResponse.ID, ReadNotifyResponse.ID
_ACCESS_RIGHTS, _CREATE_CHAN = AccessRightsResponse.ID, CreateChanResponse.ID
#: Channel states a monitor update / a READ_NOTIFY reply / an ACCESS_RIGHTS leaves as
#: they are, and the moves of CREATE_CHAN (both ways) and READ_NOTIFY: from the tables.
_UPDATE_STATES = STAYS[EventAddResponse]
_READ_REPLY_STATES = STAYS[ReadNotifyResponse]
_ACCESS_STATES = STAYS[AccessRightsResponse]
_CREATED_MOVE = {state: moves[CreateChanResponse] for state, moves in
                 CHANNEL_TRANSITIONS.items() if CreateChanResponse in moves}
_CREATING = CHANNEL_TRANSITIONS[ChannelState.SEND_CREATE_CHAN_REQUEST][CreateChanRequest]
_READING = CHANNEL_TRANSITIONS[_CONNECTED][ReadNotifyRequest]


def take_batch(rx: ReceiveBuffer, ids: IdTables, limit: int, out: list[Any],
               runs: bool = False) -> None:
    """Append to ``out`` the commands of the messages at ``rx.pos`` while each is one a
    client gets by the thousand (monitor update, READ_NOTIFY reply, ACCESS_RIGHTS,
    CREATE_CHAN reply), whole, with a 16-byte header and a payload of at most ``limit``
    bytes, for a channel in a state it leaves as is (or moves as the table says), and
    well-formed; apply them; stop at the first message that is not (``rx.pos`` is left
    there). Only for a client whose circuit is CONNECTED both ways. With ``runs``,
    consecutive DBR_TIME_* updates of one shape come as one :class:`EventAddRun`, such
    READ_NOTIFY replies as one :class:`ReadNotifyRun`, and consecutive channel openings
    (ACCESS_RIGHTS + CREATE_CHAN each) as one :class:`CreateRun`."""
    channels = ids.channels
    channels_sid = ids.channels_sid
    ioids = ids.ioids
    sub_channel = ids.sub_channel
    cancelling = ids.cancelling
    sizes, elems = VALUE_OFFSETS, ELEMENT_SIZES
    append = out.append
    buf = rx.data
    pos = rx.pos
    size = len(buf)
    # (``while True`` and a break, not ``while size - pos >= 16``: CPython 3.11 turns a
    # function's bytecode into its faster, specialised form after a few backward jumps,
    # and counts only unconditional ones; a loop that ends in a conditional jump runs
    # unspecialised until the function has been called 8 times, which for a client that
    # reads 10,000 replies in a few dozen calls is most of them)
    while True:
        if size - pos < 16:
            break
        cmd, psize, dtype, count, p1, p2 = _unpack_header(buf, pos)
        end = pos + 16 + psize
        if end > size or psize > limit:
            break
        if cmd == _EVENT_ADD and psize:   # a monitor update
            if runs and dtype in RUN_TYPES:
                run = take_run(buf, pos, psize, ids, _UPDATE_STATES)
                if run is not None:
                    append(run)
                    pos += len(run.data)
                    continue
            channel = sub_channel.get(p2)
            if channel is None or channel.state not in _UPDATE_STATES \
                    or p2 in cancelling or dtype >= 39 \
                    or psize < sizes[dtype] + count * elems[dtype]:
                break
            append(_tnew(EventAddResponse, (dtype, count, p1, p2, buf[pos + 16:end])))
        elif cmd == _READ_NOTIFY:         # a get's reply
            if runs and dtype in RUN_TYPES:
                replies = take_read_run(buf, pos, psize, ids, ReadNotifyRequest,
                                        _READ_REPLY_STATES)
                if replies is not None:
                    append(replies)
                    pos += len(replies.data)
                    continue
            entry = ioids.get(p2)
            if entry is None or entry[1] is not ReadNotifyRequest \
                    or entry[0].state not in _READ_REPLY_STATES or dtype >= 39 \
                    or psize < sizes[dtype] + count * elems[dtype]:
                break
            del ioids[p2]
            append(_tnew(ReadNotifyResponse, (dtype, count, p1, p2, buf[pos + 16:end])))
        elif cmd == _ACCESS_RIGHTS and not psize:
            if runs:
                opened = take_create_run(buf, pos, ids, _ACCESS_STATES, _CREATED_MOVE)
                if opened is not None:
                    append(opened)
                    pos += 32 * len(opened.rows)
                    continue
            channel = channels.get(p1)
            if channel is None or channel.state not in _ACCESS_STATES:
                break
            channel.access_rights = _RIGHTS[p2 & 3]
            append(_tnew(AccessRightsResponse, (p1, p2, b"")))
        elif cmd == _CREATE_CHAN and not psize:      # the channel is open
            channel = channels.get(p1)
            if channel is None or dtype > 6:
                break
            new_state = _CREATED_MOVE.get(channel.state)
            if new_state is None:
                break
            channel.sid = p2
            channel._native_data_type = dtype
            channel.native_data_count = count
            channels_sid[p2] = channel
            channel.state = new_state
            append(_tnew(CreateChanResponse, (dtype, count, p1, p2, b"")))
        else:
            break
        pos = end
    rx.pos = pos


def create_requests(circuit: Any, ids: IdTables, names: list[str], raws: list[bytes],
                    version: int) -> tuple[list[ClientChannel], bytes]:
    """New ClientChannels on ``circuit`` and their CREATE_CHAN requests (``raws``: the
    names as :func:`encode_names` gives them, short enough for the 16-byte header),
    encoded in one go, with CIDs from ``ids``; the channels move as sending the
    requests would."""
    if not names:
        return [], b""
    in_use = ids.channels
    first = ids.next_cid + 1
    n = len(names)
    if first + n > 0x100000000 or not in_use.keys().isdisjoint(range(first, first + n)):
        cids: Any = []
        cid = first - 1
        for _ in names:                         # (IdTables.new_cid, inline)
            cid = (cid + 1) & 0xFFFFFFFF
            if cid in in_use:
                cid = next_free_id(cid, in_use)
            in_use[cid] = None                  # (taken: its channel is set below)
            cids.append(cid)
    else:       # (the usual: each the last one's next; one int object each, shared by
        cids = list(range(first, first + n))    # the channel and the table)
    channels: list[ClientChannel] = []
    append = channels.append
    for name, cid in zip(names, cids):
        channel = _new_channel(_ClientChannel)   # (what ClientChannel(circuit, name,
        channel.circuit = circuit                # cid) sets, without its argument
        channel.name = name                      # checks: done by the caller)
        channel.cid = cid
        channel.sid = channel._native_data_type = channel.native_data_count = None
        channel.access_rights = _NO_ACCESS
        channel.state = _CREATING
        append(channel)
    in_use.update(zip(cids, channels))
    ids.next_cid = cids[-1]
    size = name_payload_size(raws)
    if size is not None:                        # (one payload size: packed in C)
        return channels, pack_named(_CREATE_CHAN, size, 0, 0, cids, repeat(version), raws)
    out = []
    for cid, raw in zip(cids, raws):
        size = padded(len(raw) + 1)
        out.append(named_packer(size)(_CREATE_CHAN, size, 0, 0, cid, version, raw))
    return channels, b"".join(out)


def read_requests(circuit: Any, ids: IdTables,
                  reads: Iterable[tuple[Any, int | None, int | None]],
                  send: Callable[[ReadNotifyRequest], bytes]) -> tuple[list[int], bytes]:
    """READ_NOTIFY requests for ``(channel, data_type, data_count)`` (None: native) on
    ``circuit``, encoded in one go, with IOIDs from ``ids``; a large array goes through
    ``send`` (the long header and its checks)."""
    ioids = ids.ioids
    ioid = ids.next_ioid
    reads = reads if isinstance(reads, list) else list(reads)
    buf = bytearray(16 * len(reads))       # (the headers, packed in place)
    pack_into = _pack_header_into
    at = 0
    large: list[tuple[int, bytes]] = []     # (where in buf, the long request's bytes)
    new_ioids = []
    for channel, data_type, count in reads:
        if channel.circuit is not circuit:
            raise LocalProtocolError(f"channel {channel.name!r} is not on this circuit")
        if channel.state is not _CONNECTED:
            channel._require_connected()            # (raises)
        if data_type is None:
            data_type = channel._native_data_type
        if count is None:
            count = channel.native_data_count
        ioid = (ioid + 1) & 0xFFFFFFFF
        if ioid in ioids:
            ioid = next_free_id(ioid, ioids)
        if count < EXTENDED_MARKER:
            pack_into(buf, at, _READ_NOTIFY, 0, data_type, count, channel.sid, ioid)
            at += 16
            ioids[ioid] = (channel, ReadNotifyRequest)
            channel.state = _READING
        else:
            large.append((at, send(ReadNotifyRequest(data_type, count, channel.sid, ioid))))
        new_ioids.append(ioid)
    ids.next_ioid = ioid
    if not large:
        return new_ioids, bytes(buf)
    pieces: list[bytes | bytearray] = []
    last = 0
    for where, data in large:
        pieces += (buf[last:where], data)
        last = where
    pieces.append(buf[last:at])
    return new_ioids, b"".join(pieces)


def subscribe_requests(circuit: Any, ids: IdTables,
                       subs: Iterable[tuple[Any, int | None, int | None, int]],
                       send: Callable[[EventAddRequest], bytes]) -> tuple[list[int], bytes]:
    """EVENT_ADD requests for ``(channel, data_type, data_count, mask)`` (type None:
    native; count None: 0, dynamic, when the circuit's version allows, else native) on
    ``circuit``, encoded in one go, with subscription ids from ``ids``; a large count
    goes through ``send`` (the long header and its checks)."""
    in_use = ids.event_add_commands
    sub_channel = ids.sub_channel
    dynamic = circuit.protocol_version >= DYNAMIC_COUNT_VERSION
    subid = ids.next_subid
    out = []
    new_ids = []
    payloads: dict[int, bytes] = {}
    try:
        for channel, data_type, count, mask in subs:
            if channel.circuit is not circuit:
                raise LocalProtocolError(f"channel {channel.name!r} is not on this circuit")
            if channel.state is not _CONNECTED:
                channel._require_connected()            # (raises)
            if data_type is None:
                data_type = channel._native_data_type
            if count is None:
                count = 0 if dynamic else channel.native_data_count
            subid = (subid + 1) & 0xFFFFFFFF            # (IdTables.new_subscriptionid)
            if subid in in_use:
                subid = next_free_id(subid, in_use)
            if count >= EXTENDED_MARKER:
                out.append(send(EventAddRequest(data_type, count, channel.sid, subid,
                                                mask=mask)))
            else:
                payload = payloads.get(mask)
                if payload is None:
                    if not 0 < mask <= 0xFF:
                        raise LocalProtocolError(f"event mask {mask:#x} is outside 1..0xff")
                    payload = payloads[mask] = EventAddRequest(0, 0, 0, 0, mask=mask)[-1]
                out.append(_pack_header(_EVENT_ADD, 16, data_type, count, channel.sid, subid))
                out.append(payload)
                in_use[subid] = event_add_record(data_type, count, mask)
                sub_channel[subid] = channel
            new_ids.append(subid)
    finally:
        ids.next_subid = subid
    return new_ids, b"".join(out)
