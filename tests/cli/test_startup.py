"""What a one-shot caget loads and leaves on: start-up cost is a feature (issue 3).

A real caget (the console scripts' own start-up, then the command) reads a PV from
softIoc in a child process that then lists the modules it loaded.
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click

CHILD = """
import sys
from catools.cli import _startup
_startup()                                  # what every console script does first
from catools.cli.caget import command
try:
    command.main(sys.argv[1:], prog_name="caget")
except SystemExit as exc:
    code = exc.code
import gc
deferred = sorted(n for n, m in sys.modules.items() if type(m).__name__ == "_Deferred")
modules = sorted(n for n in sys.modules if n not in deferred)
import json
print(json.dumps({"code": code, "gc": gc.isenabled(), "modules": modules,
                  "deferred": deferred}), file=sys.stderr)
"""

#: Imported only when needed: suggestions of unknown options, gettext catalogs, colour,
#: JSON, ECA messages, the server, click's version lookup, inspect (click's help text),
#: the socket and selectors wrappers (the client uses _socket and select directly),
#: importlib (the entry points and catools import without it), the modules that
#: click imports only for what a plain get does not do (DEFERRED, and platform's uuid
#: asks it just its name).
NOT_ON_A_PLAIN_GET = ("difflib", "locale", "rich", "json", "catools.format._json",
                      "catools.protocol._status", "catools.server", "importlib.metadata",
                      "inspect", "ast", "dis", "socket", "selectors", "importlib",
                      "platform", "datetime", "gettext", "threading")


def python_c(code: str, *args: str, env: dict | None = None) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``python -c code args...``."""
    cp = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                        text=True, timeout=30)
    return cp.returncode, cp.stdout, cp.stderr


def run_child(ioc, *args: str, child: str = CHILD) -> tuple[str, dict]:
    """stdout, and the report (the last stderr line) of ``child`` on ``args``."""
    _, out, err = python_c(child, *args, env=ioc.env)
    return out, json.loads(err.strip().splitlines()[-1])


def test_a_plain_get_loads_only_what_it_uses(shared_ioc):
    # -w and -a are short options: click must not build "did you mean" suggestions
    out, report = run_child(shared_ioc, "-w", "5", "-a", "TST:ai")
    assert report["code"] == 0 and out.startswith("TST:ai ")
    loaded = set(report["modules"])
    assert "catools.client" in loaded and "catools.format._epics" in loaded
    assert sorted(loaded & set(NOT_ON_A_PLAIN_GET)) == []
    assert report["deferred"] == ["datetime", "gettext", "inspect", "platform",
                                  "threading"]          # (imported by click: unused)
    assert report["gc"] is False        # a one-shot tool runs without the cyclic GC


GROUP_CHILD = """
import sys
from catools.cli import _startup
_startup()
from catools.cli.group import cli
try:
    cli.main(["get", *sys.argv[1:]], prog_name="catools")
except SystemExit as exc:
    code = exc.code
deferred = sorted(n for n, m in sys.modules.items() if type(m).__name__ == "_Deferred")
import json
print(json.dumps({"code": code, "deferred": deferred}), file=sys.stderr)
"""


def test_catools_get_loads_no_more_than_caget(shared_ioc):
    # the group's own help option is made without gettext and inspect
    out, report = run_child(shared_ioc, "-w", "5", "TST:ai", child=GROUP_CHILD)
    assert report["code"] == 0 and out.startswith("TST:ai ")
    assert report["deferred"] == ["datetime", "gettext", "inspect", "platform", "threading"]


def test_the_list_would_see_a_loaded_module(shared_ioc):
    out, report = run_child(shared_ioc, "--json", "TST:ai")
    assert report["code"] == 0 and json.loads(out)["name"] == "TST:ai"
    assert "catools.format._json" in report["modules"] and "json" in report["modules"]


DEFERRED_CHILD = """
import sys
from catools.cli import _startup
_startup()
import click                                # imports inspect: still deferred
assert "ast" not in sys.modules and type(sys.modules["inspect"]).__name__ == "_Deferred"
import inspect
assert inspect.cleandoc("  a\\n  b") == "a\\nb"    # first use: the real module
assert type(sys.modules["inspect"]).__name__ == "module" and "ast" in sys.modules
assert inspect.signature is sys.modules["inspect"].signature
from inspect import isclass                 # later imports get the real one
assert isclass(int)
print("ok")
"""


