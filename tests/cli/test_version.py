"""Every console script answers ``--version`` (our addition) while ``-V`` stays the C
tools' line and an unknown long option still gets the C tools' message; FORCE_COLOR and
TERM=dumb are honoured as NO_COLOR is."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from catools._version import __version__

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(sys.executable).parent
#: The console scripts the package declares (cawait only once it is installed here).
DECLARED = list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])
INSTALLED = [name for name in DECLARED if (SCRIPTS / name).exists()]


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPTS / argv[0]), *argv[1:]], capture_output=True,
                          text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("tool", INSTALLED)
def test_version(tool):
    proc = run(tool, "--version")
    assert proc.returncode == 0 and proc.stderr == ""
    if tool == "catools":
        assert proc.stdout == f"catools, version {__version__}\n"
    else:
        assert proc.stdout == f"{tool} (epics-catools) {__version__}\n"


def test_every_declared_script_is_checked():
    assert {"caget", "caput", "cainfo", "camonitor", "casw", "catools"} <= set(INSTALLED)


@pytest.mark.parametrize("tool", ["caget", "caput", "cainfo", "camonitor"])
def test_dash_v_and_unknown_long_options_unchanged(tool):
    proc = run(tool, "-V")
    assert proc.returncode == 0
    assert proc.stdout == f"\nEPICS Version catools {__version__} (Python), " \
        "CA Protocol version 4.13\n"
    bad = run(tool, "--versio")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr == f"Unrecognized option: '--versio'. ('{tool} -h' for help.)\n"


def test_catools_subcommand_version():
    proc = run("catools", "get", "--version")
    assert (proc.returncode, proc.stdout) == (0, f"caget (epics-catools) {__version__}\n")


# -- colour: NO_COLOR, FORCE_COLOR, TERM=dumb ----------------------------------------

def _caget(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPTS / "caget"), "-a", "TST:alarm"], env=env,
                          capture_output=True, timeout=15)


def test_force_color_colours_a_pipe(shared_ioc):
    env = {k: v for k, v in shared_ioc.script_env.items() if k != "NO_COLOR"}
    plain = _caget(env).stdout
    assert b"\x1b[" not in plain and b"MAJOR" in plain
    forced = _caget(dict(env, FORCE_COLOR="1", TERM="dumb")).stdout
    assert forced.startswith(b"\x1b[") and b"MAJOR" in forced
    assert _caget(dict(env, FORCE_COLOR="0")).stdout == plain
    assert _caget(dict(env, FORCE_COLOR="1", NO_COLOR="1")).stdout == plain


def test_term_dumb_turns_colour_off_on_a_terminal(shared_ioc):
    sys.path.insert(0, os.path.dirname(__file__))
    from test_tty import _run_on_pty
    argv = [str(SCRIPTS / "caget"), "-a", "TST:alarm"]
    env = {k: v for k, v in shared_ioc.script_env.items() if k != "NO_COLOR"}
    assert b"\x1b[" in _run_on_pty(argv, dict(env, TERM="xterm"))
    dumb = _run_on_pty(argv, dict(env, TERM="dumb"))
    assert b"\x1b[" not in dumb and b"HIHI MAJOR" in dumb


def test_rich_colour_enabled_reads_the_same_variables():
    from catools.format._rich import colour_enabled
    assert colour_enabled({"TERM": "xterm"})
    assert not colour_enabled({"TERM": "dumb"})
    assert colour_enabled({"TERM": "dumb", "FORCE_COLOR": "1"})
    assert not colour_enabled({"TERM": "xterm", "NO_COLOR": "1", "FORCE_COLOR": "1"})
