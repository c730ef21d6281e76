"""caget: stdout bytes and exit code identical to the C caget, for flag sets x records.

Every record of records.db is read in one invocation per flag set (the output of one PV
does not depend on the others), on a module IOC whose TST:calc is made passive so that
two reads at different times see the same value and timestamp.
"""
from __future__ import annotations

import pytest

from clihelpers import (CLIENT_TIME, READABLE, no_traceback, run_c, run_ours)

FLAG_SETS = [
    [], ["-t"], ["-a"], ["-c"], ["-n"], ["-s"], ["-S"], ["-c", "-S"], ["-a", "-S"],
    ["-s", "-a"], ["-n", "-a"], ["-t", "-n"], ["-t", "-S"], ["-t", "-c"],
    ["-#", "3"], ["-#", "20"], ["-#", "1"], ["-c", "-#", "3"], ["-S", "-#", "5"],
    ["-e", "3"], ["-f", "5"], ["-f5"], ["-g", "10"], ["-e", "0"], ["-f", "18"],
    ["-lx"], ["-lo"], ["-lb"], ["-0x"], ["-0o"], ["-0b"], ["-0x", "-t"], ["-lx", "-a"],
    ["-F", ","], ["-F", ",;"], ["-a", "-F", ","], ["-t", "-F", ","], ["-c", "-F", "|"],
    ["-w", "2"], ["-w", "0.5", "-c"], ["-p", "50"], ["-p", "200"],
    ["-a", "-e", "2", "-F", ":"], ["-f", "3", "-s"], ["-g", "3", "-lx"],
]

# Every DBR type caget accepts, by number, plus spellings with and without DBR_.
DBR_TYPES = [str(n) for n in list(range(35)) + [37, 38]] + [
    "DBR_CTRL_DOUBLE", "CTRL_DOUBLE", "DBR_TIME_STRING", "GR_ENUM", "STSACK_STRING",
    "DBR_CLASS_NAME", "CLASS_NAME", "DBR_STS_CHAR", "DBR_CTRL_LONG", "TIME_INT",
]


def check(ioc, args, env=None, names=READABLE):
    c = run_c(ioc, "caget", *args, *names, env=env)
    ours = run_ours(ioc, "caget", *args, *names, env=env)
    no_traceback(ours)
    assert c.stdout, f"the C caget printed nothing: {c.stderr!r}"
    assert ours.stdout == c.stdout
    assert ours.returncode == c.returncode


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda f: " ".join(f) or "plain")
def test_flags_every_record(quiet_ioc, flags):
    check(quiet_ioc, flags)


# String records cannot be read as numbers or enums: the IOC fails those reads and the
# C caget then waits the whole -w, so the -d tests use a shorter one.
DBR_WAIT = ["-w", "0.3"]


@pytest.mark.parametrize("dbr", DBR_TYPES)
def test_dbr_type_every_record(quiet_ioc, dbr):
    check(quiet_ioc, [*DBR_WAIT, "-d", dbr])


@pytest.mark.parametrize("extra", [["-f", "2"], ["-0x"], ["-n"], ["-S"], ["-F", ","],
                                   ["-c"], ["-#", "2"], ["-s"], ["-lb"]],
                         ids=lambda f: " ".join(f))
@pytest.mark.parametrize("dbr", ["DBR_CTRL_DOUBLE", "DBR_TIME_LONG", "DBR_GR_ENUM",
                                 "DBR_CTRL_CHAR", "DBR_STS_STRING"])
def test_dbr_with_format_options(quiet_ioc, dbr, extra):
    check(quiet_ioc, [*DBR_WAIT, "-d", dbr, *extra])


@pytest.mark.parametrize("args", [
    ["TST:ai", "-t"], ["TST:wfd", "TST:ai", "-a", "-F", ","], ["TST:mbbo", "-n", "TST:bo"],
    ["TST:ai", "-d", "CTRL_DOUBLE", "TST:long"], ["TST:wf:char", "-S", "-c"],
], ids=lambda a: " ".join(a))
def test_options_after_names(quiet_ioc, args):
    """GNU permutation: options may follow the PV names."""
    check(quiet_ioc, args, names=[])


