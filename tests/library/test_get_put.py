"""catools.get / put / info against a real softIoc (tests/data/records.db)."""
from __future__ import annotations

import json
import math
import time

import pytest

import catools
from catools import AccessDenied, NotFound, Reading, RemoteError, Result



def test_one_name_gives_one_reading_and_a_list_gives_a_list(ctx):
    one = catools.get("TST:ai", context=ctx)
    assert isinstance(one, Reading) and one.name == "TST:ai"
    assert one.value == pytest.approx(3.14159265)
    many = catools.get(["TST:long", "TST:ai", "TST:long"], context=ctx)
    assert [r.name for r in many] == ["TST:long", "TST:ai", "TST:long"]
    assert [r.value for r in many] == [42, pytest.approx(3.14159265), 42]
    assert catools.get([], context=ctx) == []
    assert catools.get(("TST:long",), context=ctx)[0].value == 42


def test_100_pvs_with_3_missing_read_under_one_timeout(context_for, softioc):
    records = "".join(f'record(ao, "LIB:N{i:03d}") {{ field(VAL, "{i}") field(PINI, "YES") }}\n'
                      for i in range(97))
    ioc = softioc(records=records)
    names = [f"LIB:N{i:03d}" for i in range(97)]
    for position, missing in ((0, "LIB:missing:a"), (50, "LIB:missing:b"),
                              (99, "LIB:missing:c")):
        names.insert(position, missing)
    timeout = 1.0
    with context_for(ioc) as ctx:
        start = time.monotonic()
        results = catools.get(names, timeout=timeout, throw=False, context=ctx)
        elapsed = time.monotonic() - start
    assert elapsed < timeout + 1.0, elapsed          # (missing names do not add up)
    assert [r.name for r in results] == names
    failed = [r for r in results if not r.ok]
    assert [r.name for r in failed] == ["LIB:missing:a", "LIB:missing:b", "LIB:missing:c"]
    for result in failed:
        assert type(result) is Result and isinstance(result.error, NotFound)
        assert result.error.name == result.name and result.error_kind == "not_found"
    readings = [r for r in results if r.ok]
    assert len(readings) == 97
    assert [r.value for r in readings] == [float(i) for i in range(97)]


def test_throw_raises_the_first_failure_in_order(ctx):
    with pytest.raises(NotFound) as info:
        catools.get(["TST:ai", "LIB:nope:1", "LIB:nope:2"], timeout=0.3, context=ctx)
    assert info.value.name == "LIB:nope:1"
    assert isinstance(info.value, ConnectionError)       # (a built-in kind too)


def test_names_not_found_are_released(ctx):
    catools.get(["TST:ai", "LIB:gone"], timeout=0.3, throw=False, context=ctx)
    status = ctx.status()
    assert status.unconnected == []
    assert status.connected == ["TST:ai"]
    ctx.release("TST:ai")
    assert ctx.status().connected == []
    assert catools.get("TST:ai", context=ctx).ok          # (a new channel)


def test_enums_units_and_strings_are_str(ctx):
    mbbi = catools.get("TST:mbbi", context=ctx)
    assert mbbi.value == "Two" and mbbi.index == 2 and int(mbbi) == 2
    assert catools.get("TST:bo", context=ctx).value == "Closed"
    ctrl = catools.get("TST:mbbo", format="ctrl", context=ctx)
    assert ctrl.value == "On" and ctrl.enum_strings == ["Off", "On", "Standby", "Fault State"]
    plain = catools.get("TST:mbbo", format="plain", context=ctx)
    assert plain.value == "On" and plain.timestamp is None and plain.severity is None
    ai = catools.get("TST:ai", format="ctrl", context=ctx)
    assert ai.units == "mm" and isinstance(ai.units, str) and ai.precision == 3
    assert ai.limits.upper_alarm == 80 and ai.limits.lower_disp == -100
    assert catools.get("TST:str", context=ctx).value == "hello world"
    assert catools.get("TST:wfs", context=ctx).value == ["alpha", "beta gamma", "delta", ""]
    alarm = catools.get("TST:alarm", format="status", context=ctx)
    assert alarm.severity == 2 and alarm.severity.name == "MAJOR_ALARM"
    assert alarm.status == 3 and alarm.status.name == "HIHI"


