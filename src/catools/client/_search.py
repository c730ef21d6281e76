"""Search scheduling: batching names into datagrams and backing off like libca."""
from __future__ import annotations

from typing import Iterable

from ..protocol import MAX_UDP_SEND, SearchRequest, VersionRequest

#: libca's minimum round-trip estimate; the first re-search comes after it.
MIN_PERIOD = 0.032
#: Re-search period ceiling for a channel whose server went away (beats libca's
#: beacon anomaly: a restarted server is found within this time).
RECONNECT_PERIOD = 0.5
#: How long after a disconnect the reconnect ceiling applies.
RECONNECT_WINDOW = 600.0
#: Datagrams sent per burst (to each destination) before yielding to replies.
BURST = 64


def search_datagrams(requests: Iterable[tuple[int, str]], sequence: int,
                     limit: int = MAX_UDP_SEND, max_datagrams: int | None = None
                     ) -> list[tuple[bytes, list[int]]]:
    """Pack (search id, name) pairs into VERSION-prefixed datagrams of ``limit`` bytes.

    Returns ``[(datagram, [search ids...]), ...]``; sequence numbers count up from
    ``sequence``. With ``max_datagrams``, stops once that many are full (the rest of
    ``requests`` is not consumed).
    """
    out: list[tuple[bytes, list[int]]] = []
    parts: list[bytes] = []
    ids: list[int] = []
    size = 0
    seq = sequence
    for search_id, name in requests:
        raw = bytes(SearchRequest(name=name, cid=search_id, version=13))
        if parts and size + len(raw) > limit:
            out.append((b"".join(parts), ids))
            parts, ids = [], []
            seq += 1
            if max_datagrams is not None and len(out) >= max_datagrams:
                return out
        if not parts:
            parts.append(bytes(VersionRequest(priority=1, version=13, sequence_id=seq)))
            size = 16
        parts.append(raw)
        ids.append(search_id)
        size += len(raw)
    if parts:
        out.append((b"".join(parts), ids))
    return out


def next_period(period: float, ceiling: float) -> float:
    """The back-off step: double, up to ``ceiling``."""
    return min(period * 2.0, ceiling)


__all__ = ["search_datagrams", "next_period", "MIN_PERIOD", "RECONNECT_PERIOD", "BURST"]
