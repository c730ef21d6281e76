"""PV.many makes what PV() makes, slot by slot, and Context.pvs_for's bulk path gives
what its one-by-one path gives."""
from __future__ import annotations

from catools.client import Context
from catools.client._pv import PV


def _slots(pv):
    out = {}
    for cls in type(pv).__mro__:
        for name in getattr(cls, "__slots__", ()):
            out[name] = getattr(pv, name, "<unset>")
    return out


def test_many_is_the_constructor_each():
    with Context(on_warning=lambda *a: None) as ctx:
        made = PV.many(ctx, ["A", "B:C"], 3)
        one = [PV(ctx, "A", 3), PV(ctx, "B:C", 3)]
        assert [_slots(pv) for pv in made] == [_slots(pv) for pv in one]


def test_pvs_for_in_bulk_and_one_by_one_agree():
    names = [f"X:{i}" for i in range(50)]
    with Context(on_warning=lambda *a: None) as bulk, \
            Context(on_warning=lambda *a: None) as single:
        made = bulk.pvs_for(names)                  # (new, once each: the bulk path)
        each = [single.pvs_for([name])[0] for name in names]
        assert [_slots(pv) | {"context": None, "next_search": None, "search_ceiling": None}
                for pv in made] == \
            [_slots(pv) | {"context": None, "next_search": None, "search_ceiling": None}
             for pv in each]
        assert [bulk.pvs[(name, 0)] for name in names] == made
        assert bulk.pvs_for(names + names[:1]) == made + made[:1]   # (known: the loop)
