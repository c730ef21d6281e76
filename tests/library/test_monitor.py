"""catools.monitor against a real softIoc: events, reconnects, callbacks, bounds."""
from __future__ import annotations

import threading
import time

import pytest

import catools
from catools import Connected, ConnectionLost, Reading



def _next(m, timeout=5.0):
    event = m.next_event(timeout)
    assert event is not None, "no event in time"
    return event


def test_iteration_gives_connected_then_the_value_then_updates(ctx):
    catools.put("TST:long", 100, wait=True, context=ctx)
    with catools.monitor(["TST:long", "TST:mbbo"], context=ctx, timeout=0.5) as m:
        first = [_next(m) for _ in range(4)]
        assert sorted(map(repr, [e for e in first if not isinstance(e, Reading)])) == \
            [repr(Connected("TST:long")), repr(Connected("TST:mbbo"))]
        values = {e.name: e.value for e in first if isinstance(e, Reading)}
        assert values["TST:long"] == 100 and isinstance(values["TST:mbbo"], str)
        catools.put("TST:long", 101, context=ctx)
        update = _next(m)
        assert update.name == "TST:long" and update.value == 101 and update.merged == 0
        assert update.timestamp is not None       # format="time"
        assert list(m) == []                      # then 0.5 s without events: the end
    assert m.closed and m.next_event(0.1) is None


def test_enum_updates_carry_their_label(ctx):
    catools.put("TST:mbbo", "Off", wait=True, context=ctx)
    with catools.monitor("TST:mbbo", context=ctx) as m:
        assert _next(m) == Connected("TST:mbbo")
        assert _next(m).value == "Off"
        catools.put("TST:mbbo", 3, context=ctx)
        event = _next(m)
        assert event.value == "Fault State" and event.index == 3


def test_the_ioc_restarted_under_a_monitor(context_for, softioc):
    ioc = softioc()
    with context_for(ioc) as ctx, catools.monitor("TST:ai", context=ctx) as m:
        assert _next(m) == Connected("TST:ai")
        assert isinstance(_next(m), Reading)
        ioc.stop_ioc()
        assert _next(m, 10.0) == ConnectionLost("TST:ai")
        time.sleep(1.0)
        ioc.start()                          # returns once the IOC answers a search
        ready = time.monotonic()
        assert _next(m, 5.0) == Connected("TST:ai")
        update = _next(m, 5.0)
        arrived = time.monotonic()
        assert isinstance(update, Reading) and update.value == pytest.approx(3.14159265)
        assert arrived - ready < 1.0, arrived - ready
        catools.put("TST:ai", 1.25, context=ctx)
        assert _next(m).value == 1.25


def test_a_put_inside_a_callback_works_and_keeps_the_order(ctx):
    catools.put("TST:long", 0, wait=True, context=ctx)
    seen: list[int] = []
    done = threading.Event()
    threads = set()

    def on_event(event):
        threads.add(threading.current_thread().name)
        if not isinstance(event, Reading):
            return
        seen.append(event.value)
        if event.value < 20:
            catools.put("TST:long", event.value + 1, wait=True, context=ctx)
            assert catools.get("TST:long", context=ctx).value >= event.value + 1
        else:
            done.set()

    with catools.monitor("TST:long", callback=on_event, context=ctx) as m:
        assert done.wait(20.0)
        with pytest.raises(TypeError):
            iter(m)
    assert seen == list(range(21))
    assert threads == {"catools-monitor"}


def test_latest_gives_a_slow_consumer_the_newest_value_and_a_count(ctx):
    catools.put("TST:long", 0, wait=True, context=ctx)
    with catools.monitor("TST:long", latest=True, context=ctx) as m:
        assert _next(m) == Connected("TST:long")
        for value in range(1, 51):
            catools.put("TST:long", value, wait=True, context=ctx)
        catools.get("TST:long", context=ctx)      # (a round trip after the last update)
        time.sleep(0.2)
        event = _next(m)
        assert event.value == 50 and 1 <= event.merged <= 50
        assert m.next_event(0.2) is None          # one event held per PV, no more
        assert m.dropped == 0


def test_without_latest_the_queue_is_bounded_and_drops_the_oldest(ctx):
    catools.put("TST:long", 0, wait=True, context=ctx)
    with catools.monitor("TST:long", queue_size=5, context=ctx) as m:
        time.sleep(0.3)
        for value in range(1, 31):
            catools.put("TST:long", value, wait=True, context=ctx)
        catools.get("TST:long", context=ctx)
        time.sleep(0.2)
        events = []
        while (event := m.next_event(0.2)) is not None:
            events.append(event)
        assert len(events) == 5 and m.dropped >= 26 - 5
        assert events[-1].value == 30
        values = [e.value for e in events]
        assert values == sorted(values)


def test_leaving_a_monitor_releases_the_channels_it_made(ctx):
    catools.get("TST:ai", context=ctx)                # cached: kept after the monitor
    with catools.monitor(["TST:ai", "TST:str", "LIB:never"], context=ctx) as m:
        assert _next(m).name in ("TST:ai", "TST:str")
    assert ctx.status().connected == ["TST:ai"]
    assert ctx.status().unconnected == []


def test_closing_the_context_ends_its_monitors(context_for, module_ioc):
    ctx = context_for(module_ioc)
    m = catools.monitor("TST:ai", context=ctx)
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(m))
    reader.start()
    time.sleep(0.3)
    ctx.close()
    reader.join(5.0)
    assert not reader.is_alive() and m.closed
    assert got[0] == Connected("TST:ai")


@pytest.mark.parametrize("bad", ["", "vx", "value", 0, 16, None, True])
def test_bad_masks_are_value_errors(ctx, bad):
    with pytest.raises(ValueError, match="v \\(value\\), a \\(alarm\\)"):
        catools.monitor("TST:ai", mask=bad, context=ctx)


def test_masks_select_the_events(ctx):
    catools.put("TST:ao", 1.0, wait=True, context=ctx)
    with catools.monitor("TST:ao", mask="a", context=ctx) as alarms, \
            catools.monitor("TST:ao", mask="v", context=ctx) as values:
        for m in (alarms, values):
            assert _next(m) == Connected("TST:ao")
            assert _next(m).value == 1.0
        catools.put("TST:ao", 2.0, wait=True, context=ctx)     # no alarm change
        assert _next(values).value == 2.0
        assert alarms.next_event(0.3) is None
        catools.put("TST:ao", 9.5, wait=True, context=ctx)     # HIHI 9: MAJOR
        assert _next(alarms).severity == 2
        assert _next(values).value == 9.5
