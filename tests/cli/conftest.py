"""Fixtures for the CLI parity tests (helpers live in clihelpers.py)."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from epics_env import SoftIoc  # noqa: E402


@pytest.fixture(scope="module")
def quiet_ioc(module_ioc: SoftIoc) -> SoftIoc:
    """The module's writable IOC with TST:calc made passive (stable values), so that two
    reads at different times give the same bytes."""
    proc = module_ioc.c_tool("caput", "TST:calc.SCAN", "Passive")
    assert proc.returncode == 0, proc.stderr
    return module_ioc
