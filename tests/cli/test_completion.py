"""Shell completion (click's) for bash, zsh and fish: every console script gives its
completion script, and completing ``-`` offers every option of every tool (and of each
``catools`` subcommand); ``catools`` completes its subcommands."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from catools.cli import SUBCOMMANDS

SCRIPTS = Path(sys.executable).parent
TOOLS = {"caget": "caget", "caput": "caput", "cainfo": "cainfo", "camonitor": "camonitor",
         "casw": "casw", "cawait": "cawait"}
INSTALLED = [t for t in TOOLS if (SCRIPTS / t).exists()]


def complete(prog: str, shell: str, words: str, env_extra: dict | None = None) -> str:
    var = f"_{prog.upper()}_COMPLETE"
    # (bash and zsh give the index of the word completed; fish the word itself)
    cword = words.split(" ")[-1] if shell == "fish" else str(len(words.split(" ")) - 1)
    env = dict(os.environ, **{var: f"{shell}_complete", "COMP_WORDS": words,
                              "COMP_CWORD": cword}, **(env_extra or {}))
    proc = subprocess.run([str(SCRIPTS / prog)], env=env, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def offered(prog: str, words: str) -> set[str]:
    """What bash completion offers (``type,value`` lines)."""
    return {line.split(",", 1)[1] for line in complete(prog, "bash", words).splitlines()
            if "," in line}


def options_of(command: click.Command) -> set[str]:
    out: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            out.update(o for o in param.opts + param.secondary_opts)
    return out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@pytest.mark.parametrize("prog", [*INSTALLED, "catools"])
def test_completion_script(prog, shell):
    var = f"_{prog.upper()}_COMPLETE"
    proc = subprocess.run([str(SCRIPTS / prog)], env=dict(os.environ, **{var: f"{shell}_source"}),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and f"_{prog}_completion" in proc.stdout.replace("-", "_")
    assert f"{shell}_complete" in proc.stdout


@pytest.mark.parametrize("tool", INSTALLED)
def test_every_option_of_each_tool(tool):
    command = importlib.import_module(f"catools.cli.{tool}").command
    expected = options_of(command)
    assert expected and offered(tool, f"{tool} -") >= expected


def test_catools_subcommands_and_their_options():
    assert offered("catools", "catools ") >= set(SUBCOMMANDS)
    for sub, (module, attr) in SUBCOMMANDS.items():
        command = getattr(importlib.import_module(module), attr)
        if isinstance(command, click.Group):
            assert offered("catools", f"catools {sub} ") >= set(command.commands), sub
            for name, child in command.commands.items():
                assert offered("catools", f"catools {sub} {name} -") >= options_of(child)
        else:
            expected = options_of(command)
            assert offered("catools", f"catools {sub} -") >= expected, sub


def test_zsh_and_fish_answers():
    zsh = complete("caget", "zsh", "caget --j").splitlines()
    assert "--json" in zsh
    fish = complete("catools", "fish", "catools doctor --", ).splitlines()
    assert any(line.startswith("plain,--beacons") for line in fish)
