"""What a one-shot caget loads and leaves on: start-up cost is a feature (issue 3).

A real caget (the console scripts' own start-up, then the command) reads a PV from
softIoc in a child process that then lists the modules it loaded.
"""
from __future__ import annotations

import json
import subprocess
import sys

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
modules = sorted(sys.modules)
import json
print(json.dumps({"code": code, "gc": gc.isenabled(), "modules": modules}), file=sys.stderr)
"""

#: Imported only when needed: suggestions of unknown options, gettext catalogs, colour,
#: JSON, ECA messages, the server, click's version lookup.
NOT_ON_A_PLAIN_GET = ("difflib", "locale", "rich", "json", "catools.format._json",
                      "catools.protocol._status", "catools.server", "importlib.metadata")


def run_child(ioc, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    cp = subprocess.run([sys.executable, "-c", CHILD, *args], env=ioc.env,
                        capture_output=True, text=True, timeout=30)
    return cp, json.loads(cp.stderr.strip().splitlines()[-1])


def test_a_plain_get_loads_only_what_it_uses(shared_ioc):
    # -w and -a are short options: click must not build "did you mean" suggestions
    cp, report = run_child(shared_ioc, "-w", "5", "-a", "TST:ai")
    assert report["code"] == 0 and cp.stdout.startswith("TST:ai ")
    loaded = set(report["modules"])
    assert "catools.client" in loaded and "catools.format._epics" in loaded
    assert sorted(loaded & set(NOT_ON_A_PLAIN_GET)) == []
    assert report["gc"] is False        # a one-shot tool runs without the cyclic GC


def test_the_list_would_see_a_loaded_module(shared_ioc):
    cp, report = run_child(shared_ioc, "--json", "TST:ai")
    assert report["code"] == 0 and json.loads(cp.stdout)["name"] == "TST:ai"
    assert "catools.format._json" in report["modules"] and "json" in report["modules"]
