"""The search bookkeeping (``SearchScheduler``) with a fake clock and no socket: when
each PV is searched, in which datagrams, and what replies, beacons, parking and release
change."""
from __future__ import annotations

import pytest

from catools.client._search import (ANOMALY_PERIOD, BURST, BURST_GAP, MIN_PERIOD,
                                    SearchScheduler)
from catools.protocol import CLIENT, Beacon, SearchRequest, read_datagram

DEST = [("127.0.0.1", 5064)]


class FakePV:
    """The attributes the scheduler reads and writes (as the client's PV has them)."""

    def __init__(self, name: str, priority: int = 0) -> None:
        self.name = name
        self.priority = priority
        self.search_id = None
        self.next_search = 0.0
        self.period = 0.0
        self.search_ceiling = 0.0
        self.disconnected_at = None
        self.server = None


def names_in(datagrams: list[bytes]) -> list[str]:
    return [c.name for d in datagrams for c in read_datagram(d, CLIENT)
            if isinstance(c, SearchRequest)]


def run(scheduler: SearchScheduler, until: float, start: float = 0.0
        ) -> list[tuple[float, list[str]]]:
    """Call poll at every due time from ``start`` to ``until``: ``[(time, names)]``."""
    now, sent = start, []
    while now <= until:
        datagrams, nxt = scheduler.poll(now)
        if datagrams:
            sent.append((now, names_in(datagrams)))
        if nxt is None:
            break
        now = max(nxt, now + 1e-9)
    return sent


def test_first_search_goes_out_at_once_in_one_datagram():
    scheduler = SearchScheduler(60.0, DEST)
    pvs = [FakePV(f"PV:{i}") for i in range(3)]
    scheduler.add(pvs, now=100.0)
    datagrams, nxt = scheduler.poll(100.0)
    assert names_in(datagrams) == ["PV:0", "PV:1", "PV:2"]
    assert len(datagrams) == 1
    assert nxt == pytest.approx(100.0 + MIN_PERIOD)
    assert len({pv.search_id for pv in pvs}) == 3


def test_back_off_doubles_up_to_the_ceiling():
    scheduler = SearchScheduler(2.0, DEST)
    scheduler.add([FakePV("X")], now=0.0)
    times = [t for t, names in run(scheduler, 20.0) if names == ["X"]]
    gaps = [b - a for a, b in zip(times, times[1:])]
    expected, period = [], MIN_PERIOD
    while len(expected) < len(gaps):
        expected.append(period)
        period = min(period * 2, 2.0)
    assert gaps == pytest.approx(expected)
    assert gaps[-1] == pytest.approx(2.0) and gaps[-2] == pytest.approx(2.0)


def test_nothing_is_sent_without_destinations():
    scheduler = SearchScheduler(5.0, [])
    scheduler.add([FakePV("X")], now=0.0)
    assert run(scheduler, 30.0) == []


def test_a_long_search_goes_in_bursts_burst_gap_apart():
    scheduler = SearchScheduler(60.0, DEST)
    pvs = [FakePV(f"A:LONG:NAME:{i:06d}") for i in range(6000)]
    scheduler.add(pvs, now=0.0)
    first, nxt = scheduler.poll(0.0)
    assert len(first) == BURST
    assert nxt == pytest.approx(BURST_GAP)
    assert scheduler.poll(BURST_GAP / 2)[0] == []             # not before the gap
    rest = []
    now = BURST_GAP
    while scheduler.backlog:
        datagrams, nxt = scheduler.poll(now)
        assert 0 < len(datagrams) <= BURST
        rest.extend(datagrams)
        now = nxt
    sent = names_in(first) + names_in(rest)
    assert sorted(sent) == sorted(pv.name for pv in pvs)      # each once
    assert len(sent) == len(pvs)


def test_a_reply_stops_the_search_and_sets_the_server():
    scheduler = SearchScheduler(60.0, DEST)
    a, b = FakePV("A"), FakePV("B")
    scheduler.add([a, b], now=0.0)
    scheduler.poll(0.0)
    assert scheduler.found(a.search_id, ("10.0.0.1", 5064)) is a
    assert a.server == ("10.0.0.1", 5064)
    later = [names for _, names in run(scheduler, 10.0, start=0.01)]
    assert later and all(names == ["B"] for names in later)


