"""caget/cainfo/camonitor across the namespace rig, byte for byte against EPICS base's
C tools run from the same client namespace with the same environment, in each setup:
broadcast (auto addr list), a broadcast address in EPICS_CA_ADDR_LIST, name servers."""
from __future__ import annotations

import re
import subprocess
import time

import pytest
from epics_env import c_tool_path
from netns_rig import SERVER_PORT, our_tool
from rig_layout import NAME_SERVER_IOCS, RigSetup

#: PVs on every IOC (5 IOCs, 3 hosts) ...
ALL_HOSTS = ["RIGA:ai", "RIGB:str", "RIGC:long", "RIGD:bo", "RIGE:ai"]
#: ... and, for the name-server setup, on every name server (3 IOCs, 3 hosts).
NAME_SERVED = ["RIGA:ai", "RIGC:str", "RIGE:long", "RIGA:bo", "RIGE:ai"]
#: What each copy of RIG:dup holds, by server address.
DUP_VALUES = {"198.18.0.1:5064": "1.5", "198.18.0.2:5064": "3.5"}

_CURRENT_TIME = re.compile(r"^    Current Time: .*$")


def pvs_for(setup: str) -> list[str]:
    return NAME_SERVED if setup == "name_servers" else ALL_HOSTS


def stderr_lines(text: bytes | str) -> list[str]:
    """stderr lines, libca's "Source File" line (C-internal) dropped, times masked."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return [_CURRENT_TIME.sub("    Current Time: <time>", line)
            for line in text.splitlines() if not line.startswith("    Source File: ")]


def run_c(rig: RigSetup, setup: str, tool: str, *args: str) -> subprocess.CompletedProcess:
    """The C tool; caget/cainfo are retried when they exit 0 without output (the 7.0.8.1
    tools occasionally do that under load, see tests/cli/clihelpers.py)."""
    for _ in range(3):
        proc = rig.run([str(c_tool_path(tool)), *args], setup)
        if proc.stdout or proc.returncode != 0:
            break
    return proc


def run_ours(rig: RigSetup, setup: str, tool: str, *args: str) -> subprocess.CompletedProcess:
    proc = rig.run([our_tool(tool), *args], setup)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


def assert_same(c: subprocess.CompletedProcess, ours: subprocess.CompletedProcess) -> None:
    assert ours.stdout.decode() == c.stdout.decode()
    assert stderr_lines(ours.stderr) == stderr_lines(c.stderr)
    assert ours.returncode == c.returncode


@pytest.mark.parametrize("flags", [[], ["-a"], ["-d", "DBR_CTRL_DOUBLE"]],
                         ids=lambda f: " ".join(f) or "plain")
def test_caget(rig, setup, flags):
    pvs = pvs_for(setup)
    if flags[:1] == ["-d"]:
        pvs = [pv for pv in pvs if pv.endswith(":ai")] + ["RIGC:ai"]
    c = run_c(rig, setup, "caget", *flags, *pvs)
    assert c.returncode == 0 and c.stdout.count(b"\n") >= len(pvs), c
    assert_same(c, run_ours(rig, setup, "caget", *flags, *pvs))


def test_cainfo(rig, setup):
    # B's and D's host:port carry the ephemeral TCP port of a second IOC on a host
    pvs = ["RIGE:ai", "RIGC:bo", "RIGA:str"] if setup == "name_servers" else \
        ["RIGE:ai", "RIGB:bo", "RIGD:str", "RIGA:long"]
    c = run_c(rig, setup, "cainfo", *pvs)
    assert c.returncode == 0 and c.stdout.count(b"Host:") == len(pvs), c
    assert_same(c, run_ours(rig, setup, "cainfo", *pvs))


def test_camonitor_first_updates(rig, setup):
    pvs = pvs_for(setup)
    monitors = [rig.monitor([str(c_tool_path("camonitor")), *pvs], setup),
                rig.monitor([our_tool("camonitor"), *pvs], setup)]
    try:
        for mon in monitors:
            for pv in pvs:
                assert mon.wait_for(lambda line: line.startswith(pv + " "), 10.0), \
                    (pv, mon.text())
        time.sleep(0.5)     # nothing else may follow
    finally:
        (c_out, c_err, c_rc), (o_out, o_err, o_rc) = (m.stop() for m in monitors)
    # the servers answer in any order; each line is byte-identical
    assert sorted(o_out) == sorted(c_out)
    assert len(c_out) == len(pvs)
    assert stderr_lines(o_err) == stderr_lines(c_err)
    assert o_rc == c_rc
    assert "Traceback" not in o_err


_DUP = re.compile(r'^    Context: "Channel: "RIG:dup", Connecting to: (\S+), Ignored: (\S+)"$')


def _dup_report(proc: subprocess.CompletedProcess) -> tuple[str, str, list[str]]:
    """(server connected to, server ignored, stderr with that Context line masked)."""
    lines = stderr_lines(proc.stderr)
    found = [(i, m) for i, m in ((i, _DUP.match(line)) for i, line in enumerate(lines)) if m]
    assert len(found) == 1, lines
    i, m = found[0]
    lines[i] = "<context>"
    return m.group(1), m.group(2), lines


def test_duplicate_name_warns_and_uses_first_reply(rig, setup):
    """RIG:dup lives on A (h1) and C (h2), both name servers too. Which reply comes first
    is a race, so each tool must print the value of the server it says it connects to."""
    c = run_c(rig, setup, "caget", "RIG:dup")
    ours = run_ours(rig, setup, "caget", "RIG:dup")
    for proc in (c, ours):
        assert proc.returncode == 0, proc
        connected, ignored, _ = _dup_report(proc)
        assert {connected, ignored} == set(DUP_VALUES)
        assert proc.stdout.decode() == f"{'RIG:dup':<30} {DUP_VALUES[connected]}\n"
    assert _dup_report(ours)[2] == _dup_report(c)[2]


def test_name_servers_are_the_only_path(rig):
    """With name servers and no address list, a PV on an IOC that is not a name server
    (B: same host as A, ephemeral TCP port) is not found, exactly as libca says."""
    assert "B" not in NAME_SERVER_IOCS
    c = run_c(rig, "name_servers", "caget", "RIGB:ai")
    assert c.returncode == 1
    assert c.stderr.decode().splitlines() == ["Channel connect timed out: 'RIGB:ai' not found."]
    assert_same(c, run_ours(rig, "name_servers", "caget", "RIGB:ai"))


def test_rig_ports(rig):
    """The layout the tests rely on: A, C, E on TCP 5064; B and D elsewhere."""
    for name, ioc in rig.iocs.items():
        port = rig.tcp_port(ioc)
        assert (port == SERVER_PORT) == (name in NAME_SERVER_IOCS), (name, port)
