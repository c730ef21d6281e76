"""The client's operations (GetMany, Put, Subscribe, Connect) against a real softIoc:
the C tools' request policy, decided once in the client."""
from __future__ import annotations

import time

import pytest

from catools.client import (Connect, Context, GetMany, Put, Subscribe, python_value,
                            request_type, run)
from catools.config import ClientConfig
from catools.errors import AccessDenied, NotFound, RemoteError
from catools.protocol import CAStatus
from catools.results import ChannelInfo, Reading


@pytest.fixture
def ctx(module_ioc):
    config = ClientConfig(addr_list=[("127.0.0.1", module_ioc.port)], auto_addr_list=False,
                          server_port=module_ioc.port,
                          repeater_port=module_ioc.repeater_port)
    with Context(config, on_warning=lambda *a: None) as context:
        yield context


def test_get_many_answers_in_order_with_failures_in_place(ctx):
    names = ["TST:ai", "TST:missing:1", "TST:mbbi", "TST:ai", "TST:str"]
    op = run(ctx, GetMany(names, data_type=request_type, timeout=0.5))
    assert [r.name for r in op.results] == names
    assert [r.ok for r in op.results] == [True, False, True, True, True]
    assert isinstance(op.results[1].error, NotFound)
    assert op.results[1].error_kind == "not_found"
    assert op.results[0].value == pytest.approx(3.14159265)
    assert op.results[2].value == "Two"          # an enum read as DBR_TIME_STRING
    assert op.results[3] is op.results[0]        # a name given twice is read once


def test_get_many_zero_fills_to_the_count_asked_for(ctx):
    # TST:wfl holds NORD < NELM elements: libca's fixed-count read pads with zeros
    native = run(ctx, Connect(["TST:wfl"])).results[0]
    fixed = run(ctx, GetMany(["TST:wfl"], data_type="native", zero_fill=True)).results[0]
    dynamic = run(ctx, GetMany(["TST:wfl"], data_type="native", dynamic=True)).results[0]
    assert fixed.count == native.native_count
    assert 0 < dynamic.count < fixed.count
    assert list(fixed.data[dynamic.count:]) == [0] * (fixed.count - dynamic.count)
    assert list(fixed.data[:dynamic.count]) == list(dynamic.data)


def test_get_many_says_what_it_asked_for_each_name(ctx):
    op = run(ctx, GetMany(["TST:mbbi", "TST:missing:5", "TST:wfl"], data_type=request_type,
                          count=3, timeout=0.3))
    enum, missing, wave = op.requests
    assert missing is None
    assert (enum.data_type, enum.count, enum.native_type) == (14, 1, 3)   # TIME_STRING
    assert (wave.data_type, wave.count, wave.native_type) == (19, 3, 5)   # TIME_LONG


def test_get_many_with_read_grace_has_one_deadline(ctx):
    run(ctx, GetMany(["TST:ai"]))                  # connected already: reads at once
    started = time.monotonic()
    op = run(ctx, GetMany(["TST:ai", "TST:missing:6"], timeout=0.4, read_grace=0.2))
    elapsed = time.monotonic() - started
    assert [r.ok for r in op.results] == [True, False]
    assert elapsed < 0.4 + 0.2 + 0.5               # not a second full timeout for reads


BIG_DB = """
record(ai, "BIG:ai") { field(VAL, "1") }
record(waveform, "BIG:wf") { field(FTVL, "DOUBLE") field(NELM, "5000") }
"""


def test_get_many_refuses_a_read_too_large_for_the_message_bound(softioc):
    ioc = softioc(records=BIG_DB)
    config = ClientConfig(addr_list=[("127.0.0.1", ioc.port)], auto_addr_list=False,
                          server_port=ioc.port, max_array_bytes=16384,
                          auto_array_bytes=False)
    with Context(config, on_warning=lambda *a: None) as ctx:
        op = run(ctx, GetMany(["BIG:ai", "BIG:wf"], data_type="native"))
        small = run(ctx, GetMany(["BIG:wf"], data_type="native", count=100)).results[0]
    good, big = op.results
    assert good.ok
    assert isinstance(big.error, RemoteError)
    assert big.error.status == CAStatus.ECA_TOLARGE
    assert small.ok and small.count == 100


def test_get_many_with_labels_gives_enum_labels_for_time_reads(ctx):
    labels: dict[str, list[str]] = {}
    reading = run(ctx, GetMany(["TST:mbbi"], data_type="time", labels=labels)).results[0]
    assert isinstance(reading, Reading)
    assert reading.index == 2
    assert reading.value == "Two"
    assert labels["TST:mbbi"][:3] == ["Zero", "One", "Two"]


def test_put_reads_old_and_new_around_the_write(ctx):
    op = run(ctx, Put([("TST:ao", python_value(4.25))], wait=True, read_old=True,
                      read_new=True))
    result = op.results[0]
    assert result.ok, result.error
    assert result.new.value == 4.25
    again = run(ctx, Put([("TST:ao", python_value(1.5))], read_old=True, read_new=True))
    assert again.results[0].ok
    assert again.results[0].old.value == 4.25


def test_put_refuses_more_elements_than_the_channel_holds(ctx):
    op = run(ctx, Put([("TST:ao", python_value([1.0, 2.0]))], wait=True))
    error = op.results[0].error
    assert isinstance(error, RemoteError)
    assert error.status == CAStatus.ECA_BADCOUNT
    assert op.results[0].stage == "check"         # refused before anything was sent
    assert error.refused


def test_put_without_write_access_is_refused_before_sending(ctx):
    op = run(ctx, Put([("TST:ro", python_value(2.0))], wait=True))
    error = op.results[0].error
    assert isinstance(error, AccessDenied)
    assert error.kind == "no_write_access"


def test_put_to_a_missing_pv_stops_at_connect(ctx):
    op = run(ctx, Put([("TST:missing:2", python_value(1))], timeout=0.3))
    assert isinstance(op.results[0].error, NotFound)
    assert op.results[0].stage == "connect"


def test_subscribe_reports_updates_and_a_pv_never_found(ctx):
    events: list[tuple[str, str]] = []
    op = Subscribe(["TST:ai", "TST:missing:3"], lambda name, kind, reply, pv:
                   events.append((name, kind)), not_found_after=0.3)
    run(ctx, op, until=time.monotonic() + 0.8)
    op.stop()
    assert ("TST:ai", "connected") in events
    assert ("TST:ai", "update") in events
    assert events.count(("TST:missing:3", "not_found")) == 1
    assert op.done


def test_connect_gives_channel_info(ctx):
    info, missing = run(ctx, Connect(["TST:ro", "TST:missing:4"], timeout=0.3)).results
    assert isinstance(info, ChannelInfo)
    assert info.read_access and not info.write_access
    assert info.type_name == "DBF_DOUBLE"
    assert "    Access:           read, no write\n" in str(info)
    assert isinstance(missing.error, NotFound)


@pytest.mark.parametrize("bad", [float("nan"), -1.0, "1"])
def test_a_bad_timeout_is_a_value_error(bad):
    with pytest.raises(ValueError, match="timeout"):
        GetMany(["x"], timeout=bad)
