"""``catools snap save | compare | restore`` against a real softIoc: native types and
counts, enum labels, severities; diffs with global and per-PV tolerance and their exit
status; restore in file order where a refused write never stops the rest; autosave
``.sav`` files read and written; 4,000 PVs in one call."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from epics_env import ACCESS_ACF  # noqa: E402
from clihelpers import our_tool  # noqa: E402

RECORDS = """
record(ao, "SN:a") { field(VAL, "1.5") field(PINI, "YES") field(HIGH, "5") field(HSV, "MINOR") }
record(longout, "SN:l") { field(VAL, "42") field(PINI, "YES") }
record(mbbo, "SN:m") { field(ZRST, "Off") field(ONST, "On") field(TWST, "Stand by")
                       field(VAL, "2") field(PINI, "YES") }
record(stringout, "SN:s") { field(VAL, "hello world") field(PINI, "YES") }
record(ao, "SN:disp") { field(DISP, "1") field(VAL, "1") field(PINI, "YES") }
record(ao, "SN:ro") { field(ASG, "RO") field(VAL, "7") field(PINI, "YES") }
record(waveform, "SN:wf") { field(FTVL, "DOUBLE") field(NELM, "4")
                            field(INP, {const: [1, 2.5, 3]}) field(PINI, "YES") }
record(waveform, "SN:wc") { field(FTVL, "CHAR") field(NELM, "8")
                            field(INP, {const: [72, 105, 0]}) field(PINI, "YES") }
