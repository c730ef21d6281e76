"""cainfo: stdout and exit code identical to the C cainfo (read-only shared IOC)."""
from __future__ import annotations

import pytest

from clihelpers import ALL_RECORDS, err_lines, no_traceback, run_c, run_ours


@pytest.mark.parametrize("args", [
    ALL_RECORDS, ["TST:ro", "TST:noaccess"], ["-w", "2", "TST:ai"], ["TST:ai", "-p", "20"],
    ["TST:ai.DESC$", "TST:wf:double.[1:3]"],
], ids=["all", "access", "-w", "permuted -p", "fields"])
def test_same_output(shared_ioc, args):
    c = run_c(shared_ioc, "cainfo", *args)
    ours = run_ours(shared_ioc, "cainfo", *args)
    no_traceback(ours)
    assert c.stdout
    assert ours.stdout == c.stdout
    assert ours.returncode == c.returncode == 0
    assert ours.stderr == c.stderr == b""


def test_missing_pvs(shared_ioc):
    """Improvement 1: found PVs printed as alone, each missing one named, exit 1."""
    alone = run_c(shared_ioc, "cainfo", "TST:ai", "TST:str")
    ours = run_ours(shared_ioc, "cainfo", "-w", "0.5", "TST:ai", "NOPE:1", "TST:str", "NOPE:2")
    no_traceback(ours)
    assert ours.stdout == alone.stdout
    assert ours.returncode == 1
    assert err_lines(ours) == ["Channel connect timed out: 'NOPE:1' not found.",
                               "Channel connect timed out: 'NOPE:2' not found."]
    c = run_c(shared_ioc, "cainfo", "-w", "0.5", "NOPE:1")
    ours = run_ours(shared_ioc, "cainfo", "-w", "0.5", "NOPE:1")
    assert (ours.stdout, ours.returncode, ours.stderr) == (c.stdout, c.returncode, c.stderr)


def test_usage_and_undocumented_n(shared_ioc):
    for args, code in ((["-h"], 0), (["-n", "TST:ai"], 1)):
        c = run_c(shared_ioc, "cainfo", *args)
        ours = run_ours(shared_ioc, "cainfo", *args)
        no_traceback(ours)
        assert ours.returncode == c.returncode == code
        assert ours.stdout == c.stdout == b""
        assert ours.stderr.startswith(b"\nUsage: cainfo [options] <PV name> ...\n")


def test_client_status_level(shared_ioc):
    """-s N prints client context status instead of per-PV info (text differs from libca)."""
    ours = run_ours(shared_ioc, "cainfo", "-s", "2", "TST:ai")
    no_traceback(ours)
    assert ours.returncode == 0
    assert ours.stdout and b"State:" not in ours.stdout
