"""Runs of replies: consecutive messages of one shape, taken from the receive buffer by
one frame walk and decoded in bulk.

A client receives some replies by the thousand, and most of them share a shape:
monitor updates (EVENT_ADD) and get replies (READ_NOTIFY) of the same DBR_TIME_* type,
element count, payload size and status; and, for a batch of CREATE_CHAN requests, RSRV's
ACCESS_RIGHTS + CREATE_CHAN pair per channel. Such frames lie in the buffer at a fixed
stride, so where a run ends is found by comparing the header bytes of all its frames at
once (one strided slice per byte), and the whole run is decoded by one
``Struct.iter_unpack`` into one tuple per reply (or pair).
"""
from __future__ import annotations

import struct
from operator import itemgetter

from ..hints import TYPE_CHECKING
from ._constants import AccessRights
from ._commands import (_DBR_SIZES, AccessRightsResponse, CreateChanResponse,
                        EventAddResponse, ReadNotifyResponse)
from ._dbr import DBR_TYPES, MAX_STRING_SIZE, decode_values

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

_tnew = tuple.__new__
_RIGHTS = tuple(AccessRights(bits) for bits in range(4))
#: The DBR_TIME_* types (the types whose updates are taken in runs).
RUN_TYPES = frozenset(row.id for row in DBR_TYPES if row.family == 2)
#: In a row of :attr:`EventAddRun.rows`: where the fields are.
ROW_STATUS, ROW_SUBSCRIPTION, ROW_SEVERITY, ROW_SECONDS, ROW_NANOSECONDS = 4, 5, 7, 8, 9
#: Where the metadata fields start, and where the values start (the alarm status is 6).
ROW_META, ROW_VALUES = 6, 10
#: A run's values are unpacked only up to this many elements per update.
MAX_RUN_COUNT = 4096
_subscription = itemgetter(ROW_SUBSCRIPTION)
_first = itemgetter(0)
#: The Structs made for the shapes seen (at most 256: a peer that sends ever new shapes
#: makes them again, not a table without bound).
_STRUCTS: dict[tuple[int, int, int], struct.Struct] = {}


def _struct(key: tuple[int, int, int], fmt: str) -> struct.Struct:
    """The Struct of ``fmt``, kept under ``key``."""
    if len(_STRUCTS) > 256:
        _STRUCTS.clear()
    made = _STRUCTS[key] = struct.Struct(fmt)
    return made


def id_struct(size: int) -> struct.Struct:
    """The Struct that reads, from a frame of ``size`` bytes, its id (p2) alone."""
    key = (-2, 0, size)
    return _STRUCTS.get(key) or _struct(key, ">12xI%dx" % (size - 16))


def column_struct(data_type: int, size: int) -> struct.Struct:
    """The Struct that reads, from a frame of ``size`` bytes of a DBR_TIME_* reply of
    type ``data_type``, its first value alone."""
    key = (-1, data_type, size)
    found = _STRUCTS.get(key)
    if found is not None:
        return found
    row = DBR_TYPES[data_type]
    value = "%ds" % MAX_STRING_SIZE if row.typecode is None else row.typecode
    before = 16 + row.value_offset
    return _struct(key, ">%dx%s%dx" % (before, value, size - before - row.elem_size))


def row_struct(data_type: int, count: int, payload_size: int) -> struct.Struct:
    """The Struct of one whole frame (header, metadata, ``count`` values, padding) of
    an EVENT_ADD reply of DBR_TIME_* type ``data_type``."""
    key = (data_type, count, payload_size)
    found = _STRUCTS.get(key)
    if found is not None:
        return found
    row = DBR_TYPES[data_type]
    values = ("%ds" % MAX_STRING_SIZE) * count if row.typecode is None \
        else "%d%s" % (count, row.typecode)
    pad = payload_size - row.value_offset - count * row.elem_size
    return _struct(key, ">HHHHII" + row.meta.format.lstrip(">") + values + "%dx" % pad)


