"""The blocking client against real softIocs: search, name servers, duplicates,
reconnects, monitors of many PVs, configuration errors."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import epics_env
from catools.client import ChannelNotFoundError, Context
from catools import search_datagrams
from catools.config import ClientConfig, ConfigError
from catools.protocol import CLIENT, MAX_UDP_SEND, SearchRequest, read_datagram


def _config(env: dict[str, str], **overrides: str) -> ClientConfig:
    merged = dict(env)
    merged.update(overrides)
    return ClientConfig.from_env(merged)


def _many_records(n: int, prefix: str = "MANY") -> str:
    return "".join(f'record(ai, "{prefix}:{i:05d}") {{ field(VAL, "{i}") }}\n'
                   for i in range(n))


# -- search batching (pure) ------------------------------------------------------

def test_search_datagrams_fill_1024_bytes_and_carry_every_name():
    names = [(i + 1, f"SOME:RATHER:LONG:PV:NAME:{i:05d}") for i in range(500)]
    datagrams = search_datagrams(names, sequence=7)
    seen = []
    for index, (datagram, ids) in enumerate(datagrams):
        assert len(datagram) <= MAX_UDP_SEND
        commands = read_datagram(datagram, CLIENT)
        assert commands[0].sequence_id == 7 + index          # one sequence per datagram
        searches = [c for c in commands if isinstance(c, SearchRequest)]
        assert [c.cid for c in searches] == ids
        seen.extend((c.cid, c.name) for c in searches)
    assert seen == names
    # as few datagrams as fit: the next name would not have fitted in any full one
    assert len(datagrams) == -(-500 // ((MAX_UDP_SEND - 16) // 48))


# -- configuration ---------------------------------------------------------------

@pytest.mark.parametrize("var, value", [("EPICS_CA_SERVER_PORT", "abc"),
                                        ("EPICS_CA_REPEATER_PORT", "70000"),
                                        ("EPICS_CA_CONN_TMO", "soon"),
                                        ("EPICS_CA_MAX_ARRAY_BYTES", "-5"),
                                        ("EPICS_CA_ADDR_LIST", "[::1:5064")])
def test_bad_environment_value_names_the_variable(var, value):
    with pytest.raises(ConfigError) as info:
        ClientConfig.from_env({var: value})
    assert str(info.value).startswith(var + ":")
    assert "\n" not in str(info.value)


def test_empty_address_list_with_auto_off_means_no_targets():
    config = ClientConfig.from_env({"EPICS_CA_AUTO_ADDR_LIST": "NO",
                                    "EPICS_CA_ADDR_LIST": ""})
    assert config.search_addresses(lambda: pytest.fail("must not look up interfaces")) == []
    with Context(config) as ctx:
        assert ctx.search_targets == []
        pv = ctx.pv("ANY:PV")
        assert not ctx.wait_connected([pv], 0.2)


def test_libca_auto_addr_list_rule():
    # libca switches the automatic list off when the value contains "no" or "NO"
    assert not ClientConfig.from_env({"EPICS_CA_AUTO_ADDR_LIST": "NO"}).auto_addr_list
    assert not ClientConfig.from_env({"EPICS_CA_AUTO_ADDR_LIST": "no"}).auto_addr_list
    assert ClientConfig.from_env({"EPICS_CA_AUTO_ADDR_LIST": "YES"}).auto_addr_list
    assert ClientConfig.from_env({}).auto_addr_list


# -- against real IOCs -----------------------------------------------------------

def test_get_many_pvs_over_one_circuit(softioc, tmp_path):
    db = tmp_path / "many.db"
    db.write_text(_many_records(3000))
    ioc = softioc(db)
    with Context(_config(ioc.env)) as ctx:
        names = [f"MANY:{i:05d}" for i in range(3000)]
        pvs = ctx.pvs_for(names)
        assert ctx.wait_connected(pvs, 10.0)
        assert len(ctx.circuits) == 1                  # every channel shares the circuit
        ops = [ctx.read(pv) for pv in pvs]
        assert ctx.wait(ops, 10.0)
        assert [op.result.data[0] for op in ops] == [float(i) for i in range(3000)]


def test_search_over_tcp_name_server(shared_ioc):
    config = _config(shared_ioc.env, EPICS_CA_ADDR_LIST="",
                     EPICS_CA_NAME_SERVERS=f"127.0.0.1:{shared_ioc.port}")
    assert config.search_addresses(lambda: []) == []
    with Context(config) as ctx:
        assert ctx.search_targets == []
        pv = ctx.pv("TST:ai")
        assert ctx.wait_connected([pv], 3.0)
        op = ctx.read(pv)
        assert ctx.wait([op], 2.0)
        assert op.result.data[0] == pytest.approx(3.14159265)


def test_pv_on_two_servers_gets_libca_warning(softioc, tmp_path):
    db = tmp_path / "dup.db"
    db.write_text('record(ao, "DUP:X") { field(VAL, "1") }\n')
    first = softioc(db)
    second = softioc(db)
    warnings: list[tuple[str, str]] = []
    env = dict(first.env)
    env["EPICS_CA_ADDR_LIST"] = f"127.0.0.1:{first.port} 127.0.0.1:{second.port}"
    with Context(ClientConfig.from_env(env),
                 on_warning=lambda m, c: warnings.append((m, c))) as ctx:
        pv = ctx.pv("DUP:X")
        assert ctx.wait_connected([pv], 3.0)
        ctx.run_until(lambda: bool(warnings), 2.0)
    assert warnings, "no duplicate warning"
    message, context = warnings[0]
    assert message == "Identical process variable names on multiple servers"
    assert 'Channel: "DUP:X", Connecting to: ' in context and "Ignored: " in context


def test_missing_pv_raises_naming_it(shared_ioc):
    import catools
    ctx = Context(_config(shared_ioc.env))
    try:
        with pytest.raises(ChannelNotFoundError) as info:
            catools.get(["TST:ai", "TST:does-not-exist"], timeout=0.3, context=ctx)
        assert info.value.pv == "TST:does-not-exist"
    finally:
        ctx.close()


def test_monitor_resumes_within_a_second_of_the_ioc_answering(softioc):
    ioc = softioc()
    events: list[tuple[str, float]] = []
    with Context(_config(ioc.env)) as ctx:
        pv = ctx.pv("TST:ai")
        ctx.subscribe(pv, lambda sub, event, resp: events.append((event, time.monotonic())))
        assert ctx.run_until(lambda: any(e == "update" for e, _ in events), 3.0)
        ioc.stop_ioc()
        assert ctx.run_until(lambda: any(e == "disconnected" for e, _ in events), 5.0)
        ctx.run_until(lambda: False, 2.5)              # stay down long enough to back off
        ioc.start()                                    # returns once it answers searches
        answering = time.monotonic()
        assert ctx.run_until(lambda: events[-1][0] == "update"
                             and events[-1][1] > answering, 5.0)
        reconnected = next(t for e, t in events if e == "connected" and t > answering)
    assert reconnected - answering < 1.0


def test_pv_that_appears_later_is_picked_up(softioc, tmp_path):
    db = tmp_path / "late.db"
    db.write_text('record(ai, "LATE:PV") { field(VAL, "7") }\n')
    ioc = softioc(db, start=False)
    updates = []
    with Context(_config(ioc.env), listen_beacons=True) as ctx:
        pv = ctx.pv("LATE:PV")
        ctx.subscribe(pv, lambda sub, event, resp: updates.append(
            resp.data[0] if event == "update" else event))
        ctx.run_until(lambda: False, 1.5)
        assert not pv.connected
        ioc.start()
        assert ctx.run_until(lambda: 7.0 in updates, 10.0)


def test_ten_thousand_pvs_monitored_from_one_process(softioc, tmp_path):
    db = tmp_path / "tenk.db"
    db.write_text(_many_records(10000, "TENK"))
    names = tmp_path / "names.txt"
    names.write_text("".join(f"TENK:{i:05d}\n" for i in range(10000)))
    ioc = softioc(db)
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "camonitor"), "-w", "10", "--count", "10000",
         "--timeout", "60", "--file", str(names)],
        env=ioc.script_env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 10000
    # "TENK:00042                     <undefined> 42 UDF INVALID" (never processed)
    seen = {line.split()[0]: line.split()[2] for line in lines}
    assert len(seen) == 10000
    assert seen["TENK:09999"] == "9999" and seen["TENK:00042"] == "42"
    assert b"Traceback" not in proc.stderr


def test_one_dead_server_does_not_disturb_the_others(softioc, tmp_path):
    db_a = tmp_path / "a.db"
    db_a.write_text('record(calc, "A:TICK") { field(SCAN, ".1 second") '
                    'field(CALC, "VAL+1") }\n')
    db_b = tmp_path / "b.db"
    db_b.write_text('record(calc, "B:TICK") { field(SCAN, ".1 second") '
                    'field(CALC, "VAL+1") }\n')
    ioc_a, ioc_b = softioc(db_a), softioc(db_b)
    env = dict(ioc_a.env)
    env["EPICS_CA_ADDR_LIST"] = f"127.0.0.1:{ioc_a.port} 127.0.0.1:{ioc_b.port}"
    events: dict[str, list[str]] = {"A:TICK": [], "B:TICK": []}
    with Context(ClientConfig.from_env(env), on_warning=lambda m, c: None) as ctx:
        for name in events:
            ctx.subscribe(ctx.pv(name), lambda sub, event, resp, name=name:
                          events[name].append(event))
        assert ctx.run_until(lambda: all(e.count("update") >= 2 for e in events.values()),
                             5.0)
        ioc_a.stop_ioc()
        assert ctx.run_until(lambda: "disconnected" in events["A:TICK"], 5.0)
        before = events["B:TICK"].count("update")
        ctx.run_until(lambda: False, 1.0)
        assert events["B:TICK"].count("update") >= before + 5     # still 10 Hz
        assert "disconnected" not in events["B:TICK"]
        assert ctx.pv("B:TICK").connected and not ctx.pv("A:TICK").connected


def test_subscription_rebuilt_when_the_native_type_changes(softioc, tmp_path):
    db = tmp_path / "change.db"
    db.write_text('record(ai, "CHG:PV") { field(VAL, "2.5") field(PINI, "YES") }\n')
    ioc = softioc(db)
    updates: list[tuple[int, object]] = []
    with Context(_config(ioc.env)) as ctx:
        pv = ctx.pv("CHG:PV")
        ctx.subscribe(pv, lambda sub, event, resp: updates.append(
            (resp.data_type, resp.data[0])) if event == "update" else None,
            data_type="time")
        assert ctx.run_until(lambda: bool(updates), 3.0)
        assert updates[0] == (20, 2.5)                       # DBR_TIME_DOUBLE
        ioc.stop_ioc()
        db.write_text('record(stringin, "CHG:PV") { field(VAL, "now text") '
                      'field(PINI, "YES") }\n')
        ioc.start()
        assert ctx.run_until(lambda: updates[-1][0] == 14, 5.0)   # DBR_TIME_STRING
        assert updates[-1] == (14, b"now text")
        assert pv.native_type == 0


def test_a_server_announcing_a_huge_message_costs_a_circuit_not_memory():
    """A header that announces more than the bound ends the circuit at once, before any
    of the announced payload is buffered; the client carries on."""
    import socket as socketlib
    import threading

    from catools.protocol import (AccessRightsResponse, CreateChanResponse, SearchResponse,
                                  VersionResponse, pack_header, read_datagram)

    config = ClientConfig.from_env({"EPICS_CA_AUTO_ADDR_LIST": "NO"})
    assert config.max_payload_size == 256 * 1024 * 1024
    listener = socketlib.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    udp = socketlib.socket(socketlib.AF_INET, socketlib.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp_port = udp.getsockname()[1]

    def evil_server():
        data, client = udp.recvfrom(2048)
        search = [c for c in read_datagram(data, CLIENT) if isinstance(c, SearchRequest)][0]
        udp.sendto(bytes(VersionResponse(13)) + bytes(SearchResponse(
            port=port, ip="127.0.0.1", cid=search.cid, version=13)), client)
        conn, _ = listener.accept()
        conn.sendall(bytes(VersionResponse(13)))
        conn.recv(4096)                                   # version, names, create
        conn.sendall(bytes(AccessRightsResponse(cid=1, access_rights=3))
                     + bytes(CreateChanResponse(data_type=6, data_count=1, cid=1, sid=1)))
        conn.recv(4096)                                   # the read request
        # announce 4 GiB - 8 (extended header), send a little, then hold the line
        conn.sendall(pack_header(15, 0xFFFFFFF8, 6, 1, 1, 1) + b"\0" * 64)
        conn.recv(4096)
        conn.close()

    thread = threading.Thread(target=evil_server, daemon=True)
    thread.start()
    env = {"EPICS_CA_AUTO_ADDR_LIST": "NO", "EPICS_CA_ADDR_LIST": f"127.0.0.1:{udp_port}"}
    warnings = []
    try:
        with Context(ClientConfig.from_env(env), on_warning=lambda m, c: warnings.append(m)) as ctx:
            pv = ctx.pv("EVIL:PV")
            assert ctx.wait_connected([pv], 3.0)
            op = ctx.read(pv)
            assert ctx.wait([op], 3.0)
            assert op.error is not None and not pv.connected
            buffered = sum(c.core.buffered for c in ctx.circuits.values())
            assert buffered < 1 << 20
        assert warnings and "protocol error" in warnings[0]
    finally:
        listener.close()
        udp.close()


@pytest.mark.parametrize("name", ["", "a\0b", "x" * 1008, "é" * 504, "a" * 70000])
def test_a_name_libca_refuses_is_a_clear_error(name):
    with Context(ClientConfig.from_env(epics_env.loopback_vars())) as ctx:
        with pytest.raises(ValueError, match="invalid PV name"):
            ctx.pv(name)
        assert ctx.pv("y" * 1007).name == "y" * 1007     # the longest name allowed
