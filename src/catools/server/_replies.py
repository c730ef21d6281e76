"""DBR replies (READ_NOTIFY, READ, EVENT_ADD updates) of the server, small or streamed.

A reply whose payload is at most STREAM_MIN bytes is encoded at once and goes through
the client's circuit like any command. A larger one is sent as a header, then its values
made a chunk at a time as the client takes them (``ChunkSource``): never the whole reply in
memory, nor a Python object per element; the circuit still sees the reply (an empty
one of the same kind), so that its IOID and subscription bookkeeping stays right.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Iterator

from ..protocol import LocalProtocolError, pack_header
from ..protocol import DBR_TYPES, LARGE_HEADER_VERSION, encode_metadata
from ..stream import ChunkSource
from ._connection import _Client
from ._pvdb import PV

if TYPE_CHECKING:
    from ._server import Server

#: Replies with a larger payload (bytes) are streamed.
STREAM_MIN = 64 << 10

#: Encoded small payloads shared by the subscribers of one PV change:
#: (data type, count) -> (payload, element count, status)
Cache = dict[tuple[int, int], tuple[bytes, int, int]]


def send_dbr(server: "Server", client: _Client, cls: Any, data_type: int, count: int,
             pv: PV, p2: int, p1: int | None = None, cache: Cache | None = None) -> int:
    """Send ``cls`` (a DBR reply) with ``count`` elements of ``pv`` as ``data_type``;
    ``p1`` defaults to the read's status. Returns the read's ECA status."""
    key = (data_type, count)
    cached = cache.get(key) if cache is not None else None
    if cached is not None:
        payload, n, status = cached
        server._send(client, cls._from_wire(data_type, n, status if p1 is None else p1,
                                            p2, payload))
        return status
    encoded = pv.encode(data_type, count)
    row = DBR_TYPES[data_type]
    meta = encode_metadata(row, encoded.metadata)
    size = len(meta) + encoded.size
    padded = (size + 7) & ~7
    status = int(encoded.status)
    first = status if p1 is None else p1
    if padded <= STREAM_MIN:
        payload = meta + b"".join(encoded.chunks)
        payload += bytes(padded - len(payload))
        if cache is not None:
            cache[key] = (payload, encoded.count, status)
        server._send(client, cls._from_wire(data_type, encoded.count, first, p2, payload))
        return status
    if (client.circuit.their_version or LARGE_HEADER_VERSION) < LARGE_HEADER_VERSION:
        _drop(server, client, "peer's protocol version does not allow large arrays")
        return status
    try:   # the bookkeeping of this reply, with no values
        client.circuit.send(cls._from_wire(data_type, 0, first, p2,
                                           meta + bytes(-len(meta) & 7)))
    except (LocalProtocolError, ValueError) as exc:
        _drop(server, client, str(exc))
        return status
    client.send(pack_header(cls.ID, padded, data_type, encoded.count, first, p2) + meta)
    tail = bytes(padded - size)
    client.send_stream(ChunkSource(padded - len(meta),
                                   _guarded(server, pv,
                                            itertools.chain(encoded.chunks, (tail,)))))
    return status


def _guarded(server: "Server", pv: PV, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks``; a conversion bug ends them (the stream zero-fills), it is reported
    once, and the server goes on."""
    try:
        yield from chunks
    except Exception as exc:  # noqa: BLE001 - one reply, never the server
        server.log(f"catools serve: error converting {pv.name!r}: {exc!r}")


def _drop(server: "Server", client: _Client, why: str) -> None:
    server.log(f"catools serve: dropping {client.address[0]}:{client.address[1]}: {why}")
    server._drop(client)
