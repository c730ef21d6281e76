"""``catools doctor`` across the namespace rig (rig_layout.py), in each setup: the
interface and address list it reports, who answers (RIG:dup from two hosts), the name
servers reached or refused, the caRepeater of the client host, and a PV nobody has."""
from __future__ import annotations

import json

from netns_rig import BROADCAST, SERVER_PORT, our_tool
from rig_layout import NAME_SERVER_IOCS, RigSetup

DUP_SERVERS = {"198.18.0.1:5064", "198.18.0.2:5064"}


def doctor(rig: RigSetup, env: dict[str, str], *names: str) -> tuple[int, dict]:
    proc = rig.rig.run(rig.client, [our_tool("catools"), "doctor", "--json", "-w", "2",
                                    "--beacons", "0", *names], env)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc.returncode, json.loads(proc.stdout)


def test_doctor_in_each_setup(rig, setup):
    code, report = doctor(rig, rig.env(setup), "RIGA:ai", "RIG:dup", "RIG:nowhere")
    assert code == 1 and not report["ok"]
    ai, dup, missing = report["pvs"]
    assert ai["connected"] and ai["circuit"] == "connected" and ai["read_access"]
    assert ai["server"] == f"198.18.0.1:{SERVER_PORT}"
    assert dup["connected"] and dup["duplicate"]
    assert {r["server"] for r in dup["replies"]} == DUP_SERVERS
    assert not missing["connected"] and missing["replies"] == []
    assert any("no server answered" in h for h in missing["hints"])
    assert not any("only loopback" in h or "address list is empty" in h
                   for h in missing["hints"])
    assert [i["address"] for i in report["interfaces"]] == ["198.18.0.10"]
    assert report["interfaces"][0]["broadcast"] == BROADCAST
    sources = {a["source"] for a in report["address_list"]}
    if setup == "broadcast":
        assert report["address_list"] == [{"address": f"{BROADCAST}:{SERVER_PORT}",
                                           "source": "auto"}]
    elif setup == "addr_list":
        assert report["address_list"] == [{"address": f"{BROADCAST}:{SERVER_PORT}",
                                           "source": "explicit"}]
    else:
        assert sources == set() and len(report["name_servers"]) == len(NAME_SERVER_IOCS)
        assert {n["state"] for n in report["name_servers"]} == {"connected"}
    assert report["repeater"].startswith("running on UDP port 5065")


def test_refused_name_server_and_duplicate_list_entry(rig):
    env = rig.env("name_servers")
    env["EPICS_CA_NAME_SERVERS"] += " 198.18.0.3:5999"
    env["EPICS_CA_AUTO_ADDR_LIST"] = "YES"
    env["EPICS_CA_ADDR_LIST"] = f"{BROADCAST}"
    code, report = doctor(rig, env, "RIGE:ai", "RIG:nowhere")
    assert code == 1
    states = {n["address"]: n["state"] for n in report["name_servers"]}
    assert states["198.18.0.3:5999"] == "failed: Connection refused"
    assert states[f"198.18.0.1:{SERVER_PORT}"] == "connected"
    # the explicit broadcast entry repeats the automatic one: sent once
    assert report["address_list"] == [{"address": f"{BROADCAST}:{SERVER_PORT}",
                                       "source": "auto"}]
    assert report["ignored"][0]["address"] == f"{BROADCAST}:{SERVER_PORT}"
    ai, missing = report["pvs"]
    assert ai["connected"]
    assert "name server 198.18.0.3:5999 was not reached" in missing["hints"]
