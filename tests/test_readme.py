"""Every command in README.md is exercised here (the test command by .ci/run)."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess

import pytest

import epics_env

README = epics_env.REPO_ROOT / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), re.S)


@pytest.fixture
def demo_server(port_pair):
    """An in-process ``catools serve --demo`` on a free port (loopback settings)."""
    from catools.config import ServerConfig
    from catools.server import Server, install_demo

    port, rport = port_pair
    env = epics_env.make_script_env(port, rport)
    server = Server(config=ServerConfig.from_env(env))
    install_demo(server, "demo:")
    server.start_in_thread()
    try:
        yield env
    finally:
        server.stop()


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    first_block = text.index("```bash")
    assert text[:first_block].count("```") == 0        # nothing before the two commands
    run, test = _blocks("bash")[:2]
    assert "pip install ." in run and "catools serve --demo" in run and "caget" in run
    assert test.strip() == ("python3 -m venv .venv && . .venv/bin/activate && "
                            "pip install -e '.[test]' && python tests/peers.py && "
                            "python -m pytest -q")


def test_ci_runs_the_readme_test_command():
    ci = (epics_env.REPO_ROOT / ".ci" / "run").read_text()
    test = _blocks("bash")[1]
    assert "pip install -e '.[test]'" in ci
    assert "python tests/peers.py" in ci
    command = test.split("&&")[-1].strip()
    assert re.search(rf"^\s*{re.escape(command)}\s*(\|\||$)", ci, re.M), command


def test_first_command_works_in_a_fresh_venv(tmp_path, port_pair):
    """The 'try it' block, as written, in a copy of the repository and a new venv."""
    repo = tmp_path / "catools"
    shutil.copytree(epics_env.REPO_ROOT, repo, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", ".peers", "*.egg-info", "__pycache__", ".pytest_cache",
        "build"))
    port, rport = port_pair
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EPICS_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PATH=epics_env.SAFE_PATH, EPICS_CA_SERVER_PORT=str(port),
               EPICS_CA_REPEATER_PORT=str(rport))
    block = _blocks("bash")[0]
    # its own session: a command that fails must not leave the demo server running
    proc = subprocess.Popen(["bash", "-e", "-c", block], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=900)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    out = stdout.decode()
    assert proc.returncode == 0, stderr.decode()[-3000:]
    lines = [line for line in out.splitlines() if line.startswith("demo:")]  # after pip's
    assert lines[0].startswith("demo:sine ") and lines[1].startswith("demo:mode ")
    assert lines[2].startswith("demo:message ") and "Hello" in lines[2]
    monitor = [line for line in lines[3:] if line.startswith("demo:sine ")]
    assert len(monitor) == 5
    # the server was stopped: its port is free again
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", port))


def test_console_examples_against_the_demo_server(demo_server):
    (block,) = _blocks("console")
    commands = [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    assert len(commands) >= 8
    for command in commands:
        proc = subprocess.run(shlex.split(command), env=demo_server, capture_output=True,
                              timeout=30)
        assert proc.returncode == 0, (command, proc.stderr.decode())
        assert proc.stdout.strip(), command
        assert b"Traceback" not in proc.stderr


def test_python_examples_run(demo_server, monkeypatch):
    for name, value in demo_server.items():
        if name.startswith("EPICS_"):
            monkeypatch.setenv(name, value)
    blocks = _blocks("python")
    assert len(blocks) == 2
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)   # noqa: S102
    assert namespace["reading"].metadata.units == b"mA"
    assert namespace["updates"].count("update") >= 3
    namespace = {}
    exec(compile(blocks[1], "README.md", "exec"), namespace)   # noqa: S102
    assert namespace["datagram"].startswith(b"\x00\x00")       # VERSION first
    assert b"demo:sine\x00" in namespace["datagram"]
    assert b"demo:sine\x00" in namespace["to_send"]
