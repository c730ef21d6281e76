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
import serve_report
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


THEIRS_DB = f"""record(waveform, "big") {{ field(FTVL, "DOUBLE") field(NELM, "{ELEMENTS}") }}
record(ai, "demo:readonly") {{ field(PREC, "4") field(VAL, "3.14159") }}
record(longout, "demo:counter") {{ field(VAL, "1") }}
"""


@pytest.fixture(scope="module")
def theirs(module_softioc):
    """softIoc with the same ``big`` (and demo:readonly, demo:counter): each attack is
    run against it too, and the two outcomes are put side by side in the summary."""
    return module_softioc(records=THEIRS_DB, probe_pv="demo:readonly")


def side_by_side(attack: str, served: Served, ours: object, ioc, theirs: object) -> None:
    """Record the outcome, whether a C caget is still answered, and the peak RSS."""
    result = ioc.c_tool("caget", "-t", "demo:readonly", timeout=15)
    their_ok = result.returncode == 0 and bool(result.stdout.strip())
    serve_report.record(attack, "outcome; caget after; peak RSS MB",
                        f"{ours}; {'yes' if served.caget_ok() else 'no'}; "
                        f"{served.peak_kb() / 1024:.0f}",
                        f"{theirs}; {'yes' if their_ok else 'no'}; "
                        f"{hostile.vm_kb(ioc.pid) / 1024:.0f}" if ioc.running else
                        f"{theirs}; softIoc died")


def served_peak_ok(pid: int) -> bool:
    peak = hostile.vm_kb(pid, "VmHWM")
    assert peak < PEAK_KB, f"peak RSS {peak} kB"
    return True


def test_pipelined_reads_of_a_big_array_are_flow_controlled(served, theirs):
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
    with _open_socket(hostile.pipelined_reads(theirs.port, "big", 1024)):
        time.sleep(2.0)
        side_by_side("1024 pipelined READ_NOTIFY of DOUBLE[1e5], not read", served,
                     "served others", theirs, "served others")


def _open_socket(sock):
    import contextlib
    return contextlib.closing(sock)


def test_huge_write_is_refused_drained_and_circuit_kept(served, theirs):
    ok, replies = hostile.huge_write(served.port, "big", 64 << 20)
    ours = _short(ok, replies)
    assert ok, replies                                   # ECHO answered afterwards
    assert [r[:3] for r in replies] == [("ERROR", hostile.ECA_TOLARGE,
                                         hostile.CMD_WRITE_NOTIFY)]
    # a write of the whole array is fine
    ok, replies = hostile.huge_write(served.port, "big", 8 * ELEMENTS)
    assert ok and replies == [("WRITE_NOTIFY", hostile.ECA_NORMAL)]
    assert served.caget_ok()
    served_peak_ok(served.proc.pid)
    side_by_side("WRITE_NOTIFY of 64 MB to DOUBLE[1e5]", served, ours, theirs,
                 _short(*hostile.huge_write(theirs.port, "big", 64 << 20)))


def _short(ok: bool, replies: list) -> str:
    """The ECHO answered or not, and the first replies (status/command)."""
    return f"echo {'yes' if ok else 'no'}, " + ", ".join(
        "/".join(str(x) for x in r[:3]) for r in replies[:4])


def test_huge_element_counts_answer_tolarge_and_keep_the_client(served, theirs):
    ok, replies = hostile.huge_count_reads(served.port, "big", (50_000_000, 0xFFFFFFFF))
    ours = _short(ok, replies)
    assert ok, replies
    tolarge = ("ERROR", hostile.ECA_TOLARGE)
    assert [r[:3] for r in replies] == [(*tolarge, 1), (*tolarge, 1), (*tolarge, 15),
                                        (*tolarge, 15)]
    # counts that fit are still served, zero-filled past the array
    ok, replies = hostile.huge_count_reads(served.port, "big", (2 * ELEMENTS,))
    assert ok and replies == [(1, 1, 2 * ELEMENTS), (15, 1, 2 * ELEMENTS)]
    assert served.caget_ok()
    served_peak_ok(served.proc.pid)
    theirs_got = _short(*hostile.huge_count_reads(theirs.port, "big",
                                                  (50_000_000, 0xFFFFFFFF)))
    side_by_side("READ_NOTIFY/EVENT_ADD of 5e7 and 2^32-1 elements", served, ours, theirs,
                 theirs_got)


def test_oversize_extended_header(served, theirs):
    errors, still_open = hostile.oversize_header(served.port)
    assert [e[:2] for e in errors] == [(hostile.ECA_TOLARGE, 1)] and still_open
    assert served.caget_ok()
    try:
        their_errors, their_open = hostile.oversize_header(theirs.port)
        theirs_got = f"{[e[:2] for e in their_errors]} {'open' if their_open else 'closed'}"
    except OSError as exc:
        theirs_got = f"circuit closed ({exc.strerror})"
    side_by_side("extended header of 4 GB, 1 MB sent", served,
                 f"{[e[:2] for e in errors]} {'open' if still_open else 'closed'}", theirs,
                 theirs_got)


def test_garbage_closes_only_that_circuit(served, theirs):
    for seed in range(3):
        assert hostile.garbage(served.port, seed=seed)
    hostile.udp_garbage(served.port, 3000)
    assert served.caget_ok()
    closed = [hostile.garbage(theirs.port, seed=seed) for seed in range(3)]
    hostile.udp_garbage(theirs.port, 3000)
    side_by_side("64 kB garbage x3, 3000 UDP datagrams", served, "closed x3", theirs,
                 f"closed x{sum(closed)}")


def test_slow_loris_and_many_circuits(served, theirs):
    with hostile.slow_loris(served.port, 100):
        with hostile.many_channels(served.port, "demo:counter", 200) as connected:
            assert connected == 200
            assert served.caget_ok()
    assert served.caget_ok()
    served_peak_ok(served.proc.pid)
    with hostile.slow_loris(theirs.port, 100):
        with hostile.many_channels(theirs.port, "demo:counter", 200) as their_connected:
            pass
    side_by_side("slow loris x100 + 200 circuits", served, f"{connected} connected",
                 theirs, f"{their_connected} connected")


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
