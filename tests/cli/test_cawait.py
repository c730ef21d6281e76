"""cawait against a real softIoc: conditions, --any, --stable, changed, enum labels, an
IOC restart while waiting, a PV that never appears, time-outs, exit codes and --json;
and catools.wait_for, the same engine (Waiter)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import catools
from catools.sync import Waiter, parse_condition
from clihelpers import our_tool


def cawait_argv() -> list[str]:
    """Our cawait console script (or its module, before the package is reinstalled)."""
    script = Path(our_tool("cawait"))
    return [str(script)] if script.exists() else [sys.executable, "-m", "catools.cli.cawait"]


def cawait(ioc, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run([*cawait_argv(), *args], env=ioc.script_env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def start_cawait(ioc, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*cawait_argv(), *args], env=ioc.script_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def finish(proc: subprocess.Popen, timeout: float = 20.0) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"cawait did not end: {out!r} {err!r}")
    assert "Traceback" not in err, err
    return proc.returncode, out, err


def test_condition_met_before_the_call_starts(module_ioc):
    proc = cawait(module_ioc, "-t", "5", "TST:ai", ">3", "TST:mbbi", "Two")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    caget = subprocess.run([our_tool("caget"), "TST:ai", "TST:mbbi"],
                           env=module_ioc.script_env, capture_output=True, text=True)
    assert proc.stdout == caget.stdout          # caget's format
    assert proc.stderr == ""


def test_timeout_names_the_failing_pvs(module_ioc):
    started = time.monotonic()
    proc = cawait(module_ioc, "-t", "0.5", "TST:ai", ">5", "TST:mbbi", "Two",
                  "TST:longin", "!0...100")
    assert time.monotonic() - started >= 0.5
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("cawait: timed out after 0.5 s: ")
    assert "TST:ai (>5" in lines[0] and "TST:longin (!0...100" in lines[0]
    assert "TST:mbbi" not in lines[0]


def test_a_pv_that_never_appears(module_ioc):
    proc = cawait(module_ioc, "-w", "0.3", "TST:ai", ">0", "NOPE:never", ">0")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == "Channel connect timed out: 'NOPE:never' not found.\n"
    proc = cawait(module_ioc, "-w", "0", "-t", "0.5", "NOPE:never", ">0")
    assert proc.returncode == 1
    assert proc.stderr == "cawait: timed out after 0.5 s: NOPE:never (>0: PV not found)\n"


def test_any_prints_only_the_pvs_that_hold(module_ioc):
    proc = cawait(module_ioc, "-t", "5", "--any", "TST:ai", ">5", "TST:mbbi", "==Two")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["TST:mbbi", "Two"]
    proc = cawait(module_ioc, "-t", "0.3", "--any", "TST:ai", ">5", "TST:mbbi", "One")
    assert proc.returncode == 1


def test_enum_by_label_and_by_number(module_ioc):
    assert cawait(module_ioc, "-t", "2", "TST:mbbi", "Two").returncode == 0
    assert cawait(module_ioc, "-t", "0.3", "TST:mbbi", "Three").returncode == 1
    proc = cawait(module_ioc, "-t", "2", "-n", "TST:mbbi", ">=2")
    assert proc.returncode == 0 and proc.stdout.split() == ["TST:mbbi", "2"]


def test_json_records(module_ioc):
    before = time.time()
    proc = cawait(module_ioc, "--json", "-t", "5", "TST:ai", "3...4")
    assert proc.returncode == 0, proc.stderr
    (record,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert record["name"] == "TST:ai" and record["value"] == pytest.approx(3.14159265)
    assert before <= record["client_epoch"] <= time.time()
    assert list(record)[-1] == "client_epoch" and "epoch" in record


def test_changed_needs_a_new_update(softioc):
    ioc = softioc()
    assert cawait(ioc, "-t", "0.5", "TST:ai", "changed").returncode == 1
    proc = start_cawait(ioc, "-t", "20", "TST:ai", "changed")
    time.sleep(1.0)
    assert proc.poll() is None                  # the current value is no change
    assert ioc.c_tool("caput", "TST:ai", "1.5").returncode == 0
    code, out, err = finish(proc)
    assert code == 0, err
    assert out.split() == ["TST:ai", "1.5"]


def test_stable_resets_when_the_condition_breaks(softioc):
    ioc = softioc()
    started = time.monotonic()
    proc = start_cawait(ioc, "-t", "20", "--stable", "1.5", "TST:ai", "<10")
    time.sleep(0.8)
    assert ioc.c_tool("caput", "TST:ai", "50").returncode == 0     # breaks it
    time.sleep(0.3)
    assert ioc.c_tool("caput", "TST:ai", "5").returncode == 0      # holds again
    code, out, err = finish(proc)
    assert code == 0, err
    assert out.split() == ["TST:ai", "5"]
    assert time.monotonic() - started >= 1.1 + 1.5


def test_ioc_restart_while_waiting(softioc):
    ioc = softioc()
    proc = start_cawait(ioc, "-t", "30", "TST:ai", ">5")
    time.sleep(0.8)
    ioc.restart()
    assert ioc.c_tool("caput", "TST:ai", "7").returncode == 0
    code, out, err = finish(proc, timeout=30)
    assert code == 0, err
    assert out.split() == ["TST:ai", "7"]


def test_usage_errors(module_ioc):
    proc = cawait(module_ioc, "TST:ai")
    assert proc.returncode == 1 and "pairs" in proc.stderr
    proc = cawait(module_ioc, "TST:ai", ">abc")
    assert proc.returncode == 1 and "not a number" in proc.stderr
    proc = cawait(module_ioc, "--stable", "x", "TST:ai", ">1")
    assert proc.returncode == 1 and "--stable" in proc.stderr


def test_catools_wait_subcommand(module_ioc):
    proc = subprocess.run([our_tool("catools"), "wait", "-t", "5", "TST:ai", ">3"],
                          env=module_ioc.script_env, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "TST:ai"


# --------------------------------------------------------------------------- the engine

def test_waiter_all_any_stable_and_changed():
    waiter = Waiter({"a": parse_condition(">1"), "b": parse_condition("changed")},
                    stable=1.0)
    waiter.update("a", 2.0, 0.0)
    waiter.update("b", 5.0, 0.0)
    assert not waiter.done(5.0) and waiter.failing(5.0) == ["b"]
    waiter.update("b", 6.0, 1.0)
    assert waiter.due(1.5) == 2.0 and not waiter.done(1.9) and waiter.done(2.0)
    waiter.disconnected("a")
    assert waiter.failing(3.0) == ["a"]
    some = Waiter({"a": parse_condition("!0...1"), "b": parse_condition("<0")}, any=True)
    some.update("a", 0.5, 0.0)
    assert not some.done(0.0)
    some.update("b", -1, 0.0)
    assert some.done(0.0) and some.holding(0.0) == ["b"]


def test_wait_for_uses_the_same_conditions(softioc):
    ioc = softioc()
    with catools.Context(server_port=ioc.port, addr_list=["127.0.0.1"],
                         auto_addr_list=False) as ctx:
        assert catools.wait_for("TST:mbbi", "Two", timeout=5, context=ctx).value == "Two"
        with pytest.raises(catools.Timeout):
            catools.wait_for("TST:ai", "changed", timeout=0.5, context=ctx)
        started = time.monotonic()
        reading = catools.wait_for("TST:ai", "!10...20", timeout=5, stable=0.5,
                                   context=ctx)
        assert time.monotonic() - started >= 0.5 and reading.value < 10


def test_man_page_documents_every_option():
    from test_man import click_options, documented, page_text
    from catools.cli.cawait import command
    assert set(documented(page_text("cawait"), "OPTIONS")) == click_options(command)
