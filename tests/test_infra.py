"""Checks of the test infrastructure itself (fixtures, records.db, environment)."""

from __future__ import annotations

import os
import re
import socket
import time

import pytest

import epics_env
from epics_env import ACCESS_ACF, RECORDS_DB, SHARED_LOOPBACK_ENV


def record_names(db_text: str) -> list[str]:
    return re.findall(r'record\(\s*\w+\s*,\s*"([^"]+)"\s*\)', db_text)


def test_loopback_defaults_match_shared_file():
    if not SHARED_LOOPBACK_ENV.is_file():
        pytest.skip(f"{SHARED_LOOPBACK_ENV} not present (repo cloned without shared/)")
    assert epics_env.parse_env_file(SHARED_LOOPBACK_ENV) == epics_env.LOOPBACK_DEFAULTS


def test_make_env_is_sanitized(monkeypatch):
    monkeypatch.setenv("EPICS_CA_NAME_SERVERS", "10.0.0.1")
    monkeypatch.setenv("EPICS_CA_ADDR_LIST", "10.0.0.255")
    env = epics_env.make_env(23456, 23457)
    assert "EPICS_CA_NAME_SERVERS" not in env
    for key, value in epics_env.LOOPBACK_DEFAULTS.items():
        assert env[key] == value
    assert env["EPICS_CA_SERVER_PORT"] == "23456"
    assert env["EPICS_CA_REPEATER_PORT"] == "23457"
    path_dirs = env["PATH"].split(os.pathsep)
    assert str(epics_env.epics_bin_dir()) not in path_dirs
    assert str(epics_env.scripts_dir()) not in path_dirs
    for d in path_dirs:
        assert not os.path.exists(os.path.join(d, "caRepeater")), d
    script_env = epics_env.make_script_env(23456, 23457)
    assert script_env["PATH"].split(os.pathsep)[0] == str(epics_env.scripts_dir())


def test_script_env_finds_venv_console_scripts(script_runner):
    """pytest-console-scripts resolves commands with the PATH of the env it is given."""
    env = epics_env.make_script_env(23456, 23457)
    result = script_runner.run(["pip", "--version"], env=env)
    assert result.returncode == 0, result.stderr
    assert str(epics_env.scripts_dir().parent) in result.stdout


def test_free_ports_are_distinct_and_bindable():
    pairs = [epics_env.free_port_pair() for _ in range(5)]
    try:
        ports = [p for pair in pairs for p in pair]
        assert len(set(ports)) == len(ports)
        for port, rport in pairs:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", rport))
    finally:
        for p in ports:
            epics_env.release_port(p)


def test_epics_binaries_found(epics_bin):
    for name in epics_env.C_TOOLS:
        assert (epics_bin / name).is_file()
        assert os.access(epics_bin / name, os.X_OK)
    assert (epics_env.epics_dbd_dir() / "softIoc.dbd").is_file()


def test_caget_reads_expected_value(softioc):
    ioc = softioc(RECORDS_DB, acf=ACCESS_ACF)
    result = ioc.c_tool("caget", "TST:ai", "TST:str", "TST:mbbo")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        b"TST:ai                         3.14159\n"
        b"TST:str                        hello world\n"
        b"TST:mbbo                       On\n")
    assert result.stderr == b""


def test_every_record_loads_and_is_readable(shared_ioc):
    assert "Error" not in shared_ioc.log() and "error" not in shared_ioc.log()
    names = record_names(RECORDS_DB.read_text())
    assert len(names) >= 30
    # TST:wf:enum has no DBR_STRING conversion (libca reads ENUM natives as TIME_STRING),
    # and TST:noaccess cannot be read: both are checked separately.
    plain = [n for n in names if n not in ("TST:wf:enum", "TST:noaccess")]
    result = shared_ioc.c_tool("caget", *plain)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    lines = result.stdout.decode().splitlines()
    assert [line.split()[0] for line in lines] == plain
    enum_wf = shared_ioc.c_tool("caget", "-n", "TST:wf:enum")
    assert enum_wf.stdout == b"TST:wf:enum 8 0 1 2 3 0 0 0 0\n"


def test_shared_ioc_records(shared_ioc):
    result = shared_ioc.c_tool("caget", "-a", "TST:alarm", "TST:udf", "TST:noaccess", "-w", "0.5")
    out = result.stdout.decode().splitlines()
    assert out[0].endswith(" 95.5 HIHI MAJOR")
    assert out[1] == "TST:udf                        <undefined> 0 UDF INVALID"
    assert out[2].endswith("*** no read access")
    ro = shared_ioc.c_tool("cainfo", "TST:ro")
    assert b"Access:           read, no write" in ro.stdout
    wfs = shared_ioc.c_tool("caget", "-t", "-F", ",", "TST:wfs")
    assert wfs.stdout == b"4,alpha,beta gamma,delta,\n"


