"""Replies with fewer elements than asked for, failed reads and huge native counts
(issue 10 items 4 and 5): caget and caput print what the C tools print.

The C caget (``ca_array_get``) prints the count it asked for, its buffer zero-filled
beyond a short reply, and its zeroed buffer when the server fails the read; a count whose
reply could not be transferred fails at once with ECA_TOLARGE. softIoc itself always
fills the count asked for, so :mod:`fakeserver` plays the misbehaving server.
"""
from __future__ import annotations

import json

import pytest

from clihelpers import CLIENT_TIME, err_lines, no_traceback, run_c, run_ours
from fakeserver import FakePV, FakeServer

PVS = {
    "F:short": FakePV(6, 5, "short", (1.5, 2.5)),        # 5 DOUBLEs, replies with 2
    "F:long": FakePV(5, 4, "short", (7, -8)),            # 4 LONGs, replies with 2
    "F:scal": FakePV(6, 1, "short", ()),                 # a scalar, replies with none
    "F:fail": FakePV(6, 5, "fail"),                      # READ_NOTIFY status GETFAIL
    "F:huge": FakePV(6, 0xFFFFFFF0, "fail"),
    "F:hugeerr": FakePV(6, 0xFFFFFFF0, "error"),         # ERROR instead of a reply
    "F:big": FakePV(6, 5000, "short", (1.0,)),           # 40 kB: over a 16 kB bound
}

TOLARGE = ("The requested data transfer is greater than available memory or "
           "EPICS_CA_MAX_ARRAY_BYTES")


@pytest.fixture(scope="module")
def fake():
    from epics_env import CaEnv
    env = CaEnv()
    try:
        with FakeServer(env, PVS):
            yield env
    finally:
        env.close()


def same_as_c(fake, tool, *args, stderr=True):
    c = run_c(fake, tool, "-w", "0.5", *args)
    ours = run_ours(fake, tool, "-w", "0.5", *args)
    no_traceback(ours)
    assert c.stdout, c.stderr
    # (-a prints the client's time for an error)
    assert CLIENT_TIME.sub(b"<T>", ours.stdout) == CLIENT_TIME.sub(b"<T>", c.stdout)
    assert ours.returncode == c.returncode
    if stderr:
        assert err_lines(ours) == err_lines(c)
    return c, ours


@pytest.mark.parametrize("args", [
    ["F:short"], ["-a", "F:short"], ["-t", "F:short"], ["-#", "4", "F:short"],
    ["-#", "1", "F:short"], ["-#", "9", "F:short"], ["-F", ",", "F:short"],
    ["-d", "DBR_DOUBLE", "F:short"], ["-d", "DBR_STRING", "F:short"],
    ["-d", "TIME_LONG", "F:short"], ["F:long"], ["-0x", "F:long"], ["-a", "F:long"],
    ["F:scal"], ["-a", "F:scal"], ["-t", "F:scal"], ["-c", "F:short"], ["-c", "-a", "F:short"],
    ["-c", "F:scal"], ["-c", "-#", "4", "F:short"], ["F:short", "F:scal", "F:long"],
], ids=" ".join)
def test_caget_short_reply_zero_filled(fake, args):
    same_as_c(fake, "caget", *args)


@pytest.mark.parametrize("args", [
    ["F:short", "1"], ["-t", "F:short", "1"], ["-l", "F:short", "1"],
    ["-a", "F:short", "2", "1", "2"], ["F:scal", "4"], ["F:long", "3"],
], ids=" ".join)
def test_caput_old_new_short_reply_zero_filled(fake, args):
    same_as_c(fake, "caput", *args)


@pytest.mark.parametrize("args", [
    ["F:huge"], ["-a", "F:huge"], ["-t", "F:huge"], ["-d", "DBR_DOUBLE", "F:huge"],
    ["F:hugeerr"], ["F:huge", "F:short"], ["-c", "F:huge"],
], ids=" ".join)
def test_caget_huge_native_count(fake, args):
    """Native count 0xFFFFFFF0 and a failing server: no MemoryError; caget prints
    '*** CA error' with ECA_TOLARGE (or, with -c, the server's GETFAIL) as C does."""
    c, ours = same_as_c(fake, "caget", *args, stderr=False)
    if "-c" in args:
        assert b"*** CA error Channel read request failed" in ours.stdout
        assert err_lines(ours) == []    # (C: "Read operation timed out", after -w)
    else:
        assert TOLARGE.encode() in ours.stdout
        assert err_lines(ours) == err_lines(c) == [
            "Read operation timed out: some PV data was not read."]


def test_caget_huge_native_count_some_elements(fake):
    """-# 3 reads 3 elements; the server fails the read: C's zeroed buffer, and our
    one line naming the PV (C: libca's exception block)."""
    c, ours = same_as_c(fake, "caget", "-#", "3", "F:huge", stderr=False)
    assert ours.stdout == b"F:huge 3 0 0 0\n"
    assert err_lines(ours) == ["Read of 'F:huge' failed: Channel read request failed"]
    assert "Channel read request failed" in c.stderr.decode()


