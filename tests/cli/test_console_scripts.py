"""The installed console scripts (through pytest-console-scripts) and the ``catools``
group give the C tools' output."""
from __future__ import annotations

import pytest

CASES = [
    ("caget", ["TST:ai", "TST:str", "TST:mbbo", "TST:wfd"]),
    ("caget", ["-a", "-F", ",", "TST:alarm"]),
    ("caget", ["-d", "CTRL_DOUBLE", "TST:ai"]),
    ("cainfo", ["TST:ro"]),
    ("caget", ["-z", "TST:ai"]),
    ("caget", ["TST:ai", "TST:nonexistent"]),
]


@pytest.mark.parametrize("tool, args", CASES)
def test_console_script_matches_the_c_tool(script_runner, shared_ioc, tool, args):
    c = shared_ioc.c_tool(tool, *args)
    ours = script_runner.run([tool, *args], env=shared_ioc.script_env)
    assert ours.returncode == c.returncode
    if c.returncode == 0:
        assert ours.stdout == c.stdout.decode()
    assert "Traceback" not in ours.stderr


@pytest.mark.parametrize("sub, tool", [("get", "caget"), ("info", "cainfo")])
def test_catools_group_runs_the_same_commands(script_runner, shared_ioc, sub, tool):
    group = script_runner.run(["catools", sub, "TST:ai", "TST:long"],
                              env=shared_ioc.script_env)
    direct = script_runner.run([tool, "TST:ai", "TST:long"], env=shared_ioc.script_env)
    assert group.returncode == direct.returncode == 0
    assert group.stdout == direct.stdout


def test_catools_group_errors_like_the_tool(script_runner, shared_ioc):
    result = script_runner.run(["catools", "get", "-z", "TST:ai"], env=shared_ioc.script_env)
    assert result.returncode == 1
    assert result.stderr == "Unrecognized option: '-z'. ('caget -h' for help.)\n"


def test_catools_help_lists_the_subcommands(script_runner, shared_ioc):
    result = script_runner.run(["catools", "--help"], env=shared_ioc.script_env)
    assert result.returncode == 0
    for sub in ("get", "put", "info", "monitor", "serve"):
        assert f"  {sub}" in result.stdout
