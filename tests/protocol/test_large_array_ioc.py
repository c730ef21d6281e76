"""Regression for issue 10 item 1 against a real softIoc: two large waveforms (1,000,000
and 20,000 doubles, both sent with extended headers) read together by our caget --json
and camonitor, again and again. The fast path of ``next_commands`` used to take the
0xFFFF extended-header marker for a 65,535-byte payload when enough bytes were
buffered: ``count 0, value []``, exit 0, or bogus monitor lines."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "cli"))

from clihelpers import no_traceback, run_ours, start_monitor  # noqa: E402

BIG, SMALL = "TST:wf:big", "TST:wf:small"
N_BIG, N_SMALL = 1_000_000, 20_000
RECORDS = f"""
record(waveform, "{BIG}") {{ field(FTVL, "DOUBLE") field(NELM, "{N_BIG}") }}
record(waveform, "{SMALL}") {{ field(FTVL, "DOUBLE") field(NELM, "{N_SMALL}") }}
"""
#: Both ends may send/accept the 8 MB array.
ARRAY_ENV = {"EPICS_CA_MAX_ARRAY_BYTES": str(16 * N_BIG)}
#: Values that print exactly in %g (the C tools' format) and differ along the array.
EXPECTED = {BIG: [(i % 997) * 0.25 for i in range(N_BIG)],
            SMALL: [-(i % 1009) * 0.5 for i in range(N_SMALL)]}


@pytest.fixture(scope="module")
def wf_ioc(module_softioc):
    ioc = module_softioc(records=RECORDS, start=False)
    ioc.env.update(ARRAY_ENV)
    ioc.script_env.update(ARRAY_ENV)
    ioc.start()
    # the small one with our caput -a, the big one (too long for a command line) with
    # our client library; then the real caget confirms what the IOC holds
    values = [f"{v:g}" for v in EXPECTED[SMALL]]
    proc = run_ours(ioc, "caput", "-a", SMALL, str(N_SMALL), *values, timeout=60)
    assert proc.returncode == 0, proc.stderr
    code = ("import catools; "
            f"catools.put({BIG!r}, [(i % 997) * 0.25 for i in range({N_BIG})], "
            "wait=True, timeout=30)")
    proc = subprocess.run([sys.executable, "-c", code], env=ioc.script_env,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name, n in ((SMALL, N_SMALL), (BIG, N_BIG)):
        proc = ioc.c_tool("caget", "-#", str(n), name, timeout=60)
        assert proc.returncode == 0, proc.stderr
        words = proc.stdout.split()
        assert words[:2] == [name.encode(), str(n).encode()]
        assert [float(w) for w in words[2:]] == EXPECTED[name]
    return ioc


def test_caget_json_of_two_large_waveforms_again_and_again(wf_ioc):
    for run in range(10):
        names = (BIG, SMALL) if run % 2 == 0 else (SMALL, BIG)
        proc = run_ours(wf_ioc, "caget", "--json", *names, timeout=120)
        no_traceback(proc)
        assert proc.returncode == 0, (run, proc.stderr)
        objs = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [o["name"] for o in objs] == list(names), run
        for o in objs:
            assert o["ok"] is True, (run, o["name"])
            assert o["count"] == len(EXPECTED[o["name"]]), (run, o["name"], o["count"])
            assert o["value"] == EXPECTED[o["name"]], (run, o["name"])


def _monitor_once(ioc, names: tuple[str, ...]) -> None:
    """Our camonitor until both initial updates are printed; check every line."""
    monitor = start_monitor(ioc, True, *names)
    watchdog = threading.Timer(90, monitor.proc.kill)    # (a hang ends readline: EOF)
    watchdog.start()
    try:
        lines = []
        while len(lines) < 2:
            line = monitor.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
    finally:
        watchdog.cancel()
        proc = monitor.stop()
    no_traceback(proc)
    lines += proc.stdout.splitlines()
    assert b"??" not in b"".join(lines) and not proc.stderr.strip(), proc.stderr
    seen = {}
    for line in lines:
        words = line.split()
        name = words[0].decode()
        assert name in EXPECTED, line[:80]
        # name, date, time, count, values (the C camonitor's layout)
        assert int(words[3]) == len(EXPECTED[name]), line[:80]
        assert [float(w) for w in words[4:]] == EXPECTED[name]
        seen[name] = seen.get(name, 0) + 1
    assert seen == {BIG: 1, SMALL: 1}


def test_camonitor_of_two_large_waveforms(wf_ioc):
    """Both initial updates arrive back to back; repeated, as the old failure depended
    on how the bytes were split between reads."""
    for run in range(4):
        _monitor_once(wf_ioc, (BIG, SMALL) if run % 2 == 0 else (SMALL, BIG))
