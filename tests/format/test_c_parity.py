"""Byte-for-byte comparison with the real EPICS 7.0.8.1 C tools (oracle server data)."""

from __future__ import annotations

import re

import pytest

from catools.format import (
    FormatOptions, MonitorChannel, MonitorFormatter, float_format,
    format_caget, parse_dbr_type, parse_timestamp_keys,
)
from catools.client import request_type as default_request_type

from readings import NATIVE, reading
from oracle_pvs import SPECS

SCALARS = ["O:dbl", "O:alarm", "O:minor", "O:ts_clamp", "O:ts_round", "O:undef", "O:nan",
           "O:negnan", "O:inf", "O:neginf", "O:big", "O:half", "O:neghalf", "O:tiny",
           "O:float", "O:long", "O:neg", "O:zero", "O:short", "O:enum", "O:str", "O:esc",
           "O:one", "O:stat_oob"]
ARRAYS = ["O:wfd", "O:wfl", "O:wfc", "O:wfs"]
ALL = SCALARS + ARRAYS


def options_from_args(args: list[str]) -> tuple[FormatOptions, int]:
    """Tiny stand-in for the CLI: caget flags -> (FormatOptions, -d type or -1)."""
    kw: dict = {}
    dbr = -1
    it = iter(args)
    for a in it:
        if a == "-t":
            kw["mode"] = "terse"
        elif a == "-a":
            kw["mode"] = "wide"
        elif a == "-d":
            kw["mode"] = "dbr"
            dbr = parse_dbr_type(next(it))
        elif a == "-F":
            kw["separator"] = next(it)[0]
        elif a in ("-e", "-f", "-g"):
            kw["float_format"] = float_format(a[1], int(next(it)))
        elif a.startswith("-l"):
            kw["float_base"] = a[2]
        elif a.startswith("-0"):
            kw["int_base"] = a[2]
        elif a == "-n":
            kw["enum_as_number"] = True
        elif a == "-S":
            kw["char_as_string"] = True
        elif a == "-#":
            kw["count"] = int(next(it))
        elif a == "-t-mon":
            s, c, t, _ = parse_timestamp_keys(next(it))
            kw.update(ts_server=s, ts_client=c, ts_type=t)
        else:
            raise AssertionError(a)
    return FormatOptions(**kw), dbr


def expected_caget(args: list[str], names: list[str]) -> bytes:
    opts, dbr = options_from_args(args)
    out = []
    for name in names:
        native = NATIVE[SPECS[name]["kind"]]
        t = dbr if dbr >= 0 else default_request_type(native, enum_as_number=opts.enum_as_number)
        r = reading(name, t, opts.count or None)
        out.append(format_caget(name, r, opts))
    return "".join(out).encode("utf-8", "surrogateescape")


CAGET_CASES = [
    ([], ALL),
    (["-t"], ALL),
    (["-a"], ALL),
    (["-F", ","], ALL),
    (["-F", ",x", "-a"], ALL),
    (["-t", "-F", ";"], ALL),
    (["-e", "3"], ALL),
    (["-f", "0"], ALL),
    (["-f", "5"], ALL),
    (["-g", "10"], ALL),
    (["-g", "18"], ALL),
    (["-lx"], ALL),
    (["-lo"], ALL),
    (["-lb"], ALL),
    (["-lx", "-0b"], ALL),
    (["-0x"], ALL),
    (["-0o"], ALL),
    (["-0b"], ALL),
    (["-n"], ALL),
    (["-n", "-0x", "-a"], ALL),
    (["-#", "3"], ALL),
    (["-#", "1"], ALL),
    (["-#", "3", "-a"], ALL),
    (["-S"], ALL),
    (["-S", "-#", "3"], ALL),
    (["-S", "-a"], ALL),
    (["-S", "-#", "4", "-a"], ALL),
    (["-S", "-t"], ALL),
    (["-d", "DBR_CTRL_DOUBLE"], ["O:dbl", "O:alarm", "O:nan", "O:negnan", "O:wfd", "O:undef"]),
    (["-d", "CTRL_DOUBLE", "-f", "2"], ["O:dbl"]),
    (["-d", "27"], ["O:dbl", "O:wfd"]),
    (["-d", "TIME_DOUBLE"], ["O:dbl", "O:ts_clamp", "O:undef", "O:stat_oob"]),
    (["-d", "STS_DOUBLE"], ["O:alarm", "O:wfd"]),
    (["-d", "DBR_DOUBLE", "-F", ","], ["O:dbl", "O:wfd"]),
    (["-d", "CTRL_FLOAT"], ["O:float"]),
    (["-d", "GR_FLOAT"], ["O:float"]),
    (["-d", "CTRL_LONG"], ["O:long", "O:neg", "O:wfl"]),
    (["-d", "GR_LONG"], ["O:long"]),
    (["-d", "CTRL_SHORT"], ["O:short"]),
    (["-0x", "-d", "TIME_SHORT"], ["O:short"]),  # -0x after -d would force DBR_LONG
    (["-d", "CTRL_ENUM"], ["O:enum"]),
    (["-d", "GR_ENUM", "-n"], ["O:enum"]),
    (["-d", "TIME_ENUM"], ["O:enum"]),
    (["-d", "STS_STRING"], ["O:str", "O:esc", "O:wfs"]),  # caproto garbles CTRL_STRING
    (["-d", "TIME_STRING"], ["O:str", "O:enum"]),
    (["-d", "CLASS_NAME"], ["O:dbl", "O:long"]),
    (["-d", "STSACK_STRING"], ["O:alarm"]),
    (["-d", "TIME_CHAR"], ["O:wfc"]),
    (["-d", "TIME_CHAR", "-S"], ["O:wfc"]),
]


