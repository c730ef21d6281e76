"""catools.wait_for and its condition language (parse_condition)."""
from __future__ import annotations

import threading
import time

import pytest

import catools
from catools import parse_condition


class _R:
    """Enough of a Reading for a condition: value and index."""

    def __init__(self, value, index=None):
        self.value = value
        self.index = index


@pytest.mark.parametrize("text, true, false", [
    (">5", [5.5, 6, "7"], [5, 4.9, "abc"]),
    (">=5", [5, 5.0, 6], [4.99]),
    ("<0", [-1, -0.1], [0, 1]),
    ("<=0", [0, -3], [0.001]),
    ("!=3", [2, 3.5, "x"], [3, 3.0, "3"]),
    ("==3", [3, 3.0, "3"], [2, "three"]),
    ("3", [3], [4]),
    ("=3", [3], [4]),
    ("==Open", ["Open"], ["Closed", "open"]),
    ("!=Open", ["Closed"], ["Open"]),
    ("1...2", [1, 1.5, 2], [0.99, 2.01]),
    ("2...1", [1, 2], [3]),
    ("!1...2", [0, 3], [1, 1.5, 2]),
    ("-2...-1", [-1.5], [0]),
    (">1e3", [1001], [999]),
])
def test_conditions(text, true, false):
    condition = parse_condition(text)
    assert condition.text == text
    for value in true:
        assert condition(_R(value)), (text, value)
    for value in false:
        assert not condition(_R(value)), (text, value)


def test_enums_compare_by_label_or_by_index_and_arrays_by_their_first_element():
    assert parse_condition("==Open")(_R("Open", 1))
    assert parse_condition("==1")(_R("Open", 1))
    assert parse_condition(">0")(_R("Open", 1))
    assert not parse_condition("==0")(_R("Open", 1))
    assert parse_condition(">2")(_R([3, 0, 0]))
    assert not parse_condition(">2")(_R([]))


@pytest.mark.parametrize("bad", ["", ">", ">=abc", "<open", "1...", "...2", "a...b",
                                 "!...", None, 5])
def test_bad_conditions_are_value_errors(bad):
    with pytest.raises(ValueError):
        parse_condition(bad)


def test_wait_for_returns_the_reading_that_met_the_condition(ctx):
    catools.put("TST:long", 1, wait=True, context=ctx)
    timer = threading.Timer(0.3, lambda: [catools.put("TST:long", v, wait=True, context=ctx)
                                          for v in (3, 7, 9)])
    timer.start()
    try:
        reading = catools.wait_for("TST:long", ">5", timeout=5.0, context=ctx)
    finally:
        timer.join()
    assert reading.name == "TST:long" and reading.value == 7
    now = catools.wait_for("TST:long", lambda r: r.value == 9, timeout=5.0, context=ctx)
    assert now.value == 9                   # met already: the current value


def test_wait_for_an_enum_label(ctx):
    catools.put("TST:mbbo", "Off", wait=True, context=ctx)
    threading.Timer(0.2, lambda: catools.put("TST:mbbo", "Standby", context=ctx)).start()
    assert catools.wait_for("TST:mbbo", "==Standby", timeout=5.0, context=ctx).index == 2


def test_wait_for_times_out_naming_the_pv_and_the_condition(ctx):
    catools.put("TST:long", 1, wait=True, context=ctx)
    start = time.monotonic()
    with pytest.raises(catools.Timeout) as info:
        catools.wait_for("TST:long", "1000...2000", timeout=0.5, context=ctx)
    assert 0.5 <= time.monotonic() - start < 2.0
    assert info.value.name == "TST:long"
    assert "1000...2000" in str(info.value) and "1" in str(info.value)
    with pytest.raises(catools.Timeout, match="no value was read"):
        catools.wait_for("LIB:nowhere", ">0", timeout=0.3, context=ctx)
    for bad in (float("nan"), -1):
        with pytest.raises(ValueError):
            catools.wait_for("TST:long", ">0", timeout=bad, context=ctx)