class ReplyRun:
    """Consecutive replies of one shape (DBR_TIME_* type, count, payload size and
    status), each a frame of ``size`` bytes in ``data``.

    ``rows``: one tuple per reply (see ``ROW_*``: the header's command, payload size,
    type, count, status and id, then status, severity, seconds, nanoseconds of the
    metadata, then the values; strings as 40 raw bytes), decoded when first asked for
    unless given. :meth:`reply` gives the reply of one as the general path does (a
    :attr:`REPLY`).
    """

    __slots__ = ("data_type", "data_count", "status", "size", "data", "_rows", "_ids")
    #: The reply class of one frame.
    REPLY: Any = None
    #: where a row's fields are (see ``ROW_*``)
    STATUS, SEVERITY, SECONDS, NANOSECONDS, VALUES = (
        ROW_STATUS, ROW_SEVERITY, ROW_SECONDS, ROW_NANOSECONDS, ROW_VALUES)

    def __init__(self, data_type: int, data_count: int, status: int, size: int,
                 data: bytes, rows: list[tuple[Any, ...]] | None = None,
                 ids: list[int] | None = None) -> None:
        self.data_type = data_type
        self.data_count = data_count
        self.status = status
        self.size = size
        self.data = data
        self._rows = rows
        self._ids = ids

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        """One tuple per reply (see the class)."""
        rows = self._rows
        if rows is None:
            rows = self._rows = list(row_struct(self.data_type, self.data_count,
                                                self.size - 16).iter_unpack(self.data))
        return rows

    def __len__(self) -> int:
        return len(self.data) // self.size

    def ids(self) -> list[int]:
        """Each reply's id (subscription id, IOID), in order."""
        ids = self._ids
        if ids is None:
            ids = self._ids = list(map(_subscription, self.rows))
        return ids

    def first_values(self) -> list[Any]:
        """Each reply's first value, in order (strings as 40 raw bytes)."""
        return list(map(_first, column_struct(self.data_type, self.size).iter_unpack(
            self.data)))

    def reply(self, index: int) -> Any:
        """The reply of frame ``index`` (its payload copied out)."""
        start = index * self.size
        return _tnew(self.REPLY, (self.data_type, self.data_count, self.status,
                                  self.ids()[index],
                                  self.data[start + 16:start + self.size]))

    def replies(self) -> list[Any]:
        """Every reply, in order."""
        data_type, data_count, status = self.data_type, self.data_count, self.status
        size = self.size
        psize = size - 16
        data = self.data
        cls = self.REPLY
        return [_tnew(cls, (data_type, data_count, status, rid, data[start:start + psize]))
                for rid, start in zip(self.ids(), range(16, len(data), size))]

    def values(self, index: int) -> Any:
        """Reply ``index``'s values as the general path decodes them (an array, or a
        list of bytes cut at NUL)."""
        start = index * self.size
        return decode_values(DBR_TYPES[self.data_type],
                             self.data[start + 16:start + self.size], self.data_count)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {len(self.rows)} x DBR type {self.data_type} "
                f"count {self.data_count}>")


class EventAddRun(ReplyRun):
    """Consecutive monitor updates (EVENT_ADD replies) of one shape; a row's id is its
    subscription id."""

    __slots__ = ()
    REPLY = EventAddResponse
    SUBSCRIPTION = ROW_SUBSCRIPTION
    subscription_ids = ReplyRun.ids


class ReadNotifyRun(ReplyRun):
    """Consecutive READ_NOTIFY replies of one shape; a row's id is its IOID."""

    __slots__ = ()
    REPLY = ReadNotifyResponse
    IOID = ROW_SUBSCRIPTION


