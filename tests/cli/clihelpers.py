"""Helpers for the CLI parity tests: run our console scripts and the real C tools.

Our scripts are run as subprocesses from the venv's scripts directory (the same files
pytest-console-scripts would launch), with the IOC's ``script_env``; the C tools with
the IOC's ``env`` (a PATH without caRepeater).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from epics_env import SoftIoc, c_tool_path, scripts_dir  # noqa: E402

#: Every record of tests/data/records.db, in file order.
RECORDS_DB = Path(__file__).resolve().parent.parent / "data" / "records.db"
ALL_RECORDS = re.findall(r'record\(\s*\w+\s*,\s*"([^"]+)"\s*\)', RECORDS_DB.read_text())
#: Records read in one batch per flag set. Left out, and tested on their own: TST:noaccess
#: (waits the full -w, prints a client time) and TST:wf:enum (the IOC fails its
#: DBR_TIME_STRING read, so the C caget waits the full -w).
SLOW_RECORDS = ("TST:noaccess", "TST:wf:enum")
READABLE = [r for r in ALL_RECORDS if r not in SLOW_RECORDS]

#: A client time as the tools print it (local time with microseconds).
CLIENT_TIME = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
ANSI = re.compile(rb"\x1b\[[0-9;]*m")


def our_tool(name: str) -> str:
    """Absolute path of our console script ``name``."""
    return str(Path(scripts_dir()) / name)


def run_ours(ioc: SoftIoc, tool: str, *args: str, env: Mapping[str, str] | None = None,
             input: bytes | None = None, timeout: float = 20.0) -> subprocess.CompletedProcess:
    """Run our console script against ``ioc``; bytes output."""
    full = dict(ioc.script_env)
    if env:
        full.update(env)
    return subprocess.run([our_tool(tool), *args], env=full, capture_output=True,
                          input=input, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)


def run_c(ioc: SoftIoc, tool: str, *args: str, env: Mapping[str, str] | None = None,
          timeout: float = 20.0, input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the real C tool; retry caget/cainfo when it exits 0 without output (the
    7.0.8.1 tools occasionally do that under load)."""
    for _ in range(3):
        proc = ioc.c_tool(tool, *args, env=env, timeout=timeout, input=input)
        if proc.stdout or proc.returncode != 0 or tool not in ("caget", "cainfo"):
            break
    return proc


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    assert b"Traceback" not in proc.stdout


def err_lines(proc: subprocess.CompletedProcess) -> list[str]:
    """stderr lines (ANSI colour codes stripped)."""
    return ANSI.sub(b"", proc.stderr).decode(errors="replace").splitlines()


class Monitor:
    """A running monitor process (ours or C) with bytes output collected at stop()."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(list(argv), env=dict(env), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0
             ) -> subprocess.CompletedProcess:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)


def start_monitor(ioc: SoftIoc, ours: bool, *args: str) -> Monitor:
    if ours:
        return Monitor([our_tool("camonitor"), *args], ioc.script_env)
    return Monitor([str(c_tool_path("camonitor")), *args], ioc.env)


def click_parse(command, args: Sequence[str]) -> tuple:
    """What a tool's click command makes of ``args``: ``("ok", its parameters, the
    order-sensitive options in order, the words left over)``, or how it ends."""
    import click
    try:
        ctx = command.make_context(command.name, list(args))
        return ("ok", dict(ctx.params), list(ctx.meta.get("order", [])), ctx.args)
    except click.exceptions.Exit as exc:
        return ("exit", exc.exit_code)
    except click.ClickException as exc:
        return ("error", type(exc).__name__, exc.format_message())