def test_caget_huge_native_count_json(fake):
    ours = run_ours(fake, "caget", "-w", "0.5", "--json", "F:huge", "F:short")
    no_traceback(ours)
    huge, short = (json.loads(line) for line in ours.stdout.splitlines())
    assert huge.pop("client_epoch") == short["client_epoch"]    # (every record ends so)
    assert huge == {"name": "F:huge", "ok": False, "error": "ca_error", "message": TOLARGE}
    assert short["ok"] and short["count"] == 2 and short["value"] == [1.5, 2.5]
    assert ours.returncode == 0


def test_caput_huge_native_count(fake):
    same_as_c(fake, "caput", "F:huge", "1")


@pytest.mark.parametrize("args", [["F:fail"], ["-a", "F:fail"], ["-t", "F:fail", "F:short"]],
                         ids=" ".join)
def test_caget_failed_read(fake, args):
    """The server fails the read: C's zeroed buffer on stdout; on stderr one line naming
    the PV where libca prints an exception block and caget a timeout line."""
    c, ours = same_as_c(fake, "caget", *args, stderr=False)
    assert err_lines(ours) == ["Read of 'F:fail' failed: Channel read request failed"]
    assert "Channel read request failed" in c.stderr.decode()


def test_caput_failed_read(fake):
    c, ours = same_as_c(fake, "caput", "F:fail", "1", stderr=False)
    assert ours.stdout == b"Old : F:fail 5 0 0 0 0 0\nNew : F:fail 5 0 0 0 0 0\n"
    assert err_lines(ours) == ["Read of 'F:fail' failed: Channel read request failed"] * 2


@pytest.mark.parametrize("tool,args", [("caget", ["F:big"]), ("caget", ["-a", "F:big"]),
                                       ("caput", ["F:big", "1"])])
def test_read_bounded_by_max_array_bytes(fake, tool, args):
    """With EPICS_CA_AUTO_ARRAY_BYTES=NO, a read whose reply exceeds
    EPICS_CA_MAX_ARRAY_BYTES is refused with ECA_TOLARGE before it is sent (libca sends
    it, then drops the reply and times out: a deliberate difference)."""
    env = {"EPICS_CA_AUTO_ARRAY_BYTES": "NO", "EPICS_CA_MAX_ARRAY_BYTES": "16384"}
    ours = run_ours(fake, tool, "-w", "0.5", *args, env=env)
    no_traceback(ours)
    assert ours.returncode == 0
    assert ours.stdout.startswith(b"Old : F:big " if tool == "caput" else b"F:big ")
    assert f" *** CA error {TOLARGE}\n".encode() in ours.stdout
    timeout = "some PV data" if tool == "caget" else "PV data"
    assert set(err_lines(ours)) == {f"Read operation timed out: {timeout} was not read."}
    bigger = run_ours(fake, tool, "-w", "0.5", *args,
                      env={**env, "EPICS_CA_MAX_ARRAY_BYTES": "40100"})
    no_traceback(bigger)
    assert b" 5000 1 0 0 " in bigger.stdout and bigger.stderr == b""


# ---------------------------------------------------------------------------- softIoc

RECORDS = """
record(waveform, "SR:wf") {
    field(FTVL, "DOUBLE")
    field(NELM, "5")
    field(INP, {const: [1.5, 2.5]})
    field(PINI, "YES")
}
record(waveform, "SR:wfl") {
    field(FTVL, "LONG")
    field(NELM, "6")
    field(INP, {const: [3, -4, 5]})
    field(PINI, "YES")
}
"""


@pytest.fixture(scope="module")
def short_ioc(module_softioc):
    return module_softioc(records=RECORDS)


@pytest.mark.parametrize("args", [
    [], ["-a"], ["-t"], ["-#", "5"], ["-#", "3"], ["-#", "0"], ["-#", "9"], ["-c"],
    ["-c", "-#", "5"], ["-c", "-#", "1"], ["-c", "-a"], ["-c", "-t"], ["-F", ","],
    ["-d", "DBR_TIME_DOUBLE"], ["-c", "-d", "DBR_CTRL_LONG"],
], ids=lambda a: " ".join(a) or "plain")
def test_softioc_nord_below_nelm(short_ioc, args):
    """NORD 2 (3) of NELM 5 (6): a fixed count is zero-filled by the IOC, a dynamic one
    (-c, count 0) gives NORD elements: the same bytes as C."""
    c = run_c(short_ioc, "caget", *args, "SR:wf", "SR:wfl")
    ours = run_ours(short_ioc, "caget", *args, "SR:wf", "SR:wfl")
    no_traceback(ours)
    assert c.stdout and ours.stdout == c.stdout
    assert ours.returncode == c.returncode == 0


@pytest.mark.parametrize("args", [["SR:wfl", "7"], ["-a", "SR:wfl", "2", "8", "9"],
                                  ["-l", "SR:wfl", "7"], ["-t", "SR:wfl", "7"]],
                         ids=" ".join)
def test_softioc_caput_old_new(short_ioc, args):
    run_c(short_ioc, "caput", *args)          # so that Old is the value written again
    c = run_c(short_ioc, "caput", *args)
    ours = run_ours(short_ioc, "caput", *args)
    no_traceback(ours)
    assert c.stdout        # (-l: each put processes the record: a new time stamp)
    assert CLIENT_TIME.sub(b"<T>", ours.stdout) == CLIENT_TIME.sub(b"<T>", c.stdout)
    assert ours.returncode == c.returncode == 0
