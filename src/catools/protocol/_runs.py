"""Runs of monitor updates: consecutive EVENT_ADD replies of one shape, taken from the
receive buffer by one frame walk and decoded in bulk.

A monitor client receives updates by the thousand, and most of them share a shape: the
same DBR_TIME_* type, element count, payload size and status. Such frames lie in the
buffer at a fixed stride, so where a run ends is found by comparing the header bytes of
all its frames at once (one strided slice per byte), and the whole run is decoded by
one ``Struct.iter_unpack`` into one tuple per update: the header's six fields, the
metadata (status, severity, seconds, nanoseconds) and the values.
"""
from __future__ import annotations

import struct
from operator import itemgetter
from typing import Any

from ._commands import _DBR_SIZES, EventAddResponse
from ._dbr import DBR_TYPES, MAX_STRING_SIZE, decode_values

_tnew = tuple.__new__
#: The DBR_TIME_* types (the types whose updates are taken in runs).
RUN_TYPES = frozenset(row.id for row in DBR_TYPES if row.family == 2)
#: In a row of :attr:`EventAddRun.rows`: where the fields are.
ROW_STATUS, ROW_SUBSCRIPTION, ROW_SEVERITY, ROW_SECONDS, ROW_NANOSECONDS = 4, 5, 7, 8, 9
#: Where the metadata fields start, and where the values start (the alarm status is 6).
ROW_META, ROW_VALUES = 6, 10
#: A run's values are unpacked only up to this many elements per update.
MAX_RUN_COUNT = 4096
_subscription = itemgetter(ROW_SUBSCRIPTION)
_STRUCTS: dict[tuple[int, int, int], struct.Struct] = {}


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
    made = struct.Struct(">HHHHII" + row.meta.format.lstrip(">") + values + "%dx" % pad)
    if len(_STRUCTS) > 256:
        _STRUCTS.clear()
    _STRUCTS[key] = made
    return made


class EventAddRun:
    """Consecutive EVENT_ADD replies of one shape (DBR_TIME_* type, count, payload size
    and status), each a frame of ``size`` bytes in ``data``.

    ``rows``: one tuple per reply (see ``ROW_*``: the header's command, payload size,
    type, count, status and subscription id, then status, severity, seconds,
    nanoseconds of the metadata, then the values; strings as 40 raw bytes).
    :meth:`reply` gives the EventAddResponse of one, as the general path does.
    """

    __slots__ = ("data_type", "data_count", "status", "size", "data", "rows")
    #: where a row's fields are (see ``ROW_*``)
    STATUS, SUBSCRIPTION, SEVERITY, SECONDS, NANOSECONDS, VALUES = (
        ROW_STATUS, ROW_SUBSCRIPTION, ROW_SEVERITY, ROW_SECONDS, ROW_NANOSECONDS, ROW_VALUES)

    def __init__(self, data_type: int, data_count: int, status: int, size: int,
                 data: bytes, rows: list[tuple[Any, ...]]) -> None:
        self.data_type = data_type
        self.data_count = data_count
        self.status = status
        self.size = size
        self.data = data
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def subscription_ids(self) -> list[int]:
        """Each update's subscription id, in order."""
        return list(map(_subscription, self.rows))

    def reply(self, index: int) -> EventAddResponse:
        """The EventAddResponse of update ``index`` (its payload copied out)."""
        start = index * self.size
        return _tnew(EventAddResponse, (self.data_type, self.data_count, self.status,
                                        self.rows[index][ROW_SUBSCRIPTION],
                                        self.data[start + 16:start + self.size]))

    def replies(self) -> list[EventAddResponse]:
        """Every update's EventAddResponse, in order."""
        return [self.reply(i) for i in range(len(self.rows))]

    def values(self, index: int) -> Any:
        """Update ``index``'s values as the general path decodes them (an array, or a
        list of bytes cut at NUL)."""
        start = index * self.size
        return decode_values(DBR_TYPES[self.data_type],
                             self.data[start + 16:start + self.size], self.data_count)

    def __repr__(self) -> str:
        return (f"<EventAddRun {len(self.rows)} x DBR type {self.data_type} "
                f"count {self.data_count}>")


def take_run(buf: bytes, pos: int, psize: int, ids: Any, updating: Any) -> EventAddRun | None:
    """The run of EVENT_ADD frames at ``pos`` shaped as the one there (whose header is
    checked: DBR_TIME_* type, payload size), at least two long, each for a subscription
    whose channel is in a state of ``updating`` and not being cancelled; None if there
    is none (the caller then takes that frame alone)."""
    stride = 16 + psize
    n = (len(buf) - pos) // stride
    if n < 2:
        return None
    end = pos + n * stride
    for k in range(12):         # command, size, type, count, status: as the first frame's
        column = buf[pos + k:end:stride]
        rest = column.lstrip(column[:1])
        if rest:
            n -= len(rest)
            if n < 2:
                return None
            end = pos + n * stride
    dtype = buf[pos + 4] << 8 | buf[pos + 5]
    count = buf[pos + 6] << 8 | buf[pos + 7]
    offset, elem = _DBR_SIZES[dtype]
    if count > MAX_RUN_COUNT or psize < offset + count * elem:
        return None
    data = buf[pos:end]
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


__all__ = ["EventAddRun", "take_run", "row_struct", "RUN_TYPES", "ROW_STATUS",
           "ROW_SUBSCRIPTION", "ROW_SEVERITY", "ROW_SECONDS", "ROW_NANOSECONDS",
           "ROW_META", "ROW_VALUES", "MAX_RUN_COUNT"]
