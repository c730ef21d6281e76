"""On a terminal the tools colour alarm severities without changing the layout; piped
or with NO_COLOR they print plain bytes; rich is imported only for a terminal."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(sys.executable).parent
_ANSI = re.compile(rb"\x1b\[[0-9;]*m")


def _run_on_pty(argv: list[str], env: dict[str, str], timeout: float = 15.0) -> bytes:
    """Run with stdout on a pseudo-terminal (stderr too); return what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:          # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(timeout=timeout)
    return b"".join(chunks).replace(b"\r\n", b"\n")


def test_caget_colours_severity_on_a_terminal_only(shared_ioc):
    argv = [str(SCRIPTS / "caget"), "-a", "TST:ai", "TST:alarm"]
    env = dict(shared_ioc.script_env, TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    piped = subprocess.run(argv, env=env, capture_output=True, timeout=15).stdout
    on_tty = _run_on_pty(argv, env)
    assert b"\x1b[" not in piped
    assert _ANSI.search(on_tty), on_tty           # the MAJOR line is coloured
    coloured = [line for line in on_tty.splitlines() if _ANSI.search(line)]
    assert len(coloured) == 1 and b"MAJOR" in coloured[0]
    # same layout: with the escapes removed the bytes are the piped bytes (the
    # timestamps are the record's, so they match)
    assert _ANSI.sub(b"", on_tty) == piped


def test_no_color_turns_colour_off(shared_ioc):
    argv = [str(SCRIPTS / "caget"), "-a", "TST:alarm"]
    env = dict(shared_ioc.script_env, NO_COLOR="1", TERM="xterm-256color")
    on_tty = _run_on_pty(argv, env)
    assert b"\x1b[" not in on_tty and b"HIHI MAJOR" in on_tty


def test_rich_is_not_imported_for_piped_output(shared_ioc):
    code = ("import sys, runpy; sys.argv = ['caget', 'TST:ai'];\n"
            "from catools.cli import caget\n"
            "try:\n    caget.command.main(['TST:ai'])\n"
            "except SystemExit:\n    pass\n"
            "sys.stderr.write('RICH' if any(m.split('.')[0] == 'rich' for m in sys.modules)"
            " else 'NORICH')\n")
    proc = subprocess.run([sys.executable, "-c", code], env=shared_ioc.script_env,
                          capture_output=True, timeout=15)
    assert proc.stdout.startswith(b"TST:ai ")
    assert proc.stderr.endswith(b"NORICH"), proc.stderr


def test_error_word_has_no_ansi_on_a_pipe(shared_ioc):
    proc = subprocess.run([str(SCRIPTS / "caput"), "TST:ro", "1"], env=shared_ioc.script_env,
                          capture_output=True, timeout=15)
    assert proc.returncode == 1
    assert proc.stderr == b"ERROR from put operation: Write access denied\n"
