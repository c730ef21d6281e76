"""Fixtures for the format tests: an oracle CA server and the real EPICS C tools.

Everything runs on loopback with free ports; processes are stopped by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parent.parent / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import epics_env  # noqa: E402  (tests/epics_env.py: tests/conftest.py puts tests/ on sys.path)

LOOPBACK = {
    "EPICS_CA_AUTO_ADDR_LIST": "NO",
    "EPICS_CA_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
    "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
}


def _bin_dir() -> Path:
    return epics_env.epics_bin_dir()


def _free_port() -> int:
    """A port free for both TCP and UDP, reserved across test processes (below the
    ephemeral range, so no client socket can be handed it meanwhile)."""
    return epics_env.free_port(tcp=True, udp=True)


class CTools:
    """Runs the real C tools against one server."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.bin = _bin_dir()

    def run(self, tool: str, *args: str, timeout: float = 10.0) -> bytes:
        # The 7.0.8.1 caget (one thread per PV) now and then exits with no output;
        # retry a few times so that such a run does not count as a mismatch.
        for _ in range(3):
            proc = subprocess.run([str(self.bin / tool), "-w", "3", *args], env=self.env,
                                  capture_output=True, timeout=timeout)
            if proc.stdout:
                break
            sys.stderr.write(f"{tool} {' '.join(args)}: no output, exit {proc.returncode}, "
                             f"stderr {proc.stderr[-500:]!r}\n")
        return proc.stdout

    def monitor(self, *args: str, seconds: float = 1.5) -> bytes:
        proc = subprocess.Popen([str(self.bin / "camonitor"), *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            time.sleep(seconds)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=5)
        return out


os.environ["TZ"] = "UTC"  # our formatter and the C tools must agree on local time
time.tzset()


def _env(tz: str = "UTC") -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "TZ": tz,
           "LANG": "C", **LOOPBACK}
    env["EPICS_CA_SERVER_PORT"] = str(_free_port())
    env["EPICS_CA_REPEATER_PORT"] = str(_free_port())
    env["EPICS_CAS_SERVER_PORT"] = env["EPICS_CA_SERVER_PORT"]
    return env


@pytest.fixture(scope="session")
def repeater_env():
    """Loopback env with free ports and our own caRepeater (killed afterwards)."""
    env = _env()
    rep = subprocess.Popen([str(_bin_dir() / "caRepeater")], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield env
    finally:
        rep.terminate()
        rep.wait(timeout=5)


def _wait_serving(tools: CTools, proc: subprocess.Popen, pv: str, what: str) -> None:
    """Wait (20 s at most) until C caget reads 42 from ``pv`` of the server ``proc``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if b"42" in tools.run("caget", "-w", "0.5", "-t", pv):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} died")
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up")


@pytest.fixture(scope="session")
def oracle(repeater_env):
    """The caproto oracle server (PVs of oracle_pvs.SPECS) plus a C tool runner."""
    env = dict(repeater_env)
    server_env = {**os.environ, **env}
    proc = subprocess.Popen([sys.executable, str(HERE / "oracle_server.py")], env=server_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tools = CTools(env)
    try:
        _wait_serving(tools, proc, "O:long", "oracle server")
        yield tools
    finally:
        epics_env.terminate(proc)


SOFTIOC_DB = r"""
record(ai, "S:ai") { field(VAL, "3.14159265") field(EGU, "mm") field(PREC, "3")
  field(HOPR, "100") field(LOPR, "-100") field(HIHI, "80") field(HHSV, "MAJOR")
  field(HIGH, "60") field(HSV, "MINOR") field(LOW, "-60") field(LSV, "MINOR")
  field(LOLO, "-80") field(LLSV, "MAJOR") field(PINI, "YES") }
record(mbbo, "S:mbbo") { field(ZRST, "Off") field(ONST, "On") field(TWST, "Standby")
  field(THST, "Fault State") field(VAL, "1") field(PINI, "YES") }
record(longout, "S:long") { field(VAL, "42") field(EGU, "counts") field(HOPR, "1000")
  field(PINI, "YES") }
record(stringout, "S:str") { field(VAL, "hello world") field(PINI, "YES") }
record(waveform, "S:wfc") { field(FTVL, "CHAR") field(NELM, "16") }
"""


@pytest.fixture(scope="session")
def softioc(repeater_env, tmp_path_factory):
    """A real softIoc with a few records (deterministic values, not timestamps), on a
    server port of its own: the oracle server of the same session has repeater_env's
    (two servers on one UDP port split the searches between them)."""
    env = dict(repeater_env)
    env["EPICS_CA_SERVER_PORT"] = env["EPICS_CAS_SERVER_PORT"] = str(_free_port())
    d = tmp_path_factory.mktemp("ioc")
    (d / "t.db").write_text(SOFTIOC_DB)
    proc = subprocess.Popen([str(_bin_dir() / "softIoc"), "-S", "-d", str(d / "t.db")],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    tools = CTools(env)
    try:
        _wait_serving(tools, proc, "S:long", "softIoc")
        yield tools
    finally:
        epics_env.terminate(proc)