def test_replies_of_one_datagram_come_in_runs_per_server():
    scheduler = SearchScheduler(60.0, DEST)
    pvs = [FakePV(f"P{i}") for i in range(4)]
    scheduler.add(pvs, now=0.0)
    ip1, ip2 = 0x0A000001, 0x0A000002
    replies = [(5064, ip1, pvs[0].search_id, 13), (5064, ip1, pvs[1].search_id, 13),
               (5064, ip2, pvs[2].search_id, 13), (5064, 0xFFFFFFFF, pvs[3].search_id, 13)]
    runs = scheduler.found_many(replies, "10.9.9.9")
    assert [(address, [pv.name for pv in found]) for address, _, found in runs] == [
        (("10.0.0.1", 5064), ["P0", "P1"]), (("10.0.0.2", 5064), ["P2"]),
        (("10.9.9.9", 5064), ["P3"])]
    assert not scheduler.searching


def test_a_second_server_for_a_found_pv_is_reported_once_per_reply():
    seen = []
    scheduler = SearchScheduler(60.0, DEST, on_duplicate=lambda pv, addr: seen.append(
        (pv.name, addr)))
    pv = FakePV("DUP")
    scheduler.add([pv], now=0.0)
    scheduler.found(pv.search_id, ("10.0.0.1", 5064))
    scheduler.found(pv.search_id, ("10.0.0.1", 5064))     # the same server again: quiet
    scheduler.found(pv.search_id, ("10.0.0.2", 5064))
    assert seen == [("DUP", ("10.0.0.2", 5064))]


def test_a_beacon_anomaly_searches_at_once():
    scheduler = SearchScheduler(60.0, DEST, listening_since=0.0)
    pv = FakePV("LATE")
    scheduler.add([pv], now=0.0)
    run(scheduler, 100.0)               # backed off far: the next search is far away
    assert pv.next_search > 110.0
    beacon = Beacon(version=13, server_port=5064, beacon_id=1, address="10.0.0.5")
    assert scheduler.beacon(beacon, ("10.0.0.5", 5065), 100.0, 5064)[1] is None
    beacon = Beacon(version=13, server_port=5064, beacon_id=2, address="10.0.0.5")
    key, anomaly = scheduler.beacon(beacon, ("10.0.0.5", 5065), 101.0, 5064)
    assert key == ("10.0.0.5", 5064) and anomaly is not None and anomaly.kind == "new"
    datagrams, _ = scheduler.poll(101.0)
    assert names_in(datagrams) == ["LATE"]
    assert pv.period <= ANOMALY_PERIOD * 2


def test_a_parked_pv_waits_for_its_servers_retry_time():
    scheduler = SearchScheduler(60.0, DEST)
    pv = FakePV("PARKED")
    scheduler.add([pv], now=0.0)
    scheduler.poll(0.0)
    scheduler.found(pv.search_id, ("10.0.0.1", 5064))
    scheduler.park(pv, 7.5)             # its server backs off until 7.5
    assert pv.server is None
    sent = run(scheduler, 7.6, start=0.1)
    assert sent[0] == (7.5, ["PARKED"])


def test_a_released_pv_is_never_searched_again():
    scheduler = SearchScheduler(60.0, DEST)
    keep, drop = FakePV("KEEP"), FakePV("DROP")
    scheduler.add([keep, drop], now=0.0)
    scheduler.poll(0.0)
    scheduler.release(drop)
    assert all(names == ["KEEP"] for _, names in run(scheduler, 30.0, start=0.01))
    # released while its name waits in the backlog of a long search: left out too
    scheduler = SearchScheduler(60.0, DEST)
    pvs = [FakePV(f"A:LONG:NAME:{i:06d}") for i in range(6000)]
    scheduler.add(pvs, now=0.0)
    scheduler.poll(0.0)
    for pv in pvs[-100:]:
        scheduler.release(pv)
    later = [name for _, names in run(scheduler, 0.5, start=BURST_GAP) for name in names]
    assert not set(later) & {pv.name for pv in pvs[-100:]}
    assert set(later) >= {pv.name for pv in pvs[5000:5900]}
    assert not scheduler.known.keys() & {pv.search_id for pv in pvs[-100:]}


def test_a_lost_channel_backs_off_only_to_the_reconnect_ceiling():
    scheduler = SearchScheduler(60.0, DEST)
    pv = FakePV("BACK")
    scheduler.add([pv], now=0.0)
    scheduler.poll(0.0)
    scheduler.found(pv.search_id, ("10.0.0.1", 5064))
    pv.disconnected_at = 50.0
    scheduler.restart(pv, 50.0)
    times = [t for t, names in run(scheduler, 60.0, start=50.0)]
    assert times[0] == 50.0
    assert max(b - a for a, b in zip(times, times[1:])) == pytest.approx(0.5)
