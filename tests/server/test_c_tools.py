"""The real EPICS C tools against our demo server, compared with an equivalent softIoc."""
from __future__ import annotations

import re

import pytest

DEMO = ("sine", "counter", "setpoint", "mode", "message", "long_message", "waveform",
        "readonly")
FAMILIES = ("STS", "TIME", "GR", "CTRL")

# Records equivalent to the demo PVs (same names, types, units, precision, limits).
EQUIVALENT_DB = """
record(ai, "demo:sine") {
  field(EGU, "V") field(PREC, "3") field(HOPR, "10") field(LOPR, "-10")
  field(HIHI, "9") field(LOLO, "-9") field(HIGH, "7") field(LOW, "-7")
  field(HHSV, "MAJOR") field(LLSV, "MAJOR") field(HSV, "MINOR") field(LSV, "MINOR")
}
record(longout, "demo:counter") { field(EGU, "counts") field(HOPR, "1000000") }
record(ao, "demo:setpoint") {
  field(EGU, "mA") field(PREC, "2") field(HOPR, "10") field(LOPR, "0")
  field(DRVH, "10") field(DRVL, "0") field(VAL, "5")
}
record(mbbo, "demo:mode") {
  field(ZRST, "Off") field(ONST, "On") field(TWST, "Standby") field(THST, "Fault")
}
record(stringout, "demo:message") { field(VAL, "Hello, Channel Access") }
record(waveform, "demo:long_message") { field(FTVL, "CHAR") field(NELM, "256") }
record(waveform, "demo:waveform") {
  field(FTVL, "DOUBLE") field(NELM, "1000") field(EGU, "V") field(PREC, "3")
  field(HOPR, "1") field(LOPR, "-1")
}
record(ai, "demo:readonly") { field(EGU, "rad") field(PREC, "4") field(VAL, "3.14159") }
"""

# Lines whose content legitimately differs between the two servers.
_VOLATILE = re.compile(r"^\s*(Value|Timestamp|Status|Severity|Element count):")


@pytest.fixture(scope="module")
def ioc(module_softioc):
    return module_softioc(records=EQUIVALENT_DB, probe_pv="demo:sine")


def _stable(text: bytes) -> list[str]:
    return [line for line in text.decode().splitlines() if not _VOLATILE.match(line)]


@pytest.mark.parametrize("name", DEMO)
def test_caget_plain_and_wide(demo, name):
    _, env = demo
    for args in ((), ("-a",), ("-t",)):
        result = env.c_tool("caget", *args, f"demo:{name}")
        assert result.returncode == 0, result.stderr
        assert result.stderr == b""
        assert result.stdout.decode().split()[0] == (f"demo:{name}" if args != ("-t",)
                                                     else result.stdout.decode().split()[0])


BASES = ("STRING", "SHORT", "FLOAT", "ENUM", "CHAR", "LONG", "DOUBLE")
ALL_TYPES = [*BASES, *(f"{family}_{base}" for family in FAMILIES for base in BASES),
             "STSACK_STRING", "CLASS_NAME"]


@pytest.mark.parametrize("dbr", ALL_TYPES)
def test_caget_d_matches_softioc(demo, ioc, dbr):
    """-d for every DBR type on every demo PV: the same lines as for the equivalent
    records, except values, timestamps, alarm state and element counts."""
    _, env = demo
    names = [f"demo:{name}" for name in DEMO]
    ours = env.c_tool("caget", "-d", dbr, *names)
    theirs = ioc.c_tool("caget", "-d", dbr, *names)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stderr == b""
    assert _stable(ours.stdout) == _stable(theirs.stdout)
    assert ours.stdout.count(b"Request type:     DBR_" + dbr.encode() + b"\n") == len(DEMO)


def test_cainfo_matches_softioc(demo, ioc):
    _, env = demo
    for name in DEMO:
        ours = env.c_tool("cainfo", f"demo:{name}").stdout.decode()
        theirs = ioc.c_tool("cainfo", f"demo:{name}").stdout.decode()
        strip = re.compile(r"^\s*(Host|Access):.*$\n?", re.M)
        assert strip.sub("", ours) == strip.sub("", theirs)
        assert "Access:           read" in ours
    ro = env.c_tool("cainfo", "demo:readonly").stdout.decode()
    assert re.search(r"Access:\s+read, no write", ro)


def test_caget_string_conversions(demo):
    _, env = demo
    out = env.c_tool("caget", "-s", "demo:readonly").stdout.decode().split()
    assert out == ["demo:readonly", "3.1416"]          # PREC 4, as RSRV converts
    out = env.c_tool("caget", "-d", "DBR_STRING", "demo:mode").stdout.decode()
    assert "Value:            Off" in out
    out = env.c_tool("caget", "-n", "demo:mode").stdout.decode().split()
    assert out[-1] == "0"
    long_message = env.c_tool("caget", "-S", "demo:long_message").stdout.decode()
    assert long_message.startswith("demo:long_message A char array holds text")


def test_caput_and_caput_c(demo):
    server, env = demo
    result = env.c_tool("caput", "demo:setpoint", "7.25")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines()[-1].split() == ["New", ":", "demo:setpoint",
                                                               "7.25"]
    assert server["demo:setpoint"].value == 7.25
    # clamped to the control limits like an ao's DRVH/DRVL
    env.c_tool("caput", "-c", "demo:setpoint", "25")
    assert server["demo:setpoint"].value == 10.0
    for value, index in (("Standby", 2), ("1", 1), ("Fault", 3)):
        result = env.c_tool("caput", "-c", "demo:mode", value)
        assert result.returncode == 0, result.stderr
        assert server["demo:mode"].value == index
    result = env.c_tool("caput", "-c", "demo:message", "hi there")
    assert result.returncode == 0 and server["demo:message"].value == "hi there"
    result = env.c_tool("caput", "-S", "demo:long_message", "a much longer message " * 3)
    assert result.returncode == 0
    assert server["demo:long_message"].value == "a much longer message " * 3
    get = env.c_tool("caget", "-S", "demo:long_message").stdout.decode()
    assert get.strip() == "demo:long_message " + ("a much longer message " * 3).strip()


def test_readonly_write_denied(demo):
    server, env = demo
    for args in ((), ("-c",)):
        result = env.c_tool("caput", *args, "demo:readonly", "1")
        assert result.returncode == 1
        assert b"Write access denied" in result.stderr
    assert server["demo:readonly"].value == 3.14159


def test_camonitor_updates_and_sigint(demo):
    _, env = demo
    result = env.c_tool("camonitor", "demo:counter", "demo:sine", sigint_after=1.5)
    lines = result.stdout.decode().splitlines()
    counter = [ln for ln in lines if ln.startswith("demo:counter")]
    sine = [ln for ln in lines if ln.startswith("demo:sine")]
    assert 1 <= len(counter) <= 3
    assert 10 <= len(sine) <= 20            # 10 Hz
    assert result.stderr == b""
