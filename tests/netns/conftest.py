"""Fixtures of the multi-host namespace rig (issue 11); see rig_layout.py for the layout.

The rig needs root and ``ip netns``; without them its tests are skipped (CI runs as root).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import netns_rig  # noqa: E402
import rig_layout  # noqa: E402


@pytest.fixture(scope="session")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rig_layout.RigSetup]:
    """The session's rig, torn down (processes killed, namespaces deleted) at its end,
    also when building it fails."""
    reason = netns_rig.netns_available()
    if reason is not None:
        pytest.skip(reason)
    rig = netns_rig.Rig(tmp_path_factory.mktemp("netns"))
    try:
        yield rig_layout.build(rig)
    finally:
        rig.teardown()


@pytest.fixture(params=rig_layout.SETUPS)
def setup(request: pytest.FixtureRequest) -> str:
    """The three ways of finding servers: EPICS_CA_AUTO_ADDR_LIST=YES; AUTO=NO with the
    broadcast address in EPICS_CA_ADDR_LIST; AUTO=NO, no list, three name servers."""
    return request.param