#: In a row of :attr:`CreateRun.rows`: the channel's CID, its access rights (the raw
#: ACCESS_RIGHTS parameter), native type, native count, CID again and SID.
OPEN_CID, OPEN_RIGHTS, OPEN_TYPE, OPEN_COUNT, OPEN_SID = 0, 1, 2, 3, 5
#: One ACCESS_RIGHTS + CREATE_CHAN pair: the first's CID and rights, the second's type,
#: count, CID and SID.
_PAIR = struct.Struct(">8xII4xHHII")
#: The command and payload size bytes that begin each frame of a pair.
_PAIR_HEADS = ((0, AccessRightsResponse.ID.to_bytes(2, "big") + bytes(2)),
               (16, CreateChanResponse.ID.to_bytes(2, "big") + bytes(2)))


class CreateRun:
    """Consecutive channel openings as RSRV answers a batch of CREATE_CHAN requests:
    for each channel an ACCESS_RIGHTS and then the CREATE_CHAN reply (two 16-byte
    frames). ``rows``: ``(cid, access rights, native type, native count, cid, sid)``
    each (see ``OPEN_*``); :meth:`replies` gives the two replies of each, as the
    general path does."""

    __slots__ = ("rows",)

    def __init__(self, rows: list[tuple[int, int, int, int, int, int]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def replies(self) -> list[Any]:
        """The AccessRightsResponse and CreateChanResponse of each opening, in order."""
        out: list[Any] = []
        for cid, rights, data_type, count, _, sid in self.rows:
            out.append(_tnew(AccessRightsResponse, (cid, rights, b"")))
            out.append(_tnew(CreateChanResponse, (data_type, count, cid, sid, b"")))
        return out

    def __repr__(self) -> str:
        return f"<CreateRun {len(self.rows)} channels>"


def _stride_run(buf: Any, pos: int, stride: int, heads: Any) -> int:
    """How many frames of ``stride`` bytes from ``pos`` hold, at each ``(offset,
    bytes)`` of ``heads``, the bytes there in the first frame (``None``: whatever the
    first frame holds at ``offset``, of length ``bytes``)."""
    n = (len(buf) - pos) // stride
    if n < 2:
        return n
    end = pos + n * stride
    for offset, want in heads:
        for k in range(len(want)):
            column = buf[pos + offset + k:end:stride]
            rest = column.lstrip(want[k:k + 1])
            if rest:
                n -= len(rest)
                if n < 2:
                    return n
                end = pos + n * stride
    return n


def take_create_run(buf: Any, pos: int, ids: Any, access_states: Any,
                    created_move: dict[Any, Any]) -> CreateRun | None:
    """The ACCESS_RIGHTS + CREATE_CHAN pairs at ``pos`` (at least two), each for one
    channel of ``ids.channels`` in a state of ``access_states`` that ``created_move``
    moves, with a native type of 0..6; applied as the general path applies them (rights,
    SID, native type and count, state). None if there are not two such pairs (the
    caller then takes the frames one by one)."""
    n = _stride_run(buf, pos, 32, _PAIR_HEADS)
    if n < 2:
        return None
    rows = list(_PAIR.iter_unpack(buf[pos:pos + 32 * n]))
    channels = ids.channels
    channels_sid = ids.channels_sid
    rights_of = _RIGHTS
    # (the states that take both replies, and where CREATE_CHAN moves each)
    moves = {state: move for state, move in created_move.items() if state in access_states}
    taken = 0
    for cid, rights, data_type, count, cid2, sid in rows:
        channel = channels.get(cid)
        if channel is None or cid2 != cid or data_type > 6:
            break
        new_state = moves.get(channel.state)
        if new_state is None:
            break
        channel.access_rights = rights_of[rights & 3]
        channel.sid = sid
        channel._native_data_type = data_type
        channel.native_data_count = count
        channels_sid[sid] = channel
        channel.state = new_state
        taken += 1
    if not taken:
        return None
    del rows[taken:]
    return CreateRun(rows)


def _shaped(buf: Any, pos: int, psize: int) -> tuple[int, int, int, int, Any] | None:
    """``(frames, type, count, frame size, bytes)`` of the run of frames at ``pos``
    shaped as the one there (command, size, type, count, status), if at least two long
    and of a count that runs take."""
    stride = 16 + psize
    n = _stride_run(buf, pos, stride, ((0, buf[pos:pos + 12]),))
    if n < 2:
        return None
    dtype = buf[pos + 4] << 8 | buf[pos + 5]
    count = buf[pos + 6] << 8 | buf[pos + 7]
    offset, elem = _DBR_SIZES[dtype]
    if count > MAX_RUN_COUNT or psize < offset + count * elem:
        return None
    return n, dtype, count, stride, buf[pos:pos + n * stride]


def take_run(buf: Any, pos: int, psize: int, ids: Any, updating: Any) -> EventAddRun | None:
    """The run of EVENT_ADD frames at ``pos`` shaped as the one there (whose header is
    checked: DBR_TIME_* type, payload size), at least two long, each for a subscription
    whose channel is in a state of ``updating`` and not being cancelled; None if there
    is none (the caller then takes that frame alone)."""
    shape = _shaped(buf, pos, psize)
    if shape is None:
        return None
    n, dtype, count, stride, data = shape
    rows = list(row_struct(dtype, count, psize).iter_unpack(data))
    sub_channel = ids.sub_channel
    cancelling = ids.cancelling
    bad = None
    for subscriptionid in set(map(_subscription, rows)):
        channel = sub_channel.get(subscriptionid)
        if channel is None or channel.state not in updating or subscriptionid in cancelling:
            if bad is None:
                bad = set()
            bad.add(subscriptionid)
    if bad is not None:         # the run ends before the first update it may not take
        n = next(i for i, row in enumerate(rows) if row[ROW_SUBSCRIPTION] in bad)
        if n < 2:
            return None
        del rows[n:]
        data = data[:n * stride]
    return EventAddRun(dtype, count, rows[0][ROW_STATUS], stride, data, rows)


def take_read_run(buf: Any, pos: int, psize: int, ids: Any, request: Any,
                  reading: Any) -> ReadNotifyRun | None:
    """The run of READ_NOTIFY reply frames at ``pos`` shaped as the one there (whose
    header is checked: DBR_TIME_* type, payload size), at least two long, each for an
    IOID in flight for a ``request`` on a channel in a state of ``reading``; the IOIDs
    are retired as the general path retires them. None if there is none. Only the
    IOIDs are decoded now (the rows when first asked for)."""
    shape = _shaped(buf, pos, psize)
    if shape is None:
        return None
    n, dtype, count, stride, data = shape
    ioid_list = list(map(_first, id_struct(stride).iter_unpack(data)))
    ioids = ids.ioids
    taken = 0
    first = None
    for ioid in ioid_list:      # (a late or repeated IOID ends the run before it)
        entry = ioids.get(ioid)
        if entry is None or entry[1] is not request or entry[0].state not in reading:
            break
        del ioids[ioid]
        if first is None:
            first = entry
        taken += 1
    if taken < n:
        if taken < 2:           # (none taken after all: its IOID back in flight)
            if first is not None:
                ioids[ioid_list[0]] = first
            return None
        del ioid_list[taken:]
        data = data[:taken * stride]
    return ReadNotifyRun(dtype, count, buf[pos + 8] << 24 | buf[pos + 9] << 16
                         | buf[pos + 10] << 8 | buf[pos + 11], stride, data, ids=ioid_list)


__all__ = ["ReplyRun", "EventAddRun", "ReadNotifyRun", "CreateRun", "take_run",
           "take_read_run", "take_create_run", "OPEN_CID", "OPEN_RIGHTS", "OPEN_TYPE",
           "OPEN_COUNT", "OPEN_SID", "row_struct", "column_struct", "RUN_TYPES", "ROW_STATUS",
           "ROW_SUBSCRIPTION", "ROW_SEVERITY", "ROW_SECONDS", "ROW_NANOSECONDS",
           "ROW_META", "ROW_VALUES", "MAX_RUN_COUNT"]
