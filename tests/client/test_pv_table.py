"""The client's per-PV bookkeeping kept small: Context.pvs (a PVTable: by (name,
priority), priority 0 kept by name alone) and the Subscriptions that share one
SubscriptionSpec."""
from __future__ import annotations

from catools.client._pv import PVTable, Subscription, SubscriptionSpec


class _PV:
    def __init__(self, name: str) -> None:
        self.name = name
        self.circuit = None


def test_the_table_is_a_mapping_by_name_and_priority():
    table = PVTable()
    a, b, c = _PV("A"), _PV("B"), _PV("A")
    table[("A", 0)] = a
    table[("B", 0)] = b
    table[("A", 3)] = c
    assert set(table) == {("A", 0), ("B", 0), ("A", 3)} and len(table) == 3
    assert table[("A", 0)] is a and table[("A", 3)] is c and table.get(("B", 1)) is None
    assert ("B", 0) in table and ("B", 3) not in table
    assert dict(table.items()) == {("A", 0): a, ("B", 0): b, ("A", 3): c}
    assert list(table.values()) == [a, b, c]
    assert table.names == {"A": a, "B": b} and table.others == {("A", 3): c}
    del table[("A", 0)]
    del table[("A", 3)]
    assert table == {("B", 0): b}
    assert table.pop(("B", 0)) is b and table == {} and not table


def test_subscriptions_share_a_spec_until_one_is_changed():
    spec = SubscriptionSpec(print, "time", 0, 5)
    first, second = Subscription(_PV("A"), spec=spec), Subscription(_PV("B"), spec=spec)
    assert first.spec is second.spec
    assert (first.callback, first.requested_type, first.count, first.mask, first.batch) \
        == (print, "time", 0, 5, None)
    first.mask = 1
    first.batch = len
    assert (first.mask, first.batch, first.callback) == (1, len, print)
    assert (second.mask, second.batch) == (5, None) and second.spec is spec
    alone = Subscription(_PV("C"), repr, 6, 2, 3)       # (the positional form)
    assert (alone.callback, alone.requested_type, alone.count, alone.mask) == (repr, 6, 2, 3)
    assert alone.data_type is None                      # (not subscribed)
