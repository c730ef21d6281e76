"""Error lines and exit codes: as the C tools, plus the deliberate improvements.

Everything here checks: no "Traceback", exactly the expected stderr lines, the exit code.
"""
from __future__ import annotations

import subprocess
import time

import pytest

from clihelpers import err_lines, no_traceback, our_tool, run_c, run_ours, start_monitor

# (tool, args): stdout, stderr lines (ANSI stripped) and exit code as the C tool's.
SAME_AS_C = [
    ("caget", ["-z", "TST:ai"]), ("caget", ["-w"]), ("caget", []), ("caget", ["-w", "1"]),
    ("caget", ["-d", "FOO", "TST:ai"]), ("caget", ["-d", "99", "TST:ai"]),
    ("caget", ["-d", "35", "TST:ai"]), ("caget", ["-d", "DBR_INT", "TST:ai"]),
    ("caget", ["-e", "x", "TST:ai"]), ("caget", ["-e", "20", "TST:ai"]),
    ("caget", ["-f", "-1", "TST:ai"]), ("caget", ["-0z", "TST:long"]),
    ("caget", ["-lz", "TST:ai"]), ("caget", ["-t", "-a", "TST:ai"]),
    ("caget", ["-d", "6", "-t", "TST:ai"]), ("caget", ["-w", "abc", "TST:ai"]),
    ("caget", ["-p", "abc", "TST:ai"]), ("caget", ["-#", "abc", "TST:wfl"]),
    ("caget", ["-F"]), ("caget", ["TST:nonexistent", "-w", "0.3"]),
    ("caput", []), ("caput", ["TST:ai"]), ("caput", ["-z", "TST:ai", "1"]),
    ("caput", ["-w"]), ("caput", ["-w", "0.3", "TST:nonexistent", "1"]),
    ("cainfo", []), ("cainfo", ["-y"]), ("cainfo", ["-w", "0.3", "TST:nonexistent"]),
    ("camonitor", []), ("camonitor", ["-q", "TST:ai"]), ("camonitor", ["-m"]),
]


@pytest.mark.parametrize("tool,args", SAME_AS_C,
                         ids=[f"{t} {' '.join(a)}" for t, a in SAME_AS_C])
def test_same_as_c(module_ioc, tool, args):
    c = run_c(module_ioc, tool, *args)
    ours = run_ours(module_ioc, tool, *args)
    no_traceback(ours)
    assert ours.stdout == c.stdout
    assert ours.returncode == c.returncode
    assert err_lines(ours) == err_lines(c)
    assert b"\x1b" not in ours.stderr


@pytest.mark.parametrize("args", [["-m", "x"], ["-m", "vz"], ["-t", "Sx"], ["-e", "25"],
                                  ["-0q"], ["-w", "zz"]], ids=" ".join)
def test_camonitor_warnings(module_ioc, args):
    c = start_monitor(module_ioc, False, *args, "TST:ai")
    ours = start_monitor(module_ioc, True, *args, "TST:ai")
    time.sleep(1.5)
    c, ours = c.stop(), ours.stop()
    no_traceback(ours)
    assert ours.stdout == c.stdout and c.stdout
    assert err_lines(ours) == err_lines(c) and c.stderr


def test_caget_found_and_missing(module_ioc):
    """Improvement 1: found PVs exactly as alone, one stderr line per missing PV."""
    for flags in ([], ["-t"], ["-a"], ["-d", "CTRL_STRING"]):
        alone = run_c(module_ioc, "caget", *flags, "TST:ai", "TST:str")
        ours = run_ours(module_ioc, "caget", "-w", "0.5", *flags, "NOPE:a", "TST:ai",
                        "NOPE:b", "TST:str")
        no_traceback(ours)
        assert ours.stdout == alone.stdout and alone.stdout
        assert ours.returncode == 1
        assert err_lines(ours) == ["Channel connect timed out: 'NOPE:a' not found.",
                                   "Channel connect timed out: 'NOPE:b' not found."]


