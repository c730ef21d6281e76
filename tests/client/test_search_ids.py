"""The scheduler's table of search ids (``SearchIds``): a list while ids follow on, a
dict for what is left of it once half is released or the ids jump."""
from __future__ import annotations

from catools.client._search import SearchIds, SearchScheduler


def test_ids_map_to_their_pvs_through_releases_and_jumps():
    table = SearchIds()
    model: dict[int, str] = {}
    pvs = [f"PV{i}" for i in range(300)]
    table.extend(1, pvs[:200])
    model.update((1 + i, pv) for i, pv in enumerate(pvs[:200]))
    for search_id in range(1, 160, 2):              # more than half released: spilled
        del table[search_id]
        del model[search_id]
    table.extend(201, pvs[200:250])                  # follows on
    model.update((201 + i, pv) for i, pv in enumerate(pvs[200:250]))
    table.extend(5000, pvs[250:])                    # a jump
    model.update((5000 + i, pv) for i, pv in enumerate(pvs[250:]))
    del table[5001]
    del model[5001]
    assert table.keys() == set(model)
    assert len(table) == len(model)
    assert all(table.get(k) == v and table[k] == v and k in table for k, v in model.items())
    assert table.get(3) is None and 3 not in table and table.get(99999, "no") == "no"


class _PV:
    def __init__(self, name: str) -> None:
        self.name, self.priority, self.server = name, 0, None
        self.search_id = self.disconnected_at = None
        self.next_search = self.period = self.search_ceiling = 0.0


def test_ids_wrap_after_the_last_one():
    scheduler = SearchScheduler(60.0, [("127.0.0.1", 5064)])
    scheduler._next_id = 0xFFFFFFFE
    pvs = [_PV(f"W{i}") for i in range(4)]
    scheduler.add(pvs, now=0.0)
    assert [pv.search_id for pv in pvs] == [0xFFFFFFFF, 0, 1, 2]
    assert all(scheduler.known.get(pv.search_id) is pv for pv in pvs)
    assert scheduler.found(0, ("10.0.0.1", 5064)) is pvs[1]


def test_the_searching_table_shrinks_once_found():
    scheduler = SearchScheduler(60.0, [("127.0.0.1", 5064)])
    pvs = [_PV(f"S{i}") for i in range(1000)]
    scheduler.add(pvs, now=0.0)
    first = scheduler.searching
    scheduler.found_many([(5064, 0x0A000001, pv.search_id, 13) for pv in pvs[:990]],
                         "10.0.0.1")
    assert scheduler.searching is not first
    assert sorted(scheduler.searching) == [pv.search_id for pv in pvs[990:]]
    assert all(scheduler.known.get(pv.search_id) is pv for pv in pvs)
