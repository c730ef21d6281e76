"""A ReadBatch's reads end in the places they were asked for, whatever IOIDs their
circuits gave them (following on, with gaps, wrapped) and in whatever order and runs
their replies come."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from catools import DBRMetadata, ReadNotifyResponse
from catools.client._batch import CircuitReads, ReadBatch

TIME_DOUBLE = 20


class _Run:
    """What a ReadBatch reads of a ReadNotifyRun: its replies and first values."""

    def __init__(self, ioids, values):
        self.data_type, self.data_count = TIME_DOUBLE, 1
        self._replies = [ReadNotifyResponse(data=[v], metadata=DBRMetadata(0, 0, (1, 2)),
                                            data_type=TIME_DOUBLE, data_count=1, ioid=i)
                         for i, v in zip(ioids, values)]

    def replies(self):
        return self._replies

    def first_values(self):
        return [r.data[0] for r in self._replies]


IOIDS = st.one_of(
    st.integers(1, 1000).map(lambda start: ("follow", start)),
    st.just(("wrap", 0xFFFFFFFF - 2)),
    st.just(("gaps", 7)))


@given(st.integers(1, 30), st.integers(1, 3), IOIDS, st.randoms(use_true_random=False),
       st.integers(1, 5))
@settings(max_examples=300, deadline=None)
def test_reads_end_where_they_were_asked(n, circuits, ioids, rnd, runs):
    names = [f"PV{i}" for i in range(n)]
    batch = ReadBatch(names)
    parts = {}                        # ioid (per circuit) -> CircuitReads
    value_of = {}
    for c in range(circuits):
        positions = [p for p in range(n) if p % circuits == c]
        if not positions:
            continue
        kind, start = ioids
        if kind == "gaps":
            ids = [start + 2 * k for k in range(len(positions))]
        else:
            ids = [(start + k) & 0xFFFFFFFF for k in range(len(positions))]
        part = CircuitReads(batch, ids, positions)
        for ioid, position in zip(ids, positions):
            assert part.pv_for(ioid) == names[position]
            parts[(c, ioid)] = part
            value_of[(c, ioid)] = position * 1.5
    keys = list(parts)
    rnd.shuffle(keys)
    # replies: some alone, some in runs of one circuit's IOIDs (in any order)
    while keys:
        c, ioid = keys[0]
        same = [k for k in keys if k[0] == c][:rnd.randint(1, runs)]
        for k in same:
            keys.remove(k)
        if len(same) == 1:
            parts[same[0]].end(ioid, ReadNotifyResponse(
                data=[value_of[same[0]]], metadata=DBRMetadata(0, 0, (1, 2)),
                data_type=TIME_DOUBLE, data_count=1, ioid=ioid))
        else:
            ids = [k[1] for k in same]
            parts[same[0]].end_run(ids, _Run(ids, [value_of[k] for k in same]))
    assert batch.left == 0
    types, values = batch.scalar_values()
    assert values == [p * 1.5 for p in range(n)] and types == [TIME_DOUBLE] * n
    assert [r.data[0] for r in batch.all_replies()] == [p * 1.5 for p in range(n)]

