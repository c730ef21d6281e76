"""camonitor across an IOC restart, side by side with EPICS base's camonitor."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import epics_env

OURS = str(Path(sys.executable).parent / "camonitor")
_STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


def _start(cmd: list[str], env: dict[str, str], out: Path) -> subprocess.Popen:
    with open(out, "wb") as stdout, open(out.with_suffix(".err"), "wb") as stderr:
        return subprocess.Popen(cmd, env=env, stdout=stdout, stderr=stderr,
                                start_new_session=True)


def _stop(proc: subprocess.Popen, out: Path) -> tuple[str, str, int]:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return out.read_text(), out.with_suffix(".err").read_text(), proc.returncode


def _wait_lines(path: Path, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(path.read_text().splitlines()) < n:
        time.sleep(0.1)


def _shape(text: str) -> list[str]:
    """Lines with every timestamp masked (server stamps change over a restart)."""
    return [_STAMP.sub("<time>", line) for line in text.splitlines()]


def test_restart_gives_the_same_lines_as_c_camonitor(softioc, tmp_path):
    ioc = softioc(acf=epics_env.ACCESS_ACF)
    pvs = ["TST:ai", "TST:str"]
    c_file, p_file = tmp_path / "c.out", tmp_path / "ours.out"
    c_proc = _start([str(epics_env.c_tool_path("camonitor")), *pvs], ioc.env, c_file)
    ours = _start([OURS, *pvs], ioc.script_env, p_file)
    try:
        _wait_lines(c_file, 2, 5.0)
        _wait_lines(p_file, 2, 5.0)
        ioc.stop_ioc()
        _wait_lines(c_file, 4, 10.0)
        _wait_lines(p_file, 4, 10.0)
        time.sleep(1.0)
        ioc.start()
        # libca may need its 10 s disconnect governor; ours is back within a second
        _wait_lines(p_file, 6, 5.0)
        _wait_lines(c_file, 6, 20.0)
        put = ioc.c_tool("caput", "TST:ai", "1.25")
        assert put.returncode == 0, put.stderr
        _wait_lines(p_file, 7, 5.0)
        _wait_lines(c_file, 7, 5.0)
    finally:
        c_out, c_err, c_rc = _stop(c_proc, c_file)
        p_out, p_err, p_rc = _stop(ours, p_file)
    expected = [
        "TST:ai                         <time> 3.14159  ",
        "TST:str                        <time> hello world  ",
    ]
    c_lines, p_lines = _shape(c_out), _shape(p_out)
    assert c_lines[:2] == expected and p_lines[:2] == expected
    # Both print a disconnect line per PV, the re-printed value after the restart, and
    # the new value, in the same form (the order of the two PVs may differ).
    for lines in (c_lines, p_lines):
        rest = lines[2:]
        assert sorted(rest[:2]) == ["TST:ai                         <time> *** disconnected",
                                    "TST:str                        <time> *** disconnected"]
        assert sorted(rest[2:4]) == sorted(expected)
        assert rest[4:] == ["TST:ai                         <time> 1.25  "]
    # both die by SIGINT (a shell reports 130)
    assert p_rc == c_rc == -signal.SIGINT
    assert "Traceback" not in p_err
