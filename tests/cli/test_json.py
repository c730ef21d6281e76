"""--json on every tool: strict NDJSON (real jq), documented keys, NaN/Infinity as
strings, missing PVs as error records; --file with a file, with stdin, with 2000 names."""
from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from clihelpers import READABLE, no_traceback, run_ours, start_monitor

JQ = shutil.which("jq")
READING_KEYS = ("name", "ok", "type", "native_type", "count", "value")


def jq_ok(data: bytes) -> list[dict]:
    """Every line passes `jq -e .` (real jq) and json.loads; return the objects."""
    assert JQ, "jq is not on PATH: install it (apt-get install jq; .ci/run does this)"
    lines = data.decode().splitlines()
    assert lines
    for line in lines:
        proc = subprocess.run([JQ, "-e", "."], input=line.encode(), capture_output=True)
        assert proc.returncode == 0, (line, proc.stderr)
    return [json.loads(line, parse_constant=lambda c: pytest.fail(f"token {c}"))
            for line in lines]


@pytest.fixture(scope="module")
def nan_ioc(module_ioc):
    """TST:ao = NaN, TST:alarm = -inf, TST:ai = inf (written with the C caput)."""
    for pv, value in (("TST:ao", "nan"), ("TST:alarm", "-inf"), ("TST:ai", "inf")):
        assert module_ioc.c_tool("caput", pv, value).returncode == 0
    return module_ioc


def test_caget_json_every_record(module_ioc):
    proc = run_ours(module_ioc, "caget", "--json", *READABLE)
    no_traceback(proc)
    assert proc.returncode == 0
    objs = jq_ok(proc.stdout)
    assert [o["name"] for o in objs] == READABLE
    for o in objs:
        assert tuple(o)[:6] == READING_KEYS and o["ok"] is True
        assert "timestamp" in o and "severity" in o


def test_caget_json_nan_inf(nan_ioc):
    proc = run_ours(nan_ioc, "caget", "--json", "TST:ao", "TST:alarm", "TST:ai")
    objs = jq_ok(proc.stdout)
    assert [o["value"] for o in objs] == ["NaN", "-Infinity", "Infinity"]
    ctrl = jq_ok(run_ours(nan_ioc, "caget", "--json", "-d", "CTRL_DOUBLE",
                          "TST:alarm").stdout)
    assert ctrl[0]["limits"]["lower_alarm"] == "NaN"      # unset limit


def test_caget_json_missing_and_no_access(module_ioc):
    proc = run_ours(module_ioc, "caget", "--json", "-w", "0.3", "TST:long", "NOPE",
                    "TST:noaccess")
    no_traceback(proc)
    assert proc.returncode == 1
    objs = jq_ok(proc.stdout)
    by = {o["name"]: o for o in objs}
    assert by["TST:long"]["value"] == 42 or by["TST:long"]["ok"] is True
    nope = dict(by["NOPE"])
    assert abs(nope.pop("client_epoch") - time.time()) < 60     # when it was printed
    assert nope == {"name": "NOPE", "ok": False, "error": "not_found",
                    "message": "Channel connect timed out: 'NOPE' not found."}
    assert by["TST:noaccess"]["ok"] is False
    assert by["TST:noaccess"]["error"] == "no_read_access"


def test_cainfo_json(module_ioc):
    proc = run_ours(module_ioc, "cainfo", "--json", "-w", "0.3", "TST:ai", "TST:ro",
                    "TST:wfd", "NOPE")
    no_traceback(proc)
    assert proc.returncode == 1
    objs = jq_ok(proc.stdout)
    assert [o["name"] for o in objs] == ["TST:ai", "TST:ro", "TST:wfd", "NOPE"]
    assert objs[-1]["ok"] is False and objs[-1]["error"] == "not_found"


def test_caput_json(module_ioc):
    proc = run_ours(module_ioc, "caput", "--json", "TST:long", "17")
    no_traceback(proc)
    assert proc.returncode == 0
    old, new = jq_ok(proc.stdout)
    assert (old["which"], new["which"]) == ("old", "new")
    assert new["value"] == 17 and new["name"] == "TST:long"
    proc = run_ours(module_ioc, "caput", "--json", "TST:ao", "nan")
    assert jq_ok(proc.stdout)[-1]["value"] == "NaN"


def test_camonitor_json_events(module_ioc):
    mon = start_monitor(module_ioc, True, "--json", "-w", "0.3", "TST:long", "TST:noaccess",
                        "NOPE")
    time.sleep(1.5)
    assert module_ioc.c_tool("caput", "TST:long", "99").returncode == 0
    time.sleep(0.5)
    res = mon.stop()
    no_traceback(res)
    objs = jq_ok(res.stdout)
    events = {(o["name"], o["event"]) for o in objs}
    assert {("TST:long", "connected"), ("TST:long", "update"),
            ("TST:noaccess", "no_read_access"), ("NOPE", "not_found")} <= events
    updates = [o for o in objs if o["event"] == "update"]
    assert updates[-1]["value"] == 99
    assert all(tuple(o)[:2] == ("name", "event") for o in objs)


def test_camonitor_json_count(module_ioc):
    proc = run_ours(module_ioc, "camonitor", "--json", "--count", "2", "TST:calc")
    assert proc.returncode == 0
    objs = [o for o in jq_ok(proc.stdout) if o["event"] == "update"]
    assert len(objs) == 2


def test_file_and_stdin(module_ioc, tmp_path):
    names = ["TST:ai", "TST:str", "TST:mbbo"]
    f = tmp_path / "names.txt"
    f.write_text("# comment\n" + "\n".join(names) + "\n\n")
    direct = run_ours(module_ioc, "caget", *names)
    from_file = run_ours(module_ioc, "caget", "--file", str(f))
    from_stdin = run_ours(module_ioc, "caget", "--file", "-", input=f.read_bytes())
    assert direct.stdout == from_file.stdout == from_stdin.stdout
    assert direct.returncode == from_file.returncode == from_stdin.returncode == 0
    info = run_ours(module_ioc, "cainfo", "--json", "--file", "-", input=f.read_bytes())
    assert [o["name"] for o in jq_ok(info.stdout)] == names
    missing = run_ours(module_ioc, "caget", "--file", str(tmp_path / "nope.txt"))
    no_traceback(missing)
    assert missing.returncode == 1 and len(missing.stderr.splitlines()) == 1


def test_thousands_of_names(module_ioc):
    names = (READABLE * 60)[:2000]
    data = ("\n".join(names) + "\n").encode()
    proc = run_ours(module_ioc, "caget", "--json", "--file", "-", input=data, timeout=60)
    no_traceback(proc)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert len(lines) == 2000
    objs = [json.loads(line) for line in lines]
    assert [o["name"] for o in objs] == names and all(o["ok"] for o in objs)
    plain = run_ours(module_ioc, "caget", "--file", "-", input=data, timeout=60)
    assert plain.returncode == 0 and len(plain.stdout.splitlines()) == 2000