@pytest.mark.parametrize("value", ["2", "0.5", "abc", "-1", "1e-9"])
def test_epics_cli_timeout(quiet_ioc, value):
    """EPICS_CLI_TIMEOUT: a bad value warns; a negative or tiny one gives up at once."""
    names = ["TST:ai", "TST:str"]
    c = run_c(quiet_ioc, "caget", *names, env={"EPICS_CLI_TIMEOUT": value})
    ours = run_ours(quiet_ioc, "caget", *names, env={"EPICS_CLI_TIMEOUT": value})
    no_traceback(ours)
    assert ours.stdout == c.stdout
    assert ours.returncode == c.returncode
    if c.returncode == 0:
        assert ours.stderr.splitlines() == c.stderr.splitlines()
    else:   # improvement 1: one line per missing PV instead of "some PV(s)"
        assert c.stderr.splitlines() == [b"Channel connect timed out: some PV(s) not found."]
        assert ours.stderr.splitlines() == [
            f"Channel connect timed out: '{n}' not found.".encode() for n in names]


@pytest.mark.parametrize("value", ["-1", "-0.5", "x", "0.0000001"])
def test_w_values(quiet_ioc, value):
    """-w: garbage warns and uses 1.0; a negative value is accepted and times out."""
    c = run_c(quiet_ioc, "caget", "-w", value, "TST:ai")
    ours = run_ours(quiet_ioc, "caget", "-w", value, "TST:ai")
    no_traceback(ours)
    assert (ours.stdout, ours.returncode, ours.stderr) == (c.stdout, c.returncode, c.stderr)


def test_channel_filters_and_long_string_fields(quiet_ioc):
    names = ['TST:wf:double.{"arr":{"s":1,"e":3}}', "TST:wf:long.[1:3]",
             "TST:ai.NAME$", "TST:ai.DESC$", "TST:lsival.VAL$", "TST:ai.EGU", "TST:ai.PREC"]
    check(quiet_ioc, [], names=names)
    check(quiet_ioc, ["-S"], names=names)
    check(quiet_ioc, ["-a", "-S"], names=names)


@pytest.mark.parametrize("flags", [[], ["-a"], ["-t"], ["-d", "CTRL_DOUBLE"],
                                   ["-a", "-F", ","], ["-c"]],
                         ids=lambda f: " ".join(f) or "plain")
def test_no_read_access(quiet_ioc, flags):
    """TST:noaccess: same bytes (the -a client time masked), same stderr line, exit 0."""
    args = ["-w", "0.3", *flags, "TST:ai", "TST:noaccess"]
    c = run_c(quiet_ioc, "caget", *args)
    ours = run_ours(quiet_ioc, "caget", *args)
    no_traceback(ours)
    assert b"no read access" in c.stdout
    assert CLIENT_TIME.sub(b"<T>", ours.stdout) == CLIENT_TIME.sub(b"<T>", c.stdout)
    assert ours.returncode == c.returncode == 0
    assert ours.stderr.splitlines() == c.stderr.splitlines() == [
        b"Read operation timed out: some PV data was not read."]


@pytest.mark.parametrize("flags", [[], ["-a"], ["-t"], ["-c"], ["-n"], ["-d", "TIME_STRING"],
                                   ["-c", "-d", "CTRL_STRING"], ["-d", "CTRL_ENUM"]],
                         ids=lambda f: " ".join(f) or "plain")
def test_server_fails_the_read(quiet_ioc, flags):
    """TST:wf:enum (an ENUM waveform) cannot be read as DBR_STRING: C caget prints its
    zeroed buffer (or '*** CA error' with -c); the exit code stays 0."""
    check(quiet_ioc, ["-w", "0.3", *flags], names=["TST:ai", "TST:wf:enum"])


def test_version_and_help(quiet_ioc):
    ours = run_ours(quiet_ioc, "caget", "-V")
    assert ours.returncode == 0
    assert ours.stdout.startswith(b"\nEPICS Version ")
    assert ours.stdout.endswith(b"CA Protocol version 4.13\n")
    c = run_c(quiet_ioc, "caget", "-h")
    ours = run_ours(quiet_ioc, "caget", "-h")
    assert ours.returncode == c.returncode == 0
    assert ours.stdout == c.stdout == b""
    # Our usage is the C usage plus a "catools additions" block.
    c_lines = c.stderr.decode().splitlines()
    our_lines = ours.stderr.decode().splitlines()
    assert [line for line in our_lines if line in c_lines] == c_lines


@pytest.mark.parametrize("flags", [[], ["-t"], ["-a"], ["-c"], ["-#", "2"]],
                         ids=lambda f: " ".join(f) or "plain")
def test_a_name_given_twice_prints_twice(quiet_ioc, flags):
    # read once, printed at each place it was named, as the C caget's channel per name
    names = [READABLE[0], READABLE[1], READABLE[0], READABLE[-1], READABLE[1]]
    check(quiet_ioc, flags, names=names)
