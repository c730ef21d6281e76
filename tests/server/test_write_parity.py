"""Writes are converted and refused as softIoc does: the C caput against a real softIoc
and against our server with equivalent PVs, value by value (stored value read back
with the C caget, caput's exit code and output)."""
from __future__ import annotations

import math
import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

import catools
from catools.config import ClientConfig
from catools.server import PV, Server

import hostile
from serverhelpers import loopback_config

RECORDS = """
record(longout, "w:long") {}
record(ao, "w:double") {}
record(mbbo, "w:enum") {
  field(ZRST, "Off") field(ONST, "On") field(TWST, "Standby") field(THST, "Fault")
}
record(stringout, "w:string") {}
record(waveform, "w:chars") { field(FTVL, "CHAR") field(NELM, "64") }
record(waveform, "w:shorts") { field(FTVL, "SHORT") field(NELM, "4") }
record(waveform, "w:floats") { field(FTVL, "FLOAT") field(NELM, "4") }
"""


def equivalent_pvs() -> list[PV]:
    return [PV("w:long", "long", 0, class_name="longout"),
            PV("w:double", "double", 0.0, class_name="ao"),
            PV("w:enum", "enum", 0, enum_strings=["Off", "On", "Standby", "Fault"],
               class_name="mbbo"),
            PV("w:string", "string", "", class_name="stringout"),
            PV("w:chars", "char", [0], count=64, class_name="waveform"),
            PV("w:shorts", "short", [0], count=4, class_name="waveform"),
            PV("w:floats", "float", [0.0], count=4, class_name="waveform")]


INPUTS = [
    "99999999999999999999", "1e10", "-1e10", "nan", "NaN", "inf", "-inf", "Infinity",
    "0x10", "0x1p3", "0x", "", " ", "\t7", "1e3", "1_000", "3.7", "-3.7", "1.5abc", "abc",
    "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295", "0", "1", "4",
    "16", "127", "200", "300", "65536", "-1", " 12 ", "+5", "010", "1e-310", "1e-400",
    "1e400", "1e39", "1e-50", "1.", ".5", "5e", "-0",
]
_TIME = re.compile(rb"^\s*Current Time:.*$", re.M)


@pytest.fixture(scope="module")
def pair(module_env, module_softioc):
    ioc = module_softioc(records=RECORDS, probe_pv="w:long")
    server = Server(equivalent_pvs(), loopback_config(module_env))
    server.start_in_thread()
    try:
        yield ioc, module_env
    finally:
        server.stop()


def _both(pair, pv: str, value: str, *options: str) -> tuple[tuple, tuple]:
    """:func:`_write` on softIoc and on ours at the same time: (ours, theirs)."""
    ioc, ours = pair
    with ThreadPoolExecutor(2) as pool:
        theirs_got = pool.submit(_write, ioc, pv, value, *options)
        ours_got = pool.submit(_write, ours, pv, value, *options)
        return ours_got.result(), theirs_got.result()


def _write(target, pv: str, value: str, *options: str) -> tuple:
    """caput's exit code, stdout and stderr (clock line removed), then caget's value."""
    values = ("2", value, "1") if "-a" in options else (value,)
    put = target.c_tool("caput", *options, pv, *values, timeout=15)
    get = target.c_tool("caget", "-t", pv, timeout=15)
    return put.returncode, put.stdout, _TIME.sub(b"", put.stderr), get.stdout


@pytest.mark.parametrize("pv", ["w:long", "w:double", "w:enum", "w:string", "w:chars"])
def test_caput_scalar_strings_match_softioc(pair, pv):
    mismatches = []
    for value in INPUTS:
        ours_got, theirs_got = _both(pair, pv, value, "-t")
        if ours_got != theirs_got:
            mismatches.append((value, ours_got, theirs_got))
    assert not mismatches, mismatches[:3]


def test_caput_arrays_match_softioc(pair):
    mismatches = []
    for pv in ("w:shorts", "w:floats"):
        for value in INPUTS:
            ours_got, theirs_got = _both(pair, pv, value, "-t", "-a")
            if ours_got != theirs_got:
                mismatches.append((pv, value, ours_got, theirs_got))
    assert not mismatches, mismatches[:3]


def test_caput_callback_failures_match_softioc(pair):
    """caput -c (WRITE_NOTIFY): a refused conversion is an error status, exit 1."""
    ioc, ours = pair
    for pv, value in (("w:long", "99999999999999999999"), ("w:long", "abc"),
                      ("w:double", "1e400"), ("w:long", "42")):
        theirs_got = _write(ioc, pv, value, "-c", "-t")
        assert _write(ours, pv, value, "-c", "-t") == theirs_got
    assert theirs_got[0] == 0 and theirs_got[3] == b"42\n"


def test_non_utf8_string_is_stored_raw(pair):
    ioc, ours = pair
    value = os.fsdecode(b"caf\xe9 \xff")      # the argv bytes are not UTF-8
    theirs_got = _write(ioc, "w:string", value, "-t")
    assert _write(ours, "w:string", value, "-t") == theirs_got
    assert theirs_got[3] == b"caf\\xe9 \\xff\n"


@pytest.mark.parametrize("data_type, values", [
    (6, [1e10, -1e10, math.nan, math.inf, 2147483648.0, 4294967295.0, 70000.0, -3.7,
         65536.0, 300.0]),
    (5, [70000, -40000, 2147483647, 300]),
])
@pytest.mark.parametrize("pv", ["w:long", "w:enum", "w:shorts", "w:chars", "w:floats"])
def test_numeric_writes_convert_as_softioc(pair, pv, data_type, values):
    """DBR_DOUBLE/DBR_LONG writes (our client, WRITE_NOTIFY) of out-of-range values."""
    ioc, ours = pair
    for value in values:
        got = []
        for target in (ioc, ours):
            config = ClientConfig.from_env(target.env)
            with catools.Context(config) as ctx:
                catools.put(pv, [value], data_type=data_type, wait=True, timeout=5,
                            context=ctx)
            got.append(target.c_tool("caget", "-t", pv).stdout)
        assert got[1] == got[0], (value, got)


@pytest.mark.parametrize("pv", ["w:shorts", "w:long"])
def test_empty_write_as_softioc(pair, pv):
    """A WRITE_NOTIFY of 0 elements succeeds: an array becomes empty, a scalar stays."""
    got = []
    for target in pair:
        target.c_tool("caput", "-t", "-a", pv, "2", "3", "4") if pv == "w:shorts" else \
            target.c_tool("caput", "-t", pv, "5")
        sock, reader, sid, _dtype, _count = hostile.open_channel(target.port, pv)
        try:
            sock.sendall(hostile.header(hostile.CMD_WRITE_NOTIFY, 0, 6, 0, sid, 3))
            reply = reader.until(hostile.CMD_WRITE_NOTIFY)
        finally:
            sock.close()
        got.append((reply[3], target.c_tool("caget", "-t", pv).stdout))
    assert got[1] == got[0]
    assert got[0][0] == hostile.ECA_NORMAL
