"""``catools doctor`` on loopback against real softIocs: a PV found (who answered, the
circuit, access rights), a PV missing (hints), the same name on two IOCs (duplicate),
a server on another port than the search port (the hint that says so), typos."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from epics_env import free_port, release_port  # noqa: E402
from clihelpers import our_tool  # noqa: E402

RECORDS = 'record(ao, "DOC:x") { field(VAL, "1") }\nrecord(ao, "DOC:only%s") {}\n'


def doctor(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([our_tool("catools"), "doctor", *args], env=dict(env),
                          capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def test_found_pv_text_and_json(softioc):
    ioc = softioc(records=RECORDS % "A")
    text = doctor(ioc.script_env, "--beacons", "0", "DOC:x")
    assert text.returncode == 0, text.stderr
    assert f"answered by 127.0.0.1:{ioc.port} after" in text.stdout
    assert f"connected to 127.0.0.1:{ioc.port}: DBF_DOUBLE, 1 element(s), read, write" \
        in text.stdout
    assert f"EPICS_CA_SERVER_PORT               {ioc.port}" in text.stdout
    assert "Result: every PV was reached" in text.stdout
    proc = doctor(ioc.script_env, "--json", "--beacons", "0", "DOC:x")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["ok"] is True
    (pv,) = report["pvs"]
    assert pv["connected"] and pv["circuit"] == "connected" and not pv["duplicate"]
    assert pv["server"] == f"127.0.0.1:{ioc.port}" and pv["write_access"]
    assert report["address_list"] == [{"address": f"127.0.0.1:{ioc.port}",
                                       "source": "explicit"}]
    assert report["repeater"].startswith("running on UDP port")
    settings = {s["name"]: s for s in report["settings"]}
    assert settings["EPICS_CA_ADDR_LIST"]["source"] == "environment"
    assert settings["EPICS_CA_CONN_TMO"] == {"name": "EPICS_CA_CONN_TMO", "value": "30.0",
                                             "source": "default"}


def test_missing_pv_hints_and_typo(softioc):
    ioc = softioc(records=RECORDS % "A")
    env = dict(ioc.script_env, EPICS_CA_ADDRLIST="10.0.0.1")
    proc = doctor(env, "--json", "--beacons", "0", "DOC:x", "DOC:nobody")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    found, missing = report["pvs"]
    assert found["connected"] and not missing["connected"] and missing["replies"] == []
    assert {"name": "EPICS_CA_ADDRLIST", "did_you_mean": "EPICS_CA_ADDR_LIST"} \
        in report["typos"]
    hints = " ".join(missing["hints"])
    assert "only loopback is searched" in hints
    assert "did you mean EPICS_CA_ADDR_LIST" in hints
    text = doctor(env, "--beacons", "0", "DOC:nobody")
    assert "no server answered the search" in text.stdout
    assert "Result: not every PV was reached" in text.stdout


def test_empty_address_list_hint(softioc):
    ioc = softioc(records=RECORDS % "A")
    env = dict(ioc.script_env, EPICS_CA_ADDR_LIST="", EPICS_CA_AUTO_ADDR_LIST="NO")
    proc = doctor(env, "--json", "--beacons", "0", "DOC:x")
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["address_list"] == []
    assert any("address list is empty" in h for h in report["pvs"][0]["hints"])


def test_duplicate_servers(softioc):
    one = softioc(records=RECORDS % "A")
    two = softioc(records=RECORDS % "B")
    env = dict(one.script_env,
               EPICS_CA_ADDR_LIST=f"127.0.0.1:{one.port} 127.0.0.1:{two.port}")
    proc = doctor(env, "--json", "--beacons", "0", "DOC:x", "DOC:onlyB")
    assert proc.returncode == 0, proc.stdout
    report = json.loads(proc.stdout)
    dup, single = report["pvs"]
    assert dup["duplicate"] is True
    assert {r["server"] for r in dup["replies"]} == {f"127.0.0.1:{one.port}",
                                                     f"127.0.0.1:{two.port}"}
    assert any("more than one server" in h for h in dup["hints"])
    assert single["duplicate"] is False and single["server"] == f"127.0.0.1:{two.port}"
    text = doctor(env, "--beacons", "0", "DOC:x")
    assert "DUPLICATE: 2 servers answer for this name" in text.stdout


def test_server_on_another_port(softioc):
    ioc = softioc(records=RECORDS % "A")
    wrong = free_port()
    try:
        env = dict(ioc.script_env, EPICS_CA_SERVER_PORT=str(wrong),
                   EPICS_CAS_SERVER_PORT=str(ioc.port))
        proc = doctor(env, "--json", "--beacons", "3", "DOC:x")
    finally:
        release_port(wrong)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    (pv,) = report["pvs"]
    assert pv["replies"] == []
    hints = " ".join(pv["hints"])
    assert f"listen on UDP port {ioc.port}, but searches go to port {wrong}" in hints
    # the freshly started IOC beacons often: it is heard, and named as not searched
    assert f"127.0.0.1:{ioc.port}" in {b["server"] for b in report["beacons"]}
    assert f"a server at 127.0.0.1:{ioc.port} sends beacons but is not searched" in hints


def test_bad_setting_is_reported(softioc):
    ioc = softioc(records=RECORDS % "A")
    proc = doctor(dict(ioc.script_env, EPICS_CA_SERVER_PORT="70000"), "--beacons", "0",
                  "DOC:x")
    assert proc.returncode == 1
    assert "error: EPICS_CA_SERVER_PORT: port 70000 is outside 1..65535" in proc.stdout
