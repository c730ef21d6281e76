"""The test helpers themselves: children get SIGINT even when pytest ignores it."""
from __future__ import annotations

import signal
import subprocess
import sys

import epics_env

# A python started with SIGINT ignored (as a shell does for ``pytest &``) runs a C
# camonitor through our helper and SIGINTs it after 1 s; the helper kills it (SIGKILL)
# if it is still there 3 s later. Printed: the camonitor's return code.
CHILD = """
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.path.insert(0, {tests!r})
if {import_conftest!r}:
    import conftest  # noqa: F401  (what pytest imports first)
import epics_env
port, rport = epics_env.free_port_pair()
env = epics_env.make_env(port, rport)
result = epics_env.run_c_tool("camonitor", "hygiene:no:such:pv", env=env,
                              sigint_after=1.0, timeout=3.0)
print(result.returncode)
"""


def _camonitor_returncode(import_conftest: bool) -> int:
    code = CHILD.format(tests=str(epics_env.TESTS_DIR), import_conftest=import_conftest)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode()
    return int(result.stdout.split()[-1])


def test_children_get_sigint_when_pytest_started_with_it_ignored():
    # without our conftest the camonitor inherits SIG_IGN and has to be killed ...
    assert _camonitor_returncode(False) == -signal.SIGKILL
    # ... with it (pytest imports it first) SIGINT ends the camonitor as on a terminal
    assert _camonitor_returncode(True) == -signal.SIGINT