def test_data_type_spellings(ctx):
    assert catools.get("TST:long", data_type=str, context=ctx).value == "42"
    assert catools.get("TST:long", data_type=float, context=ctx).value == 42.0
    assert catools.get("TST:ai", data_type=int, context=ctx).value == 3
    for spelling in ("DBR_TIME_DOUBLE", "TIME_DOUBLE", "time_double", "double", 20):
        reading = catools.get("TST:long", data_type=spelling, context=ctx)
        assert reading.value == 42.0 and reading.data_type == 20, spelling
    assert catools.get("TST:long", data_type="double", format="plain",
                       context=ctx).data_type == 6
    assert catools.get("TST:long", data_type="time", context=ctx).data_type == 19
    assert catools.get("TST:wfl", count=2, context=ctx).value == [1, -2]


@pytest.mark.parametrize("bad", [math.nan, -1, -0.001, "1", None, True])
def test_bad_timeouts_are_value_errors(ctx, bad):
    with pytest.raises(ValueError, match="timeout"):
        catools.get("TST:ai", timeout=bad, context=ctx)
    with pytest.raises(ValueError, match="timeout"):
        catools.put("TST:ao", 1, timeout=bad, context=ctx)
    with pytest.raises(ValueError, match="timeout"):
        catools.info("TST:ai", timeout=bad, context=ctx)


def test_bad_format_and_data_type_list_the_valid_ones(ctx):
    with pytest.raises(ValueError) as info:
        catools.get("TST:ai", format="fancy", context=ctx)
    for valid in ("'plain'", "'native'", "'status'", "'time'", "'graphic'", "'ctrl'",
                  "'control'"):
        assert valid in str(info.value)
    for bad in ("DBR_TIME_QUUX", "quux", 39, -1, list, 2.5):
        with pytest.raises(ValueError) as info:
            catools.get("TST:ai", data_type=bad, context=ctx)
        message = str(info.value)
        assert "DBR_TIME_DOUBLE" in message and "double" in message and "0..38" in message


@pytest.mark.parametrize("bad", ["", "a\0b", "x" * 1008, b"TST:ai", 5, None, ["TST:ai", 3],
                                 {"TST:ai": 1}])
def test_bad_names_are_value_errors(ctx, bad):
    with pytest.raises(ValueError):
        catools.get(bad, context=ctx)
    with pytest.raises(ValueError):
        catools.info(bad, context=ctx)


def test_bad_counts_and_put_shapes_are_value_errors(ctx):
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ValueError, match="count"):
            catools.get("TST:wfl", count=bad, context=ctx)
    with pytest.raises(ValueError):
        catools.put("TST:ao", context=ctx)                    # no value
    with pytest.raises(ValueError):
        catools.put(["TST:ao", "TST:long"], [1], context=ctx)
    with pytest.raises(ValueError):
        catools.put({"TST:ao": 1}, 2, context=ctx)
    for bad in (None, object(), [], [1, "a"]):
        with pytest.raises(ValueError):
            catools.put("TST:ao", bad, context=ctx)
    with pytest.raises(ValueError):
        catools.put("TST:ao", 1, data_type="time", context=ctx)


def test_put_one_many_and_a_mapping(ctx):
    result = catools.put("TST:ao", 2.25, context=ctx)
    assert result.ok and result.name == "TST:ao"
    assert catools.get("TST:ao", context=ctx).value == 2.25
    results = catools.put(["TST:ao", "TST:long"], [3.5, 7], wait=True, context=ctx)
    assert [r.ok for r in results] == [True, True]
    assert [r.value for r in catools.get(["TST:ao", "TST:long"], context=ctx)] == [3.5, 7]
    catools.put({"TST:str": "written", "TST:mbbo": "Standby"}, wait=True, context=ctx)
    assert catools.get("TST:str", context=ctx).value == "written"
    mbbo = catools.get("TST:mbbo", context=ctx)
    assert mbbo.value == "Standby" and mbbo.index == 2
    catools.put("TST:mbbo", 1, wait=True, context=ctx)
    assert catools.get("TST:mbbo", context=ctx).value == "On"
    catools.put("TST:wfd", [1.5, 2.5, 3.5], wait=True, context=ctx)
    assert catools.get("TST:wfd", count=3, context=ctx).value == [1.5, 2.5, 3.5]
    catools.put("TST:long", 12.0, data_type=int, wait=True, context=ctx)
    assert catools.get("TST:long", context=ctx).value == 12
    catools.put("TST:wfc", "text in a char array", wait=True, context=ctx)
    assert bytes(catools.get("TST:wfc", count=20, context=ctx).data) == b"text in a char array"


