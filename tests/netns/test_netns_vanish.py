"""A host that vanishes without a reset: its link goes down, or every packet to and from
it is dropped, while our camonitor and EPICS base's watch one of its PVs with
EPICS_CA_CONN_TMO=5 (issue 18). Nothing tells either client: each must notice the
silence itself (echo time-out), print ``*** disconnected``, and print the value again once
the host is back.

Bounds on ours: the disconnect no later than C's + :data:`DISCONNECT_MARGIN` and within
:data:`DISCONNECT_WITHIN` of the host vanishing; the value again within
:data:`RESUME_WITHIN` of the host's return. C's times are printed beside ours (run with
``-s``), not asserted against: libca waits for TCP's retransmission back-off to reach the
server again (seconds, growing with the outage).

This module builds its own small rig (one server host, one client host) so that a host
left down by a failure can never disturb the session rig of the other tests.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from epics_env import c_tool_path

import netns_rig
from netns_rig import BROADCAST, VANISH_WAYS, Host, Monitor, Rig, client_env, our_tool

RIG_DB = Path(__file__).resolve().parent / "rig.db"
PV = "VAN:ai"
CONN_TMO = 5.0
#: Ours reports the disconnect no later than C camonitor + this many seconds ...
DISCONNECT_MARGIN = 2.0
#: ... and within this many seconds of the host vanishing (2 x CONN_TMO + slack).
DISCONNECT_WITHIN = 15.0
#: Seconds from the host's return to our camonitor printing the value again.
RESUME_WITHIN = 2.0
#: Seconds the host stays away after both clients reported the disconnect.
AWAY_AFTER_DISCONNECT = 3.0
#: How long C camonitor's resume is waited for (only printed).
C_RESUME_WAIT = 15.0


@dataclass
class VanishRig:
    """The module's rig: a server host (one softIoc serving VAN:*) and a client host."""

    rig: Rig
    server: Host
    client: Host

    def env(self) -> dict[str, str]:
        """Client environment: broadcast searches, EPICS_CA_CONN_TMO=5."""
        env = client_env(auto=False, addr_list=BROADCAST)
        env["EPICS_CA_CONN_TMO"] = str(CONN_TMO)
        return env


@pytest.fixture(scope="module")
def vrig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VanishRig]:
    reason = netns_rig.netns_available()
    if reason is not None:
        pytest.skip(reason)
    rig = Rig(tmp_path_factory.mktemp("vanish"))
    try:
        server, client = rig.add_host("sv", 1), rig.add_host("cl", 10)
        for host in (server, client):
            rig.start_repeater(host)
        ioc = rig.add_ioc(server, "V", [RIG_DB], {"P": "VAN:", "V": "7.25", "N": "1"})
        rig.start_ioc(ioc, client, PV)
        yield VanishRig(rig, server, client)
    finally:
        rig.teardown()


def _value(line: str) -> bool:
    return line.startswith(PV + " ") and not line.endswith(
        ("*** disconnected", "*** Not connected (PV not found)"))


def _disconnected(line: str) -> bool:
    return line.startswith(PV + " ") and line.endswith("*** disconnected")


def _after(stamp: tuple[float, str] | None, origin: float) -> float | None:
    return None if stamp is None else stamp[0] - origin


def _fmt(seconds: float | None, waited: float) -> str:
    return f"not within {waited:.0f} s" if seconds is None else f"{seconds:.2f} s"


