"""``catools serve`` under attack by raw-socket clients (tests/server/hostile.py).

One server process for the module (the demo PVs plus ``big``, a DOUBLE[100000]); after
every attack a C caget must still be answered, and the server's peak resident set
(VmHWM) must stay far below what the attacks would cost unbounded (each one asks for
hundreds of MB to GB). Where RSRV's answer is defined (EPICS_CA_AUTO_ARRAY_BYTES=NO),
softIoc is the oracle.
"""
from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time

import pytest

import epics_env
import hostile
from catools.server import PV, Server
from catools.server import _server as server_module

from serverhelpers import loopback_config

ELEMENTS = 100_000                 # big: 800 kB as DOUBLE, 4 MB as DBR_STRING
#: Peak RSS bound (kB). Measured: ~24 MB at start, ~30 MB after every attack here;
#: unbounded, the pipelined reads alone held ~800 MB and a huge count 1.6 GB.
PEAK_KB = 120 * 1024
SERVE = [sys.executable, "-c", "from catools.cli.serve import serve; serve()"]


class Served:
    def __init__(self, proc: subprocess.Popen, env: epics_env.CaEnv, log) -> None:
        self.proc, self.env, self.log = proc, env, log
        self.port = env.port

    def caget_ok(self) -> bool:
        result = self.env.c_tool("caget", "-t", "demo:readonly", timeout=15)
        return result.returncode == 0 and result.stdout.strip() == b"3.14159"

    def peak_kb(self) -> int:
        return hostile.vm_kb(self.proc.pid, "VmHWM")


