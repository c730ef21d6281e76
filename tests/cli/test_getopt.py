"""A tool's ordinary command line is read without click (catools.cli._getopt.parse):
what it reads must be exactly what the tool's click command reads from the same words,
and whatever it does not read (help, bad options, missing values) is left to click."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import example, given, settings, strategies as st

from catools.cli import caget, cainfo, camonitor, caput, cawait
from catools.cli._getopt import parse
from clihelpers import click_parse

TOOLS = [caget, cainfo, camonitor, caput, cawait]
WORDS = st.sampled_from([
    "PV:A", "PV:B", "5", "0.5", "-1", "DBR_DOUBLE", "x", "", "-", "--", "-w", "-w5", "-t",
    "-a", "-ta", "-at", "-tn", "-nw3", "-w5t", "-d", "-dDBR_LONG", "-#", "-#3", "-F", "-F,",
    "-c", "-n", "-s", "-S", "-e", "-e4", "-f3", "-g", "-0x", "-0", "-lx", "-l", "-p", "-p10",
    "-z", "-i", "-h", "-V", "-th", "--json", "--file", "--file=x", "--jsn", "--full",
    "--fail-on", "major", "MINOR", "Invalid", "bogus", "--version", "--help", "-x", "-m",
    "-mva", "-s2", "--count", "--timeout", "--props", "--updates-only", "--stable", "--any",
    "3", "--count=2", "PV:A>3", "-ln", "-sS"])


@pytest.mark.parametrize("tool", TOOLS, ids=lambda m: m.TOOL.name)
@given(args=st.lists(WORDS, max_size=12))
@settings(max_examples=600, deadline=None)
@example(args=["-w", "5", "-a", "PV:A", "PV:B"])
@example(args=["PV:A", "-t", "--", "-x", "PV:B"])
@example(args=["-t", "-a", "-t", "-e", "3", "-e4", "PV:A"])
@example(args=["--fail-on", "major", "--json", "--full", "PV:A"])
@example(args=["--count", "3", "--count", "x", "PV:A"])
@example(args=["-t", "PV:A", "-1"])
def test_what_getopt_reads_is_what_click_reads(tool, args):
    spec = tool.TOOL
    fast = parse(args, spec.options, spec.permute)
    outcome = click_parse(tool.command, args)
    if fast is None:        # left to click: help, version, an error, or --name=value
        assert outcome[0] != "ok" or any(a.startswith(("--file=", "--count=")) for a in args)
        return
    values, order, words = fast
    assert outcome == ("ok", {**values, spec.positional: tuple(words)}, order, [])


@pytest.mark.parametrize("args", [
    ["PV:A"], ["-w", "5", "PV:A", "PV:B"], ["-a", "-f8", "PV:A"], ["-t", "-0x", "PV:A"],
    ["-d", "DBR_TIME_DOUBLE", "-#", "3", "PV:A"], ["--json", "PV:A"],
    ["-c", "-w0.5", "-p", "10", "-F", ",", "PV:A"], ["PV:A", "-n", "PV:B"],
    ["--fail-on", "MAJOR", "--file", "names.txt"]])
def test_the_usual_command_lines_are_read_without_click(args):
    assert parse(args, caget.OPTIONS) is not None


@pytest.mark.parametrize("tool, args", [
    (caput, ["PV:A", "-5"]), (caput, ["-t", "-c", "-w", "2", "PV:A", "1.5"]),
    (caput, ["-a", "PV:A", "3", "1", "2", "3"]), (camonitor, ["-m", "va", "PV:A"]),
    (camonitor, ["--json", "--count", "3", "--timeout", "2", "PV:A"]),
    (cainfo, ["-w", "1", "PV:A"]), (cawait, ["--timeout", "5", "PV:A>3"]),
    (cawait, ["-t", "5", "--stable", "1", "PV:A==1"])])
def test_the_other_tools_usual_command_lines_are_read_without_click(tool, args):
    assert parse(args, tool.TOOL.options, tool.TOOL.permute) is not None


@pytest.mark.parametrize("args", [
    ["-h"], ["-V"], ["--version"], ["-i", "PV:A"], ["-th", "PV:A"], ["-x", "PV:A"],
    ["PV:A", "-w"], ["--file=names.txt"], ["--fail-on", "worst", "PV:A"], ["--jsn"]])
def test_help_version_and_errors_are_left_to_click(args):
    assert parse(args, caget.OPTIONS) is None


CHILD = """
import os, sys
real_exit = os._exit
def report(code):
    sys.stdout.flush()
    print(json.dumps({"code": code, "click": "click" in sys.modules,
                      "typing": "typing" in sys.modules}), file=sys.stderr)
    sys.stderr.flush()
    real_exit(code)
import json
os._exit = report
script = sys.argv[1]
sys.argv = [script, *sys.argv[2:]]
import catools.cli
try:
    getattr(catools.cli, "main" if script == "catools" else script + "_main")()
except SystemExit as exc:       # (click's errors end so; a run ends with os._exit)
    report(exc.code)
"""


@pytest.mark.parametrize("args, click_loaded, lines", [
    (["caget", "-w", "5", "-a", "TST:ai"], False, 1),
    (["caget", "-t", "TST:ai", "TST:ao"], False, 2), (["caget", "-V"], True, 2),
    (["caget", "-w", "5", "-x", "TST:ai"], True, 0), (["cainfo", "TST:ai"], False, 7),
    (["catools", "get", "-t", "TST:ai", "TST:ao"], False, 2),
    (["catools", "get", "-x", "TST:ai"], True, 0), (["catools", "--version"], True, 1)])
def test_the_console_script_loads_click_only_when_the_line_needs_it(shared_ioc, args,
                                                                     click_loaded, lines):
    cp = subprocess.run([sys.executable, "-c", CHILD, *args], env=shared_ioc.env,
                        capture_output=True, text=True, timeout=30)
    report = json.loads(cp.stderr.strip().splitlines()[-1])
    assert report["click"] is click_loaded, cp.stderr
    assert report["typing"] is click_loaded     # (click imports typing; catools does not)
    assert report["code"] == (1 if "-x" in args else 0)
    assert len(cp.stdout.splitlines()) == lines, cp.stdout