@pytest.mark.parametrize("args,names", CAGET_CASES, ids=[" ".join(a) or "plain"
                                                         for a, _ in CAGET_CASES])
def test_caget_matches_c(oracle, args, names):
    got = oracle.run("caget", *args, *names)
    assert got, "the C caget printed nothing (a PV did not connect?)"
    assert expected_caget(args, names) == got


MONITOR_CASES = [
    ([], ALL),
    (["-t", "n"], ALL),
    (["-t", "s"], ALL),
    (["-t", "sr"], ALL),
    (["-t", "sI"], ALL),
    (["-t", "x"], ["O:dbl", "O:wfd"]),
    (["-F", ","], ALL),
    (["-#", "2"], ALL),
    (["-S"], ["O:wfc", "O:wfd"]),
    (["-S", "-#", "3"], ["O:wfc"]),
    (["-n", "-0x", "-f", "3"], ALL),
]


@pytest.mark.parametrize("args,names", MONITOR_CASES, ids=[" ".join(a) or "plain"
                                                           for a, _ in MONITOR_CASES])
def test_camonitor_matches_c(oracle, args, names):
    got = oracle.monitor(*args, *names)
    cargs = ["-t-mon" if a == "-t" else a for a in args]
    opts, _ = options_from_args(cargs)
    opts = FormatOptions(**{**{f: getattr(opts, f) for f in opts.__slots__}, "mode": "wide"})
    fmt = MonitorFormatter(opts)
    # Updates arrive in connection order, which is not fixed: compare as sets of lines.
    expected = []
    for name in names:
        native = NATIVE[SPECS[name]["kind"]]
        t = default_request_type(native, enum_as_number=opts.enum_as_number)
        count = min(opts.count, len(SPECS[name]["value"]) if isinstance(
            SPECS[name]["value"], list) else 1) if opts.count else None
        expected.append(fmt.update(name, reading(name, t, count), MonitorChannel()))
    assert sorted(got.decode("utf-8", "surrogateescape").splitlines(True)) == sorted(expected)


def test_camonitor_not_found_line(oracle):
    got = oracle.monitor("-w", "0.3", "O:nope", "O:dbl", seconds=1.2)
    fmt = MonitorFormatter(FormatOptions(mode="wide"))
    assert fmt.not_found("O:nope").encode() in got
    assert got.startswith(b"O:nope                         *** Not connected (PV not found)\n") \
        or b"\nO:nope" in got


def test_camonitor_client_stamp_shape(oracle):
    got = oracle.monitor("-t", "sc", "O:dbl").decode()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}"
    assert re.fullmatch(r"O:dbl {26}%s\(%s\) 3\.14159  \n" % (stamp, stamp), got)


def test_cainfo_matches_c(oracle):
    from catools.format import format_cainfo

    got = oracle.run("cainfo", "O:dbl", "O:wfs").decode()
    host = re.search(r"Host:\s+(\S+)", got).group(1)
    exp = (format_cainfo("O:dbl", state=2, host=host, read_access=True, write_access=True,
                         native_type=6, element_count=1)
           + format_cainfo("O:wfs", state="connected", host=host, read_access=True,
                           write_access=True, native_type=0, element_count=4))
    assert got == exp


def test_softioc_char_array_and_caput(softioc):
    """Signed chars, \\x escapes of UTF-8 bytes, and caput Old/New lines (real softIoc)."""
    from catools.format import format_caput
    from catools.format import Metadata
    from readings import reading_of as Reading
    from array import array

    raw = "tab\tq\"\u00e9'".encode()
    got = softioc.run("caput", "-S", "S:wfc", "tab\\tq\"\u00e9'")
    old = Reading(18, array("B", bytes(16)), native_type=4, native_count=16,
                  metadata=Metadata(status=0, severity=0, timestamp=(0, 0)))
    new = Reading(18, array("B", raw + bytes(16 - len(raw))), native_type=4, native_count=16,
                  metadata=Metadata(status=0, severity=0, timestamp=(0, 0)))
    opts = FormatOptions(char_as_string=True)
    assert got == (format_caput("old", "S:wfc", old, opts)
                   + format_caput("new", "S:wfc", new, opts)).encode()
    assert softioc.run("caget", "S:wfc") == format_caget("S:wfc", new, FormatOptions()).encode()
    assert softioc.run("caget", "-t", "-F", ",", "S:wfc") == format_caget(
        "S:wfc", new, FormatOptions(mode="terse", separator=",")).encode()