def test_a_put_with_wait_returns_after_the_record_processed(ctx):
    start = time.monotonic()
    catools.put("TST:busy", 1, wait=True, timeout=10, context=ctx)
    assert time.monotonic() - start > 2.0            # TST:dly holds the callback ~3 s
    with pytest.raises(catools.Timeout) as info:
        catools.put("TST:busy", 2, wait=True, timeout=0.5, context=ctx)
    assert info.value.name == "TST:busy"


def test_rejected_puts_raise_naming_the_pv(ctx):
    with pytest.raises(AccessDenied) as info:
        catools.put("TST:ro", 1, context=ctx)
    assert info.value.name == "TST:ro" and isinstance(info.value, PermissionError)
    with pytest.raises(RemoteError) as info:
        catools.put("TST:disp", 5, context=ctx)
    assert info.value.name == "TST:disp"
    with pytest.raises(RemoteError) as info:
        catools.put("TST:wfd", list(range(11)), context=ctx)     # NELM 10
    assert info.value.name == "TST:wfd" and info.value.status.name == "ECA_BADCOUNT"
    results = catools.put(["TST:ro", "TST:ao", "LIB:nope"], [1, 1.0, 1], throw=False,
                          timeout=0.3, context=ctx)
    assert [r.ok for r in results] == [False, True, False]
    assert isinstance(results[0].error, AccessDenied)
    assert isinstance(results[2].error, NotFound) and results[2].name == "LIB:nope"


def test_info(ctx, module_ioc):
    info = catools.info("TST:ro", context=ctx)
    assert info.name == "TST:ro" and info.read_access and not info.write_access
    assert info.native_type == 6 and info.native_count == 1
    assert info.server == ("127.0.0.1", module_ioc.port)
    assert "DBF_DOUBLE" in str(info)
    many = catools.info(["TST:wfl", "LIB:nope"], throw=False, timeout=0.3, context=ctx)
    assert many[0].native_count == 8 and not many[1].ok


def test_a_client_context_is_driven_on_the_callers_thread(module_ioc):
    from catools.client import Context as ClientContext
    from catools.config import ClientConfig
    with ClientContext(ClientConfig.from_env(module_ioc.env)) as client:
        assert catools.get("TST:mbbi", context=client).value == "Two"
        catools.put("TST:ao", 4.5, wait=True, context=client)
        assert catools.get(["TST:ao"], context=client)[0].value == 4.5


def test_a_closed_context_refuses(context_for, module_ioc):
    ctx = context_for(module_ioc)
    assert catools.get("TST:ai", context=ctx).ok
    ctx.close()
    ctx.close()
    with pytest.raises(catools.CAError, match="closed"):
        catools.get("TST:ai", context=ctx)


def test_arguments_override_the_environment(module_ioc, monkeypatch):
    monkeypatch.setenv("EPICS_CA_ADDR_LIST", "127.0.0.9")
    monkeypatch.setenv("EPICS_CA_SERVER_PORT", "1")
    with catools.Context(server_port=module_ioc.port, addr_list="127.0.0.1",
                         auto_addr_list=False, max_array_bytes=100000) as ctx:
        assert ctx.config.addr_list == [("127.0.0.1", module_ioc.port)]
        assert ctx.config.max_array_bytes == 100000
        assert catools.get("TST:ai", context=ctx).ok
    for bad in ({"server_port": 0}, {"addr_list": 5}, {"addr_list": ["host:99999"]},
                {"max_array_bytes": -1}):
        with pytest.raises(ValueError):
            catools.Context(**bad)


def test_format_full_gives_value_alarm_time_and_metadata_in_one_reading(ctx):
    ai, mbbo = catools.get(["TST:ai", "TST:mbbo"], format="full", context=ctx)
    assert ai.value == pytest.approx(3.14159265) and ai.units == "mm"
    assert ai.precision == 3 and ai.limits.upper_alarm == 80
    assert ai.timestamp is not None and ai.severity is not None     # and TIME's members
    assert mbbo.value == "On" and mbbo.enum_strings[:2] == ["Off", "On"]
    assert mbbo.timestamp is not None
    record = json.loads(ai.to_json())
    assert record["units"] == "mm" and "epoch" in record and "client_epoch" in record
