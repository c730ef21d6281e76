"""Search scheduling: bursts and back-off like libca (the datagrams themselves come
from ``catools.protocol.search_datagrams``)."""
from __future__ import annotations

#: libca's minimum round-trip estimate; the first re-search comes after it.
MIN_PERIOD = 0.032
#: Re-search period ceiling for a channel whose server went away (beats libca's
#: beacon anomaly: a restarted server is found within this time).
RECONNECT_PERIOD = 0.5
#: How long after a disconnect the reconnect ceiling applies.
RECONNECT_WINDOW = 600.0
#: Datagrams sent per burst (to each destination) before yielding to replies.
BURST = 64
#: Seconds between bursts of a long search.
BURST_GAP = 0.002


def next_period(period: float, ceiling: float) -> float:
    """The back-off step: double, up to ``ceiling``."""
    return min(period * 2.0, ceiling)


__all__ = ["next_period", "MIN_PERIOD", "RECONNECT_PERIOD", "BURST", "BURST_GAP"]
