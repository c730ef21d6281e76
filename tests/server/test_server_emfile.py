"""accept() failing with EMFILE must not spin the server (issue 18, 4).

``catools serve`` and softIoc run with RLIMIT_NOFILE 64; 80 clients connect and send
nothing, so the listening socket stays readable while accept() fails. RSRV logs and
sleeps; ours must use at most 0.1 s of CPU per second meanwhile (a behaviour bound: a
spinning loop takes a whole core), and must accept again once descriptors are free.
"""
from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time

import pytest

import epics_env
import serve_report

LIMIT = 64
CLIENTS = 80
MEASURE = 3.0
CPU_PER_SECOND = 0.1
SERVE = [sys.executable, "-c", "from catools.cli.serve import serve; serve()"]


#: Runs argv[1:] with RLIMIT_NOFILE lowered (as ``prlimit`` would).
_EXEC_LIMITED = ("import os, resource, sys; "
                 f"resource.setrlimit(resource.RLIMIT_NOFILE, ({LIMIT}, {LIMIT})); "
                 "os.execv(sys.argv[1], sys.argv[1:])")


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _half_open(port: int) -> list[socket.socket]:
    socks = []
    for _ in range(CLIENTS):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", port))      # completes in the kernel's backlog
        except OSError:
            sock.close()
            break
        socks.append(sock)
    return socks


def _cpu_under_emfile(pid: int, port: int) -> float:
    """CPU seconds per second of ``pid`` while CLIENTS connections wait."""
    socks = _half_open(port)
    try:
        time.sleep(0.5)
        start = cpu_seconds(pid)
        time.sleep(MEASURE)
        return (cpu_seconds(pid) - start) / MEASURE
    finally:
        for sock in socks:
            sock.close()


@pytest.fixture
def limited_softioc(tmp_path):
    db = tmp_path / "x.db"
    db.write_text('record(longout, "x") { field(VAL, "3") }\n')
    ioc = epics_env.SoftIoc(db, probe_pv="x", log_dir=tmp_path)
    command = ioc.command()
    ioc.command = lambda: [sys.executable, "-c", _EXEC_LIMITED, *command]
    try:
        ioc.start()
    except RuntimeError:
        ioc.close()
        pytest.fail("softIoc did not start with RLIMIT_NOFILE lowered")
    try:
        yield ioc
    finally:
        ioc.close()


def test_accept_emfile_does_not_spin(ca_env, limited_softioc, tmp_path):
    log = open(tmp_path / "serve.log", "w+b")
    proc = subprocess.Popen([*SERVE, "--demo"], env=ca_env.env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_limit_files)
    try:
        deadline = time.monotonic() + 20
        while epics_env.udp_search(ca_env.port, "demo:counter") is None:
            assert proc.poll() is None and time.monotonic() < deadline, "no server"
        ours = _cpu_under_emfile(proc.pid, ca_env.port)
        theirs = _cpu_under_emfile(limited_softioc.pid, limited_softioc.port)
        serve_report.record(f"{CLIENTS} half-open clients, RLIMIT_NOFILE {LIMIT}",
                            "CPU s per s", f"{ours:.3f}", f"{theirs:.3f}")
        assert ours <= CPU_PER_SECOND, f"{ours:.2f} s of CPU per second"
        # descriptors free again: served as before
        time.sleep(1.5)
        result = ca_env.c_tool("caget", "-t", "demo:readonly", timeout=15)
        assert result.stdout.strip() == b"3.14159", result
        assert proc.poll() is None
        log.seek(0)
        text = log.read().decode(errors="replace")
        assert "Traceback" not in text, text
        assert text.count("Too many open files") <= 2, text[-2000:]   # logged, not flooded
    finally:
        epics_env.terminate(proc)
        log.close()
