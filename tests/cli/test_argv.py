"""A console script given a very long command line runs again on it read from a file
(``catools.cli._argv``): the same arguments, the same output."""
from __future__ import annotations

import os
import sys

import pytest

from catools.cli import _argv
from clihelpers import run_ours


def test_the_arguments_come_back_through_the_file(monkeypatch, tmp_path):
    script = tmp_path / "camonitor"
    script.write_text("")
    args = ["-w", "3", "", "naïve:PV", *(f"PV:{i}" for i in range(_argv.LONG))]
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-X", "utf8", str(script), *args])
    execs = []

    def execve(path, argv, env):
        with os.fdopen(os.dup(int(env[_argv.ARGS_FD].partition(":")[0])), "rb") as f:
            execs.append((path, argv, env, f.read()))
        raise OSError("not here")           # (returns: the tool would run as it is)
    monkeypatch.setattr(os, "execve", execve)
    _argv.restart_if_long()
    (path, argv, env, written), = execs
    assert (path, argv) == (sys.executable, [sys.executable, "-X", "utf8", str(script)])
    assert env[_argv.MMAP_THRESHOLD] == "262144"
    assert written == b"\0".join(map(os.fsencode, args))
    with pytest.raises(OSError):
        os.fstat(int(env[_argv.ARGS_FD].partition(":")[0]))   # (the exec failed: closed again)
    fd = os.open(tmp_path / "args", os.O_RDWR | os.O_CREAT)
    os.write(fd, b"\0".join(map(os.fsencode, args)))
    os.lseek(fd, 0, os.SEEK_SET)
    # the process run again: sys.argv[1:] from the file
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.setenv(_argv.ARGS_FD, f"{fd}:set")
    monkeypatch.setenv(_argv.MMAP_THRESHOLD, "262144")
    _argv.restart_if_long()
    assert sys.argv == [str(script), *args]
    assert _argv.ARGS_FD not in os.environ and _argv.MMAP_THRESHOLD not in os.environ
    with pytest.raises(OSError):
        os.fstat(fd)                        # (read and closed)


def test_a_short_command_line_runs_as_it_is(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["camonitor", "PV"])
    monkeypatch.setattr(os, "execve", lambda *a: pytest.fail("ran again"))
    _argv.restart_if_long()
    assert sys.argv == ["camonitor", "PV"]


def test_camonitor_on_a_long_command_line_prints_as_on_a_short_one(shared_ioc):
    long = run_ours(shared_ioc, "camonitor", "--count", "1", *["TST:ai"] * (_argv.LONG + 1))
    short = run_ours(shared_ioc, "camonitor", "--count", "1", "TST:ai")
    assert long.returncode == short.returncode == 0
    assert long.stdout == short.stdout and long.stdout.startswith(b"TST:ai ")
    assert long.stderr == short.stderr == b""