"""
NAMES = ["SN:a", "SN:disp", "SN:ro", "SN:l", "SN:m", "SN:s", "SN:wf", "SN:wc"]


def snap(env: Mapping[str, str], *args: str, input: str | None = None
         ) -> subprocess.CompletedProcess:
    proc = subprocess.run([our_tool("catools"), "snap", *args], env=dict(env), text=True,
                          capture_output=True, timeout=60, input=input)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def caget(ioc, *names: str) -> list[str]:
    proc = ioc.c_tool("caget", "-t", *names)
    return proc.stdout.decode().splitlines()


def caput(ioc, *args: str) -> None:
    assert ioc.c_tool("caput", *args).returncode == 0


def test_save_compare_restore(softioc, tmp_path):
    ioc = softioc(records=RECORDS, acf=ACCESS_ACF)
    env = ioc.script_env
    path = str(tmp_path / "s.json")
    proc = snap(env, "save", path, *NAMES, "SN:missing")
    assert proc.returncode == 1 and "SN:missing: Channel connect timed out" in proc.stderr
    saved = {e["name"]: e for e in json.load(open(path))["pvs"]}
    assert saved["SN:a"]["value"] == 1.5 and saved["SN:a"]["type"] == "DBF_DOUBLE"
    assert saved["SN:l"] | {"timestamp": 0} == {
        "name": "SN:l", "value": 42, "type": "DBF_LONG", "count": 1, "timestamp": 0,
        "severity": 0, "status": 0}
    assert (saved["SN:m"]["value"], saved["SN:m"]["label"]) == (2, "Stand by")
    assert saved["SN:wf"]["value"] == [1.0, 2.5, 3.0] and saved["SN:wf"]["count"] == 4
    assert saved["SN:wc"]["type"] == "DBF_CHAR" and saved["SN:wc"]["value"][:2] == [72, 105]
    assert saved["SN:s"]["value"] == "hello world" and saved["SN:s"]["timestamp"] > 1.6e9
    assert "error" in saved["SN:missing"]
    json.dump({"pvs": [e for n, e in saved.items() if n != "SN:missing"]},
              open(path, "w"))
    assert snap(env, "compare", path).returncode == 0

    caput(ioc, "SN:a", "6")             # over HIGH: MINOR
    caput(ioc, "SN:m", "On")
    caput(ioc, "SN:s", "changed")
    caput(ioc, "-a", "SN:wf", "2", "9", "9")
    caput(ioc, "SN:l", "43")
    proc = snap(env, "compare", "--json", path)
    assert proc.returncode == 1
    rows = {r["name"]: r for r in json.loads(proc.stdout)["pvs"]}
    assert {n for n, r in rows.items() if r["state"] == "different"} == \
        {"SN:a", "SN:m", "SN:s", "SN:wf", "SN:l"}
    assert (rows["SN:m"]["saved"], rows["SN:m"]["current"]) == ("Stand by", "On")
    text = snap(env, "compare", path).stdout
    assert "0 equal" not in text and "5 different, 0 error(s)" in text
    assert snap(env, "compare", path, "--tolerance", "5").stdout.count("different\n") == 3

    dry = snap(env, "restore", path, "--dry-run")
    assert dry.returncode == 0 and "SN:a: would write 1.5" in dry.stdout
    assert caget(ioc, "SN:a") == ["6"]
    proc = snap(env, "restore", "--json", path)
    assert proc.returncode == 1
    outcome = {o["name"]: o["error"] for o in json.loads(proc.stdout)["pvs"]}
    assert [n for n, e in outcome.items() if e] == ["SN:disp", "SN:ro"]
    assert caget(ioc, "SN:a", "SN:l", "SN:m", "SN:s") == ["1.5", "42", "Stand by",
                                                          "hello world"]
    assert caget(ioc, "SN:wf")[0].split() == ["4", "1", "2.5", "3", "0"]   # (C: NELM)
    assert snap(env, "compare", path).returncode == 0


def test_tolerance_per_pv_and_no_wait(softioc, tmp_path):
    ioc = softioc(records=RECORDS, acf=ACCESS_ACF)
    env = ioc.script_env
    path = str(tmp_path / "t.json")
    assert snap(env, "save", path, "SN:a", "SN:l").returncode == 0
    data = json.load(open(path))
    data["pvs"][0]["tolerance"] = 0.5
    json.dump(data, open(path, "w"))
    caput(ioc, "SN:a", "1.8")
    caput(ioc, "SN:l", "44")
    rows = json.loads(snap(env, "compare", "--json", path).stdout)["pvs"]
    assert [r["state"] for r in rows] == ["equal", "different"]
    assert snap(env, "compare", "--tolerance", "3", path).returncode == 0
    proc = snap(env, "restore", "--no-wait", path)
    assert proc.returncode == 0 and "wrote 2 of 2 PVs" in proc.stdout
    assert caget(ioc, "SN:a", "SN:l") == ["1.5", "42"]


def test_autosave_files(softioc, tmp_path):
    ioc = softioc(records=RECORDS, acf=ACCESS_ACF)
    env = ioc.script_env
    path = str(tmp_path / "s.sav")
    assert snap(env, "save", path, "SN:a", "SN:m", "SN:s", "SN:wf", "SN:x").returncode == 1
    lines = open(path).read().splitlines()
    assert lines[0].startswith("# save/restore V5")
    assert lines[1:] == ["! 1 channel(s) not connected - or not all gets were successful",
                         "SN:a 1.5", "SN:m Stand by", "SN:s hello world",
                         'SN:wf @array@ { "1" "2.5" "3" }', "#SN:x Search Issued", "<END>"]
    assert snap(env, "compare", path).returncode == 0
    # a file as autosave writes it, by hand
    hand = tmp_path / "hand.sav"
    hand.write_text("# save/restore V5.11\tAutomatically generated - DO NOT MODIFY\n"
                    "SN:a 2.25\nSN:m On\nSN:s two  spaces\n"
                    'SN:wf @array@ { "4" "5" }\n<END>\n')
    assert snap(env, "compare", str(hand)).returncode == 1
    assert snap(env, "restore", str(hand)).returncode == 0
    assert caget(ioc, "SN:a", "SN:m", "SN:s") == ["2.25", "On", "two  spaces"]
    assert caget(ioc, "SN:wf")[0].split()[:3] == ["4", "4", "5"]
    assert snap(env, "compare", str(hand)).returncode == 0


def test_errors_exit_2(softioc, tmp_path):
    ioc = softioc(records=RECORDS, acf=ACCESS_ACF)
    proc = snap(ioc.script_env, "compare", str(tmp_path / "none.json"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert snap(ioc.script_env, "restore", str(bad)).returncode == 2


def test_four_thousand_pvs(softioc, tmp_path):
    n = 4000
    records = "".join(f'record(ao, "BIG:{i}") {{ field(VAL, "{i}") field(PINI, "YES") }}\n'
                      for i in range(n))
    ioc = softioc(records=records, probe_pv="BIG:0")
    env = ioc.script_env
    names = tmp_path / "names.txt"
    names.write_text("".join(f"BIG:{i}\n" for i in range(n)))
    path = str(tmp_path / "big.json")
    proc = snap(env, "save", path, "--file", str(names), "-w", "10")
    assert proc.returncode == 0, proc.stderr
    assert f"saved {n} of {n} PVs" in proc.stderr
    data = json.load(open(path))
    for entry in data["pvs"]:
        entry["value"] = entry["value"] + 0.5
    json.dump(data, open(path, "w"))
    proc = snap(env, "restore", path, "-w", "10")
    assert proc.returncode == 0 and f"wrote {n} of {n} PVs" in proc.stdout
    assert caget(ioc, "BIG:0", "BIG:1234", f"BIG:{n - 1}") == ["0.5", "1234.5",
                                                              f"{n - 1}.5"]
    assert snap(env, "compare", path, "-w", "10").returncode == 0
