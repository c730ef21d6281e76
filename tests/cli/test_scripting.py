"""caget --fail-on and --json --full, camonitor --json --props and --updates-only, the
client_epoch of every streamed record, and the JSON Schema over every tool's records,
against a real softIoc."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from clihelpers import our_tool, run_ours, start_monitor

SCHEMA = json.loads(resources.files("catools").joinpath("schema/records.schema.json")
                    .read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def records(stdout: bytes | str) -> list[dict]:
    text = stdout.decode() if isinstance(stdout, bytes) else stdout
    objs = [json.loads(line) for line in text.splitlines()]
    for obj in objs:
        VALIDATOR.validate(obj)
    return objs


def test_schema_has_a_version_and_rejects_bad_records():
    from catools.format._json import SCHEMA_VERSION
    assert SCHEMA["schema_version"] == SCHEMA_VERSION
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    for bad in ({"name": "X", "ok": True}, {"name": "X", "ok": False, "error": "oops",
                                            "message": "m"},
                {"name": "X", "event": "connected", "ok": True}):
        assert not VALIDATOR.is_valid(bad), bad


def test_fail_on(module_ioc):
    assert run_ours(module_ioc, "caget", "TST:ai", "TST:alarm").returncode == 0
    for level, status in (("MINOR", 3), ("major", 3), ("INVALID", 0)):
        proc = run_ours(module_ioc, "caget", "--fail-on", level, "TST:ai", "TST:alarm")
        assert proc.returncode == status, (level, proc.stderr)
        assert b"TST:alarm" in proc.stdout
    assert run_ours(module_ioc, "caget", "--fail-on", "MINOR", "TST:ai").returncode == 0
    proc = run_ours(module_ioc, "caget", "-w", "0.3", "--fail-on", "MINOR", "TST:alarm",
                    "NOPE")
    assert proc.returncode == 1                 # not found still says 1
    assert run_ours(module_ioc, "caget", "--fail-on", "BAD", "TST:ai").returncode != 0


def test_caget_full_merges_time_and_ctrl(module_ioc):
    before = time.time()
    proc = run_ours(module_ioc, "caget", "--json", "--full", "-w", "0.3", "TST:ai",
                    "TST:mbbi", "NOPE")
    assert proc.returncode == 1
    ai, mbbi, nope = records(proc.stdout)
    assert ai["type"] == "DBR_TIME_DOUBLE" and ai["units"] == "mm" and ai["precision"] == 3
    assert ai["limits"]["upper_alarm"] == 80.0 and ai["timestamp"] and "severity" in ai
    assert before <= ai["client_epoch"] <= time.time()
    assert mbbi["value"] == "Two" and mbbi["enum_strings"][:3] == ["Zero", "One", "Two"]
    assert nope["error"] == "not_found"
    plain = records(run_ours(module_ioc, "caget", "--json", "TST:ai").stdout)[0]
    assert "units" not in plain and "client_epoch" in plain      # (every record has it)
    assert run_ours(module_ioc, "caget", "--full", "TST:ai").returncode == 1


def test_camonitor_props_and_updates_only(softioc):
    ioc = softioc()
    mon = start_monitor(ioc, True, "--json", "--props", "TST:ai")
    time.sleep(1.0)
    assert ioc.c_tool("caput", "TST:ai.EGU", "cm").returncode == 0
    time.sleep(0.5)
    objs = records(mon.stop().stdout)
    assert all("client_epoch" in o for o in objs)
    props = [o for o in objs if o["event"] == "property"]
    assert [p["units"] for p in props][:1] == ["mm"] and props[-1]["units"] == "cm"
    assert objs[0]["event"] == "connected"
    mon = start_monitor(ioc, True, "--json", "--updates-only", "-w", "0.3", "TST:ai",
                        "NOPE")
    time.sleep(1.0)
    objs = records(mon.stop().stdout)
    assert objs and {o["event"] for o in objs} == {"update"}
    proc = run_ours(ioc, "camonitor", "--props", "TST:ai", timeout=10)
    assert proc.returncode == 1 and b"--json" in proc.stderr


def test_every_tool_validates(module_ioc):
    """Success, failure and event records of caget, caput, cainfo, camonitor, cawait."""
    outs = [run_ours(module_ioc, "caget", "--json", "-w", "0.3", "TST:ai", "TST:mbbi",
                     "TST:wfl", "TST:str", "NOPE", "TST:noaccess").stdout,
            run_ours(module_ioc, "caget", "--json", "-d", "DBR_CTRL_DOUBLE", "TST:ai").stdout,
            run_ours(module_ioc, "caput", "--json", "TST:long", "5").stdout,
            run_ours(module_ioc, "caput", "--json", "-w", "0.3", "TST:ro", "5").stdout,
            run_ours(module_ioc, "cainfo", "--json", "-w", "0.3", "TST:ai", "NOPE").stdout]
    script = Path(our_tool("cawait"))
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "catools.cli.cawait"]
    outs.append(subprocess.run([*argv, "--json", "-t", "5", "TST:ai", ">0"],
                               env=module_ioc.script_env, capture_output=True).stdout)
    mon = start_monitor(module_ioc, True, "--json", "--props", "-w", "0.3", "TST:long",
                        "TST:noaccess", "NOPE")
    time.sleep(1.2)
    outs.append(mon.stop().stdout)
    objs = [o for out in outs for o in records(out)]
    kinds = {(o.get("event"), o["ok"]) for o in objs}
    assert {(None, True), (None, False), ("connected", True), ("update", True),
            ("property", True), ("not_found", False), ("no_read_access", False)} <= kinds
    assert all("client_epoch" in o for o in objs if "event" in o or "which" in o)