def test_calc_scans(shared_ioc):
    result = shared_ioc.c_tool("camonitor", "TST:calc", sigint_after=0.6)
    lines = result.stdout.decode().splitlines()
    assert len(lines) >= 3
    values = [int(line.split()[3]) for line in lines]
    assert all((b - a) % 1000 == 1 for a, b in zip(values, values[1:]))


def test_caput_then_caget(softioc):
    ioc = softioc(RECORDS_DB, acf=ACCESS_ACF)
    put = ioc.c_tool("caput", "TST:ao", "2.5")
    assert put.returncode == 0, put.stderr
    assert put.stdout.splitlines()[-1].split() == [b"New", b":", b"TST:ao", b"2.5"]
    assert ioc.c_tool("caget", "-t", "TST:ao").stdout == b"2.5\n"


def test_custom_records_and_macros(softioc):
    ioc = softioc(records='record(stringin, "$(P)greeting") { field(VAL, "hi there") }\n',
                  macros={"P": "X:"})
    assert ioc.probe_pv == "X:greeting"
    assert ioc.c_tool("caget", "-t", "X:greeting").stdout == b"hi there\n"


def test_restart_on_same_port(softioc):
    ioc = softioc(RECORDS_DB, acf=ACCESS_ACF)
    port, first_pid = ioc.port, ioc.pid
    assert ioc.c_tool("caput", "TST:long", "77").returncode == 0
    ioc.stop_ioc()
    assert not epics_env.pid_alive(first_pid)
    assert epics_env.udp_search(port, "TST:ai", timeout=0.3) is None
    failed = ioc.c_tool("caget", "-w", "0.3", "TST:long")
    assert failed.returncode == 1
    assert failed.stderr == b"Channel connect timed out: 'TST:long' not found.\n"
    ioc.restart()
    assert ioc.port == port and ioc.pid != first_pid
    assert epics_env.udp_search(port, "TST:ai") == port
    # a restart reloads the database: the put is gone
    assert ioc.c_tool("caget", "-t", "TST:long").stdout == b"42\n"


def test_processes_gone_after_teardown(softioc):
    ioc = softioc(RECORDS_DB)
    pids = [ioc.pid, ioc.repeater_pid]
    assert all(epics_env.pid_alive(p) for p in pids)
    ioc.close()
    assert epics_env.running_pids(pids) == []
    assert epics_env.running_pids(ioc.past_pids) == []


def test_fixture_teardown_after_failure(pytester, monkeypatch):
    """A failing test still gets its softIoc and caRepeater stopped."""
    monkeypatch.setenv("PYTHONPATH", str(epics_env.TESTS_DIR))
    conftest = (epics_env.TESTS_DIR / "conftest.py").read_text()
    pytester.makeconftest(conftest)
    pid_file = pytester.path / "pids.txt"
    pytester.makepyfile(test_fail=f"""
        def test_boom(softioc):
            ioc = softioc()
            open({str(pid_file)!r}, "w").write(f"{{ioc.pid}} {{ioc.repeater_pid}}")
            assert False, "deliberate"
        """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while epics_env.running_pids(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert epics_env.running_pids(pids) == []


def test_repeater_is_the_fixtures_own(softioc):
    ioc = softioc(RECORDS_DB)
    assert epics_env.repeater_confirms(ioc.repeater_port)
    assert ioc.env["EPICS_CA_REPEATER_PORT"] == str(ioc.repeater_port)
    assert ioc.env["EPICS_CA_SERVER_PORT"] == str(ioc.port)
    assert ioc.port not in (5064, 5065) and ioc.repeater_port not in (5064, 5065)


FRAMES_DIR = epics_env.DATA_DIR / "frames"


def test_golden_frames_are_well_formed():
    files = sorted(FRAMES_DIR.glob("*.hex"))
    assert len(files) >= 20
    for path in files:
        frames = epics_env.read_frames(path)
        assert frames, path
        for direction, msg in frames:
            psize = int.from_bytes(msg[2:4], "big")
            hlen = 16
            if psize == 0xFFFF:
                psize, hlen = int.from_bytes(msg[16:20], "big"), 24
            assert len(msg) == hlen + psize, (path, direction, msg.hex())
            assert psize % 8 == 0
        # every capture starts with a UDP search: VERSION then SEARCH
        assert frames[0][0] == "UC>S" and frames[0][1][:2] == b"\0\0"
        assert frames[1][0] == "UC>S" and frames[1][1][:2] == b"\0\6"


def test_ca_env_repeater_and_no_warnings(ca_env):
    assert epics_env.repeater_confirms(ca_env.repeater_port)
    result = ca_env.c_tool("caget", "-w", "0.3", "TST:nothing")
    assert result.returncode == 1
    # no "Duplicate EPICS CA Address list entry" warning, no spawned repeater
    assert result.stderr == b"Channel connect timed out: 'TST:nothing' not found.\n"
    pid = ca_env.repeater_pid
    ca_env.close()
    assert not epics_env.pid_alive(pid)