@pytest.mark.parametrize("args,message", [
    (["TST:ao", "abc"], "ERROR occured writing data to 'TST:ao': Channel write request failed"),
    (["TST:disp", "2"], None),
])
def test_rejected_write_one_line(module_ioc, args, message):
    """Improvement 2: a write the server rejects exits 1 with one line naming the PV."""
    ours = run_ours(module_ioc, "caput", *args)
    no_traceback(ours)
    lines = err_lines(ours)
    assert ours.returncode == 1
    assert len(lines) == 1 and args[0] in lines[0]
    if message:
        assert lines == [message]
    assert b"\x1b" not in ours.stderr


@pytest.mark.parametrize("args", [
    ["TST:mbbo", "Bogus"], ["-s", "TST:mbbo", "1"], ["-n", "TST:mbbo", "On"],
    ["-a", "TST:ai", "2", "7", "8"], ["-S", "TST:wfc", "x" * 300], ["-S", "TST:lsi", "y" * 70],
    ["TST:ro", "1"], ["-c", "TST:ro", "1"], ["TST:noaccess", "1"], ["-t", "TST:ro", "1"],
], ids=lambda a: " ".join(x[:12] for x in a))
def test_put_errors_like_c(module_ioc, args):
    """Bad enum strings, too many elements, no write access: C's lines, without ANSI."""
    c = run_c(module_ioc, "caput", *args)
    ours = run_ours(module_ioc, "caput", *args)
    no_traceback(ours)
    assert ours.stdout == c.stdout
    assert ours.returncode == c.returncode == 1
    assert err_lines(ours) == err_lines(c)
    assert b"\x1b" not in ours.stderr


@pytest.mark.parametrize("value,text", [("abc", "'abc' is not a port number"),
                                        ("99999", "port 99999 is outside 1..65535")])
@pytest.mark.parametrize("tool", ["caget", "caput", "cainfo", "camonitor"])
def test_bad_server_port(module_ioc, tool, value, text):
    args = ["TST:ao", "1"] if tool == "caput" else ["TST:ai"]
    ours = run_ours(module_ioc, tool, *args, env={"EPICS_CA_SERVER_PORT": value},
                    timeout=10)
    no_traceback(ours)
    assert ours.returncode == 1
    assert ours.stdout == b""
    assert err_lines(ours) == [f"{tool}: EPICS_CA_SERVER_PORT: {text}"]


def test_ioc_disappears_during_put_callback(softioc):
    """The IOC dies while caput -c waits for TST:busy (3 s): one clear line, exit 1."""
    ioc = softioc()
    proc = subprocess.Popen([our_tool("caput"), "-c", "-w", "8", "TST:busy", "1"],
                            env=ioc.script_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    time.sleep(1.0)
    ioc.stop_ioc()
    out, err = proc.communicate(timeout=15)
    assert b"Traceback" not in err
    assert proc.returncode == 1
    assert out.startswith(b"Old : TST:busy ")
    # Apart from libca's style of CA.Client.Exception block, exactly one line.
    lines = [line for line in err.decode().splitlines()
             if not line.startswith(("CA.Client.Exception", "    ", " ....", "....."))]
    assert lines == ["ERROR occured writing data: Virtual circuit disconnect"]


def test_ioc_disappears_during_caget(softioc):
    """caget -w 3 started against an IOC stopped right after it connects: no traceback,
    at most one line per PV on each stream, exit 0 or 1."""
    ioc = softioc()
    proc = subprocess.Popen([our_tool("caget"), "-w", "3", "-c", "TST:ai", "TST:wfc"],
                            env=ioc.script_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    time.sleep(0.05)
    ioc.stop_ioc()
    out, err = proc.communicate(timeout=15)
    assert b"Traceback" not in err
    assert proc.returncode in (0, 1)
    # Apart from libca's style of CA.Client.Exception block ("Virtual circuit
    # disconnect", when the IOC goes after the channels connected), one line per PV.
    lines = [line for line in err.decode().splitlines()
             if not line.startswith(("CA.Client.Exception", "    ", " ....", "....."))]
    assert len(out.splitlines()) <= 2 and len(lines) <= 2, err


def test_caget_i_prints_usage_exit_1(module_ioc):
    c = run_c(module_ioc, "caget", "-i")
    ours = run_ours(module_ioc, "caget", "-i")
    no_traceback(ours)
    assert ours.returncode == c.returncode == 1
    assert ours.stdout == c.stdout == b""
    c_lines = err_lines(c)
    assert [line for line in err_lines(ours) if line in c_lines] == c_lines