def _vanish_and_return(vrig: VanishRig, way: str, c_mon: Monitor, ours: Monitor
                       ) -> dict[str, Any]:
    """Make the server host vanish until both monitors reported the disconnect (and
    :data:`AWAY_AFTER_DISCONNECT` more), bring it back, wait for the values again.
    Returns each event's delay (seconds; None if not seen): the disconnects from the
    moment the host vanished, the values from the moment it returned."""
    first = [len(mon.lines) for mon in (c_mon, ours)]
    within = DISCONNECT_WITHIN + 10
    with vrig.rig.vanished(vrig.server, way):
        gone = time.monotonic()
        c_disc = c_mon.wait_for(_disconnected, within, first[0])
        o_disc = ours.wait_for(_disconnected, max(0.0, gone + within - time.monotonic()),
                               first[1])
        time.sleep(AWAY_AFTER_DISCONNECT)
        marks = [len(mon.lines) for mon in (c_mon, ours)]
    back = time.monotonic()
    o_res = ours.wait_for(_value, C_RESUME_WAIT, marks[1])
    c_res = c_mon.wait_for(_value, max(0.0, back + C_RESUME_WAIT - time.monotonic()),
                           marks[0])
    return {"ours disconnect": _after(o_disc, gone), "C disconnect": _after(c_disc, gone),
            "ours resume": _after(o_res, back), "C resume": _after(c_res, back),
            "ours resumed line": o_res[1] if o_res else None}


@pytest.mark.parametrize("way", VANISH_WAYS)
def test_camonitor_across_vanished_host(vrig: VanishRig, way: str) -> None:
    if way == "packet_drop" and netns_rig.drop_tool() is None:
        pytest.skip("packet_drop needs nft or iptables in the rig's namespaces")
    rig = vrig.rig
    c_mon = rig.monitor(vrig.client, [str(c_tool_path("camonitor")), PV], vrig.env())
    ours = rig.monitor(vrig.client, [our_tool("camonitor"), PV], vrig.env())
    try:
        started = all([mon.wait_for(_value, 10.0) for mon in (c_mon, ours)])
        times = _vanish_and_return(vrig, way, c_mon, ours) if started else {}
    finally:
        c_out, c_err, _ = c_mon.stop()
        o_out, o_err, _ = ours.stop()
    assert started, f"no first value: ours {o_out} {o_err!r}; C {c_out} {c_err!r}"
    report = (f"{way} (EPICS_CA_CONN_TMO={CONN_TMO:g}): disconnect after "
              f"{_fmt(times['ours disconnect'], DISCONNECT_WITHIN + 10)} (ours) / "
              f"{_fmt(times['C disconnect'], DISCONNECT_WITHIN + 10)} (C); value again "
              f"{_fmt(times['ours resume'], C_RESUME_WAIT)} (ours) / "
              f"{_fmt(times['C resume'], C_RESUME_WAIT)} (C) after the host returned")
    print(report)
    assert "Traceback" not in o_err, o_err
    assert times["C disconnect"] is not None, f"C camonitor saw no disconnect: {c_out}"
    assert times["ours disconnect"] is not None, f"{o_out}\n{report}"
    assert times["ours disconnect"] <= DISCONNECT_WITHIN, report
    assert times["ours disconnect"] <= times["C disconnect"] + DISCONNECT_MARGIN, report
    assert times["ours resume"] is not None, f"{o_out}\n{report}"
    assert times["ours resume"] <= RESUME_WITHIN, report
    # the value printed again is the one the host served all along (same time stamp)
    assert times["ours resumed line"] == o_out[0], o_out


@pytest.mark.parametrize("way", VANISH_WAYS)
def test_vanished_host_is_silent_and_returns_after_a_failure(vrig: VanishRig, way: str
                                                             ) -> None:
    """While vanished, the host answers no search; when the block raises, the fault is
    still undone and the host answers again."""
    if way == "packet_drop" and netns_rig.drop_tool() is None:
        pytest.skip("packet_drop needs nft or iptables in the rig's namespaces")
    with pytest.raises(ZeroDivisionError):
        with vrig.rig.vanished(vrig.server, way):
            with pytest.raises(RuntimeError, match="no reply"):
                vrig.rig.search(vrig.client, PV, timeout=1.0)
            1 / 0
    vrig.rig.search(vrig.client, PV, timeout=5.0)
