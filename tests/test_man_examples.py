"""Every example command in the EXAMPLES section of every man page runs as written
against ``catools serve --demo``.

Each page gets a fresh demo server (and a ``catools repeater``) on a free port pair, with
/work/shared/loopback.env's variables (tests/epics_env.py ``make_script_env``), and its
examples run in page order, in one directory, like one shell session. What a reader sets
up first is set up by the test instead: ``export EPICS_CA_SERVER_PORT=...``,
``catools serve --demo &`` and ``catools repeater &`` are skipped, and a port number
written in an example (``EPICS_CA_*_PORT=N``, ``--port N``) is replaced by a free one.
The directory holds the files the examples name (``pvs.txt``, ``lab.toml``).
An example passes when it exits with status 0 (or the status in :data:`EXPECTED`), or,
when it is one that runs until stopped (camonitor, casw, a server), when it is still
running after :data:`LONG` seconds with no error on standard error.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from epics_env import (free_port, free_port_pair, make_script_env,  # noqa: E402
                       release_port, terminate)

MAN = Path(__file__).resolve().parent.parent / "man"
PAGES = sorted(p.stem for p in MAN.glob("*.1"))
SETUP = re.compile(r"^(export EPICS_CA_SERVER_PORT=\d+|catools serve --demo &|"
                   r"catools repeater &)$")
#: Examples whose point is a non-zero exit status.
EXPECTED = {
    "catools doctor demo:sine demo:nothing": 1,      # one PV nobody has
    "catools snap compare before.json": 1,           # after a put: a difference
}
LONG = 4.0
#: What a long-running example must not print on stderr (a server prints its banner).
BAD_STDERR = re.compile(r"rror|Traceback|not found|denied|Unrecognized|Usage")
FILES = {"pvs.txt": "demo:sine\ndemo:counter\n",
         "lab.toml": '[[pv]]\nname = "lab:temperature"\nvalue = 21.5\n'}


def unescape(line: str) -> str:
    for roff, text in (("\\-", "-"), ("\\(aq", "'"), ("\\(dq", '"'), ("\\(em", "--"),
                       ("\\e", "\\")):
        line = line.replace(roff, text)
    return line


def examples(page: str) -> list[str]:
    """The ``$ `` lines of the EXAMPLES section of ``page``, unescaped."""
    text = (MAN / f"{page}.1").read_text()
    section = re.search(r"^\.SH EXAMPLES\n(.*?)(?=^\.SH )", text, re.M | re.S)
    assert section, f"{page}.1 has no EXAMPLES section"
    return [unescape(line[2:]) for line in section[1].splitlines() if line.startswith("$ ")]


def test_every_page_has_examples():
    assert {"caget", "caput", "cainfo", "camonitor", "casw", "catools"} <= set(PAGES)
    for page in PAGES:
        assert examples(page), page


def run_example(command: str, env: dict[str, str], cwd: Path) -> tuple[bool, str]:
    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", command], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=LONG)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        bad = [line for line in err.splitlines() if BAD_STDERR.search(line)]
        return not bad, f"still running after {LONG} s; stderr: {err!r}"
    want = EXPECTED.get(command, 0)
    return proc.returncode == want, \
        f"exit {proc.returncode} (want {want}); stdout: {out[-400:]!r}; stderr: {err[-400:]!r}"


@pytest.mark.parametrize("page", PAGES)
def test_examples_run_against_the_demo_server(page, tmp_path):
    commands = examples(page)
    if any("jq" in c for c in commands):
        assert shutil.which("jq"), "jq is not on PATH: install it (apt-get install jq)"
    port, repeater_port = free_port_pair()
    other = free_port()
    env = make_script_env(port, repeater_port)
    env["PATH"] = f"{env['PATH']}:{os.path.dirname(shutil.which('jq') or '/usr/bin/jq')}"
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    catools = str(Path(sys.executable).parent / "catools")
    repeater = subprocess.Popen([catools, "repeater"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    server = subprocess.Popen([catools, "serve", "--demo"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    failures = []
    try:
        assert "catools serve:" in server.stderr.readline()
        for command in commands:
            if SETUP.match(command):
                continue
            written = re.sub(r"EPICS_CA_SERVER_PORT=\d+", f"EPICS_CA_SERVER_PORT={port}",
                             command)
            written = re.sub(r"EPICS_CA_REPEATER_PORT=\d+",
                             f"EPICS_CA_REPEATER_PORT={repeater_port}", written)
            written = re.sub(r"--port \d+", f"--port {other}", written)
            ok, why = run_example(written, env, tmp_path)
            if not ok:
                failures.append(f"{page}.1: $ {command}\n    {why}")
    finally:
        terminate(server)
        terminate(repeater)
        for p in (port, repeater_port, other):
            release_port(p)
    assert not failures, "\n".join(failures)
