"""camonitor: ours and the C camonitor side by side on a writable IOC, same updates.

All flag sets run at once (one C and one of ours per set): start them, wait for the
initial values, write a few values with the C caput, then SIGINT everything. Server
timestamps are identical for both; only client-time parts are masked.
"""
from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from clihelpers import our_tool, no_traceback, start_monitor

PVS = ["TST:ao", "TST:long", "TST:mbbo"]
WRITES = [("TST:ao", "2"), ("TST:long", "5"), ("TST:ao", "9.5"), ("TST:mbbo", "2"),
          ("TST:ao", "3"), ("TST:long", "-6"), ("TST:wfd", "-a", "3", "1.5", "2", "3"),
          ("TST:wfc", "-S", "Hi there")]

FLAG_SETS = [
    [], ["-t", "s"], ["-t", "n"], ["-t", "c"], ["-t", "sc"], ["-t", "sr"], ["-t", "si"],
    ["-t", "sI"], ["-t", "cr"], ["-t", "ci"], ["-t", "scI"], ["-t", "r"], ["-t", "x"],
    ["-m", "v"], ["-m", "a"], ["-m", "va"], ["-m", "l"], ["-n"], ["-#", "2"], ["-S"],
    ["-F", ","], ["-F", ",", "-t", "n"], ["-e", "3"], ["-f", "2"], ["-g", "2"], ["-0x"],
    ["-0b"], ["-lx"], ["-s"], ["-p", "5", "-w", "2"],
]
EXTRA_PVS = ["TST:wfd", "TST:wfc"]

#: Client-side times: "(2026-11-25 11:36:48.859635)" and "(   +0.071723)".
CLIENT = re.compile(rb"\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\)|\(\s*[+-]\d+\.\d{6}\)")


def _caput(ioc, pv, *args):
    if args and args[0] in ("-a", "-S"):
        proc = ioc.c_tool("caput", args[0], pv, *args[1:])
    else:
        proc = ioc.c_tool("caput", pv, *args)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def runs(module_ioc):
    """{flags: (C result, our result)} of one run with every flag set at once."""
    ioc = module_ioc
    _caput(ioc, "TST:wfd", "-a", "1", "0")
    _caput(ioc, "TST:wfc", "-S", "x")
    mons = {}
    for flags in FLAG_SETS:
        key = tuple(flags)
        mons[key] = (start_monitor(ioc, False, *flags, *PVS, *EXTRA_PVS),
                     start_monitor(ioc, True, *flags, *PVS, *EXTRA_PVS))
    time.sleep(4.0)                 # all connected, initial values printed
    for pv, *args in WRITES:
        _caput(ioc, pv, *args)
        time.sleep(0.05)
    time.sleep(1.5)
    return {key: (c.stop(), ours.stop()) for key, (c, ours) in mons.items()}


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda f: " ".join(f) or "plain")
def test_same_lines(runs, flags):
    c, ours = runs[tuple(flags)]
    no_traceback(ours)
    assert c.stdout.count(b"\n") >= len(PVS) + len(EXTRA_PVS)
    assert CLIENT.sub(b"<T>", ours.stdout).splitlines() == \
        CLIENT.sub(b"<T>", c.stdout).splitlines()
    assert ours.returncode == c.returncode == -signal.SIGINT   # a shell says 130
    assert ours.stderr.splitlines() == c.stderr.splitlines()


def test_sigint_130_sigterm_143_in_a_shell(module_ioc, tmp_path):
    """As a shell reports it: 130 after SIGINT, 143 after SIGTERM; output kept and
    nothing on stderr."""
    err = tmp_path / "err"
    for sig, code in (("INT", 130), ("TERM", 143)):
        script = (f"set -m; {our_tool('camonitor')} TST:ai 2>{err} & pid=$!; sleep 1.5; "
                  f"kill -{sig} $pid; wait $pid; echo rc=$?")
        proc = subprocess.run(["/bin/bash", "-c", script], env=module_ioc.script_env,
                              capture_output=True, timeout=20)
        assert err.read_bytes() == b""
        lines = proc.stdout.splitlines()
        assert lines[0].startswith(b"TST:ai ")
        assert lines[-1] == f"rc={code}".encode()


def test_no_read_access_line(module_ioc):
    """C camonitor prints nothing for TST:noaccess; ours prints one line saying so."""
    ours = subprocess.run([our_tool("camonitor"), "--timeout", "1.5", "TST:noaccess"],
                          env=module_ioc.script_env, capture_output=True, timeout=20)
    no_traceback(ours)
    assert ours.returncode == 0
    lines = ours.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(b"TST:noaccess ")
    assert b"no read access" in lines[0]


def test_pipe_to_head_ends_quietly(module_ioc):
    cmd = f"{our_tool('camonitor')} TST:calc | head -1"
    proc = subprocess.run(["/bin/bash", "-o", "pipefail", "-c", cmd],
                          env=module_ioc.script_env, capture_output=True, timeout=20)
    assert proc.stderr == b""
    assert proc.stdout.startswith(b"TST:calc ") and proc.stdout.count(b"\n") == 1
    assert proc.returncode in (0, 141)        # 141: camonitor itself ended by SIGPIPE


@pytest.mark.parametrize("n", [1, 3])
def test_count_exits_after_n_updates(module_ioc, n):
    start = time.monotonic()
    proc = subprocess.run([our_tool("camonitor"), "--count", str(n), "TST:calc"],
                          env=module_ioc.script_env, capture_output=True, timeout=20)
    no_traceback(proc)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == n
    assert all(line.startswith(b"TST:calc ") for line in proc.stdout.splitlines())
    assert time.monotonic() - start < 10


def test_timeout_exits(module_ioc):
    start = time.monotonic()
    proc = subprocess.run([our_tool("camonitor"), "--timeout", "1", "TST:ai", "TST:nope"],
                          env=module_ioc.script_env, capture_output=True, timeout=20)
    elapsed = time.monotonic() - start
    no_traceback(proc)
    assert proc.returncode == 0
    assert 0.9 <= elapsed < 5
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(b"TST:ai ")
    assert b"TST:nope" in proc.stdout


def test_not_found_line_like_c(module_ioc):
    c = start_monitor(module_ioc, False, "-w", "0.3", "TST:nope", "TST:ai")
    ours = start_monitor(module_ioc, True, "-w", "0.3", "TST:nope", "TST:ai")
    time.sleep(2.0)
    c, ours = c.stop(), ours.stop()
    assert sorted(ours.stdout.splitlines()) == sorted(c.stdout.splitlines())
    assert b"*** Not connected (PV not found)" in ours.stdout
    assert ours.returncode == c.returncode == -signal.SIGINT


@pytest.mark.parametrize("args,message", [
    (["--count", "0", "TST:ai"], "camonitor: --count 0 must be at least 1"),
    (["--timeout", "abc", "TST:ai"], "camonitor: --timeout 'abc' is not a number of seconds"),
])
def test_bad_count_timeout(module_ioc, args, message):
    proc = subprocess.run([our_tool("camonitor"), *args], env=module_ioc.script_env,
                          capture_output=True, timeout=20)
    no_traceback(proc)
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines() == [message]