@pytest.fixture(scope="module")
def served(module_env, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    pvfile = tmp / "big.json"
    pvfile.write_text(json.dumps({"pv": [{"name": "big", "type": "double",
                                          "count": ELEMENTS, "value": [0.5] * ELEMENTS}]}))
    log = open(tmp / "serve.log", "w+b")
    proc = subprocess.Popen([*SERVE, str(pvfile), "--demo"], env=module_env.env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while epics_env.udp_search(module_env.port, "big") is None:
            assert proc.poll() is None and time.monotonic() < deadline, "no server"
        yield Served(proc, module_env, log)
        assert proc.poll() is None, "the server died"
        assert served_peak_ok(proc.pid)
        log.seek(0)
        text = log.read().decode(errors="replace")
        assert "Traceback" not in text and "internal error" not in text, text
    finally:
        epics_env.terminate(proc)
        log.close()


def served_peak_ok(pid: int) -> bool:
    peak = hostile.vm_kb(pid, "VmHWM")
    assert peak < PEAK_KB, f"peak RSS {peak} kB"
    return True


def test_pipelined_reads_of_a_big_array_are_flow_controlled(served):
    """1024 READ_NOTIFYs of 800 kB each from a client that does not read: the server
    takes requests only while that client's output is small, and serves others."""
    sock = hostile.pipelined_reads(served.port, "big", 1024)
    try:
        time.sleep(2.0)
        assert served.caget_ok()
        assert hostile.vm_kb(served.proc.pid, "VmRSS") < PEAK_KB
        # the replies that were produced are whole and correct
        sock.settimeout(10)
        reader = hostile.Reader(sock)
        for ioid in range(3):
            cmd, dtype, count, status, got_ioid, body = reader.until(15, 20.0)
            assert (dtype, count, status, got_ioid) == (6, ELEMENTS, 1, ioid)
            assert len(body) == 8 * ELEMENTS
    finally:
        sock.close()
    assert served.caget_ok()
    served_peak_ok(served.proc.pid)


def test_huge_write_is_refused_drained_and_circuit_kept(served):
    ok, replies = hostile.huge_write(served.port, "big", 64 << 20)
    assert ok, replies                                   # ECHO answered afterwards
    assert [r[:3] for r in replies] == [("ERROR", hostile.ECA_TOLARGE,
                                         hostile.CMD_WRITE_NOTIFY)]
    # a write of the whole array is fine
    ok, replies = hostile.huge_write(served.port, "big", 8 * ELEMENTS)
    assert ok and replies == [("WRITE_NOTIFY", hostile.ECA_NORMAL)]
    assert served.caget_ok()
    served_peak_ok(served.proc.pid)


def test_huge_element_counts_answer_tolarge_and_keep_the_client(served):
    ok, replies = hostile.huge_count_reads(served.port, "big", (50_000_000, 0xFFFFFFFF))
    assert ok, replies
    tolarge = ("ERROR", hostile.ECA_TOLARGE)
    assert [r[:3] for r in replies] == [(*tolarge, 1), (*tolarge, 1), (*tolarge, 15),
                                        (*tolarge, 15)]
    # counts that fit are still served, zero-filled past the array
    ok, replies = hostile.huge_count_reads(served.port, "big", (2 * ELEMENTS,))
    assert ok and replies == [(1, 1, 2 * ELEMENTS), (15, 1, 2 * ELEMENTS)]
    assert served.caget_ok()
    served_peak_ok(served.proc.pid)


def test_oversize_extended_header(served):
    errors, still_open = hostile.oversize_header(served.port)
    assert [e[:2] for e in errors] == [(hostile.ECA_TOLARGE, 1)] and still_open
    assert served.caget_ok()


def test_garbage_closes_only_that_circuit(served):
    for seed in range(3):
        assert hostile.garbage(served.port, seed=seed)
    hostile.udp_garbage(served.port, 3000)
    assert served.caget_ok()


def test_slow_loris_and_many_circuits(served):
    with hostile.slow_loris(served.port, 100):
        with hostile.many_channels(served.port, "demo:counter", 200) as connected:
            assert connected == 200
            assert served.caget_ok()
    assert served.caget_ok()
    served_peak_ok(served.proc.pid)


# --------------------------------------------------------------------------- RSRV parity

LIMITED = {"EPICS_CA_AUTO_ARRAY_BYTES": "NO", "EPICS_CA_MAX_ARRAY_BYTES": "100000"}


def _attack_replies(port: int) -> tuple:
    """What a client gets for oversized requests and reads (sizes above 100000)."""
    write = hostile.huge_write(port, "arr", 2 << 20)
    counts = hostile.huge_count_reads(port, "arr", (50_000, 5_000_000))
    fits = hostile.huge_count_reads(port, "arr", (1_000,))
    return write, counts, fits


def test_oversized_requests_answered_as_softioc_with_auto_array_bytes_off(softioc, ca_env,
                                                                           tmp_path):
    ioc = softioc(records='record(waveform, "arr") { field(FTVL, "DOUBLE") '
                          'field(NELM, "1000") }', start=False)
    ioc.env.update(LIMITED)
    ioc.start()
    pvfile = tmp_path / "arr.json"
    pvfile.write_text(json.dumps({"pv": [{"name": "arr", "type": "double",
                                          "count": 1000}]}))
    proc = subprocess.Popen([*SERVE, str(pvfile)], env={**ca_env.env, **LIMITED},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        assert select.select([proc.stderr], [], [], 20)[0], "no start-up line"
        proc.stderr.readline()
        ours = _attack_replies(ca_env.port)
    finally:
        epics_env.terminate(proc)
    theirs = _attack_replies(ioc.port)
    assert ours == theirs                   # statuses, quoted commands and texts
    assert ours[0] == (True, [("ERROR", hostile.ECA_TOLARGE, hostile.CMD_WRITE_NOTIFY,
                               "CAS: Server unable to load large request message. "
                               "Max bytes=100024")])


# --------------------------------------------------------------------------- input budget

def test_big_requests_share_a_server_wide_input_budget(monkeypatch, port_pair):
    """Two clients announce 3 MB writes under a 4 MB budget: the second is not read
    until the first is complete; both writes then succeed and the budget is free."""
    monkeypatch.setattr(server_module, "INPUT_BUDGET", 4 << 20)
    env = type("E", (), {"port": port_pair[0], "repeater_port": port_pair[1]})()
    server = Server([PV("arr", "double", [0.0], count=90_000)], loopback_config(env))
    server.start_in_thread()
    socks: list[socket.socket] = []
    try:
        size = 3 << 20
        readers = []
        for _ in range(2):
            sock, reader, sid, _dtype, _count = hostile.open_channel(server.port, "arr")
            socks.append(sock)
            readers.append(reader)
            sock.sendall(hostile.header(hostile.CMD_WRITE_NOTIFY, size, 6, size // 8,
                                        sid, 9) + bytes(1 << 20))
        time.sleep(0.5)
        states = sorted((c.reserved, c.waiting) for c in list(server._clients))
        assert states == [(0, True), (size, False)]
        for sock in socks:                      # the rest of both bodies
            sock.sendall(bytes(size - (1 << 20)))
        for reader in readers:
            assert reader.until(hostile.CMD_WRITE_NOTIFY, 10)[3] == hostile.ECA_NORMAL
        assert server._input_held == 0 and not server._input_queue
    finally:
        for sock in socks:
            sock.close()
        server.stop()