def test_a_deferred_module_is_the_real_one_on_first_use():
    assert python_c(DEFERRED_CHILD) == (0, "ok\n", "")


PLATFORM_CHILD = """
import sys
from catools.cli import _startup
_startup()
import click                                # uuid asks platform for the system's name
assert type(sys.modules["platform"]).__name__ == "_Deferred"
import platform
name = platform.system()                    # answered by the stand-in
assert type(sys.modules["platform"]).__name__ == "_Deferred"
machine = platform.machine()                # first other use: the real module
assert type(sys.modules["platform"]).__name__ == "module"
assert platform.system is sys.modules["platform"].system
import os
assert (name, machine) == (platform.system(), os.uname().machine)
print(name)
"""


def test_platform_is_the_real_one_on_first_use():
    assert python_c(PLATFORM_CHILD) == (0, "Linux\n", "")


DATETIME_CHILD = """
import sys
from catools.cli import _startup
_startup()
import click
from click.types import datetime as taken   # click's only use at import: the class
assert type(sys.modules["datetime"]).__name__ == "_Deferred"
import datetime
assert datetime.timedelta(1).days == 1      # first other use: the real module
assert type(sys.modules["datetime"]).__name__ == "module"
assert taken is datetime.datetime
print(click.DateTime(["%Y"]).convert("2024", None, None).year)
"""


def test_datetime_is_the_real_one_on_first_use():
    assert python_c(DATETIME_CHILD) == (0, "2024\n", "")


STAND_INS_CHILD = """
import sys
from catools.cli import _startup
_startup()
import click, click.core, click.globals
kinds = lambda: [type(sys.modules[n]).__name__ for n in ("gettext", "threading")]
assert kinds() == ["_Deferred", "_Deferred"]
assert click.core._("Usage:") == "Usage:"      # a call: the real gettext's answer
assert click.core.ngettext("a", "b", 2) == "b"
assert kinds() == ["module", "_Deferred"]
import gettext
assert click.core._("Usage:") == gettext.gettext("Usage:")
import threading
assert threading.current_thread() is threading.main_thread()   # the real module
assert kinds() == ["module", "module"] and click.globals.local is threading.local
done = []
worker = threading.Thread(target=done.append, args=(1,))
worker.start()
worker.join()
print(done)
"""


def test_gettext_and_threading_are_the_real_ones_on_first_use():
    assert python_c(STAND_INS_CHILD) == (0, "[1]\n", "")


def test_the_interpreter_exits_cleanly_with_threading_unloaded():
    # at exit the interpreter calls threading._shutdown: the stand-in has nothing to wait for
    # (atexit functions run after it: the real module was not imported for it)
    code = ("import atexit, sys; from catools.cli import _startup; _startup(); "
            "import click; atexit.register(lambda: print("
            "type(sys.modules['threading']).__name__))")
    assert python_c(code) == (0, "_Deferred\n", "")


def test_help_uses_the_deferred_module(script_runner, shared_ioc):
    # click dedents a command's help text with inspect.cleandoc: the real module loads
    result = script_runner.run(["catools", "get", "--help"], env=shared_ioc.script_env)
    assert result.returncode == 0 and "Usage: caget" in result.stderr


def test_every_option_help_is_kept_as_click_would_clean_it():
    # CaOption skips click's inspect.cleandoc: each help text must already be clean
    import inspect

    from catools.cli import SUBCOMMANDS, group
    from catools.cli._options import CaOption
    commands = [group.cli] + [getattr(importlib.import_module(module), attr)
                              for module, attr in SUBCOMMANDS.values()]
    helps = 0
    for command in commands:
        for param in command.params:
            if isinstance(param, click.Option):
                assert isinstance(param, CaOption), (command.name, param.name)
                if param.help:
                    helps += 1
                    assert inspect.cleandoc(param.help) == param.help, param.name
    assert helps > 50
