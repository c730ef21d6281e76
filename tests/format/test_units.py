"""Unit tests of catools.format that need no server (cases from the C sources/tool runs)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
from array import array

import pytest

from catools.format import (
    FormatOptions, Metadata, MonitorChannel, MonitorFormatter, c_float,
    camonitor_json, caget_json, caget_json_error, escape_bytes, format_caget,
    format_caget_error, format_long, format_timestamp, parse_dbr_type, round_to_long,
    time_diff_seconds, write_caget,
)

from readings import reading_of as Reading

TS = (1100000000, 669834123)
MD = Metadata(status=0, severity=0, timestamp=TS)


@pytest.mark.parametrize("raw,text", [
    (b"plain text", "plain text"),
    (b"\a\b\f\n\r\t\v\\'\"\0", "\\a\\b\\f\\n\\r\\t\\v\\\\\\'\\\"\\0"),
    ("é".encode(), "\\xc3\\xa9"),
    (b"\x01\x7f\x80\xff~ ", "\\x01\\x7f\\x80\\xff~ "),
])
def test_escape(raw, text):
    assert escape_bytes(raw) == text


@pytest.mark.parametrize("v,base,text", [
    (42, "x", "0x2A"), (-5, "x", "0xFFFFFFFB"), (0, "x", "0x0"), (42, "o", "0o52"),
    (0, "o", "0o0"), (42, "b", "101010"), (-5, "b", "1" * 29 + "011"), (0, "b", "0"),
    (7, None, "7"),
])
def test_format_long(v, base, text):
    assert format_long(v, base) == text


@pytest.mark.parametrize("v,n", [(2.5, 3), (-2.5, -3), (0.49999999999999994, 1),
                                 (1e10, -2147483648), (math.nan, -2147483648),
                                 (-0.4, 0), (2147483646.6, 2147483647)])
def test_round_to_long(v, n):
    assert round_to_long(v) == n


def test_c_float_nan_spelling():
    assert c_float("%g", math.nan) == "nan"
    assert c_float("%g", -math.nan) == "-nan"
    assert c_float("%-.3f", -math.inf) == "-inf"


def test_timestamp_rounding_and_special(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    assert format_timestamp((0, 0)) == "<undefined>"
    assert format_timestamp((1100000002, 999999600)) == "2024-11-09 11:33:22.999999"
    assert format_timestamp((1100000003, 123456500)) == "2024-11-09 11:33:23.123457"
    assert format_timestamp((1100000003, 1_000_000_000)) == "2024-11-09 11:33:23.OVF"


def test_time_diff_wraps_int32():
    assert time_diff_seconds((10, 5), (9, 999999999)) == pytest.approx(6e-9)
    assert time_diff_seconds((0, 0), (0xFFFFFFFF, 0)) == 1.0


def test_parse_dbr_type():
    assert parse_dbr_type("DBR_CTRL_DOUBLE") == 34
    assert parse_dbr_type("CTRL_SHORT") == 29
    assert parse_dbr_type("CTRL_INT") == -1     # C caget knows only the SHORT names
    assert parse_dbr_type("34") == 34
    assert parse_dbr_type("7x") == 7
    assert parse_dbr_type("FOO") == -1


def test_enum_overflow_texts():
    md = Metadata(status=0, severity=0, enum_strings=[b"Off", b"On"])
    opts = FormatOptions(mode="terse")
    assert format_caget("e", Reading(24, array("H", [7]), native_type=3, metadata=md),
                        opts) == "Enum Index Overflow (7)\n"
    assert format_caget("e", Reading(31, array("H", [16]), native_type=3, metadata=md),
                        opts) == "Illegal Value (16)\n"
    assert format_caget("e", Reading(31, array("H", [16]), native_type=3, metadata=md),
                        FormatOptions(mode="terse", enum_as_number=True)) == "16\n"


def test_ctrl_string_is_sts_block():
    r = Reading(28, [b"hi"], native_type=0, metadata=Metadata(status=3, severity=2))
    assert format_caget("s", r, FormatOptions(mode="dbr")).endswith(
        "    Value:            hi\n    Status:           HIHI\n    Severity:         MAJOR\n")


@pytest.mark.parametrize("kind,opts,text", [
    ("no_read_access", FormatOptions(), "X" + " " * 29 + " *** no read access\n"),
    ("not_found", FormatOptions(mode="terse"), "*** not connected\n"),
    ("ca_error", FormatOptions(separator=","), "X,*** CA error boom\n"),
    ("no_data", FormatOptions(mode="dbr"), "X\n    *** no data available (timeout)\n"),
    ("no_read_access", FormatOptions(mode="wide"),
     "X" + " " * 29 + " 2024-11-09 11:33:20.669834 *** no read access\n"),
    ("not_found", FormatOptions(mode="wide"), "X" + " " * 29 + " *** Not connected (PV not found)\n"),
])
def test_error_lines(monkeypatch, kind, opts, text):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    assert format_caget_error("X", kind, opts, message="boom", now=TS) == text


def test_camonitor_relative_modes(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    fmt = MonitorFormatter(FormatOptions(mode="wide", ts_server=True, ts_client=True,
                                         ts_type="incremental_by_channel"), start=TS)
    ch = MonitorChannel()
    r1 = Reading(20, array("d", [635.0]), native_type=6,
                 metadata=Metadata(status=0, severity=0, timestamp=(1100000000, 169027000)))
    r2 = Reading(20, array("d", [636.0]), native_type=6,
                 metadata=Metadata(status=0, severity=0, timestamp=(1100000000, 269046000)))
    a = fmt.update("TST:calc", r1, ch, now=(1100000000, 192635000))
    b = fmt.update("TST:calc", r2, ch, now=(1100000000, 269265000))
    assert a == "TST:calc" + " " * 23 + "2024-11-09 11:33:20.169027(2024-11-09 11:33:20.192635) 635  \n"
    assert b == "TST:calc" + " " * 23 + " " * 14 + "   +0.100019" + " " * 14 + "(   +0.076630) 636  \n"
    assert fmt.disconnected("TST:calc", ch, now=TS) == (
        "TST:calc" + " " * 23 + "2024-11-09 11:33:20.669834 *** disconnected\n")


def test_write_caget_streams_large_double_array_fast():
    import io
    n = 1_000_000
    data = array("d", (i * 0.5 for i in range(n)))
    r = Reading(20, data, native_type=6, metadata=MD)
    buf = io.BytesIO()
    t0 = time.perf_counter()
    write_caget(buf, "WF", r, FormatOptions(mode="terse"))
    dt = time.perf_counter() - t0
    lst = data.tolist()
    t0 = time.perf_counter()
    ref = ("%g " * n) % tuple(lst)
    dref = time.perf_counter() - t0
    assert buf.getvalue() == ("%d " % n + ref[:-1] + "\n").encode()
    assert dt < max(3 * dref, 0.5), (dt, dref)


def test_monitor_scalar_update_is_cheap():
    fmt = MonitorFormatter(FormatOptions(mode="wide"), start=TS)
    ch = MonitorChannel()
    r = Reading(20, array("d", [1.5]), native_type=6, metadata=MD)
    fmt.update("PV", r, ch)
    t0 = time.perf_counter()
    for _ in range(20000):
        fmt.update("PV", r, ch)
    per = (time.perf_counter() - t0) / 20000
    assert per < 20e-6, per


# ------------------------------------------------------------------ JSON

def _rec(**kw):
    return Reading(**kw)


JSON_READINGS = [
    ("d", _rec(data_type=34, data=array("d", [math.nan]), native_type=6, metadata=Metadata(
        status=3, severity=2, timestamp=None, units=b"mm", precision=3, upper_disp_limit=math.inf,
        lower_disp_limit=-math.inf, upper_alarm_limit=1, upper_warning_limit=2,
        lower_warning_limit=3, lower_alarm_limit=math.nan, upper_ctrl_limit=4,
        lower_ctrl_limit=5))),
    ("t", _rec(data_type=20, data=array("d", [1.0, -math.inf, 2.5]), native_type=6, metadata=MD)),
    ("f", _rec(data_type=16, data=array("f", [0.1]), native_type=2, metadata=MD)),
    ("e", _rec(data_type=31, data=array("H", [1]), native_type=3, metadata=Metadata(
        status=0, severity=0, enum_strings=[b"Off", b"On\xff"]))),
    ("s", _rec(data_type=14, data=[b"h\xc3\xa9\xff\"", b"x"], native_type=0, metadata=Metadata(
        status=0, severity=0, timestamp=(0, 0)))),
    ("c", _rec(data_type=18, data=array("B", b"hi\0\0"), native_type=4, metadata=MD)),
    ("\udcff-name", _rec(data_type=38, data=[b"ai"], native_type=6, metadata=None)),
]


@pytest.mark.parametrize("name,r", JSON_READINGS, ids=[n for n, _ in JSON_READINGS])
def test_json_strict_and_parseable(name, r):
    line = caget_json(name, r)
    obj = json.loads(line, parse_constant=lambda c: pytest.fail(c))
    assert obj["ok"] is True and obj["count"] == r.count
    assert list(obj)[:3] == ["name", "ok", "type"]


def test_json_values():
    obj = json.loads(caget_json("d", JSON_READINGS[0][1]))
    assert obj["value"] == "NaN"
    assert obj["limits"]["upper_disp"] == "Infinity" and obj["limits"]["lower_alarm"] == "NaN"
    obj = json.loads(caget_json("t", JSON_READINGS[1][1]))
    assert obj["value"] == [1.0, "-Infinity", 2.5]
    assert obj["timestamp"] == "2024-11-09T11:33:20.669834123Z"
    assert caget_json("t", JSON_READINGS[1][1]).count('"epoch":1731152000.669834123,') == 1
    assert json.loads(caget_json("f", JSON_READINGS[2][1]))["value"] == 0.1
    e = json.loads(caget_json("e", JSON_READINGS[3][1]))
    assert e["value"] == 1 and e["enum_strings"] == ["Off", "On\\xff"]
    s = json.loads(caget_json("s", JSON_READINGS[4][1]))
    assert s["value"] == ["hé\\xff\"", "x"] and s["timestamp"] is None
    c = json.loads(caget_json("c", JSON_READINGS[5][1], char_as_string=True))
    assert c["value"] == "hi"
    err = json.loads(caget_json_error("X", "not_found", now=1.5))
    assert err.pop("client_epoch") == 1.5            # (every record ends with it)
    assert err == {"name": "X", "ok": False, "error": "not_found", "message": "PV not found"}
    m = json.loads(camonitor_json("X", "disconnected"))
    assert m["event"] == "disconnected" and m["ok"] is False


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq not installed")
def test_json_lines_pass_jq():
    lines = [caget_json(n, r) for n, r in JSON_READINGS]
    lines += [caget_json_error("X", "no_read_access"), camonitor_json("X", "connected"),
              camonitor_json("Y", "update", JSON_READINGS[1][1])]
    for line in lines:
        p = subprocess.run(["jq", "-e", "."], input=line.encode("utf-8"), capture_output=True)
        assert p.returncode == 0, (line, p.stderr)


def test_rich_colour_keeps_layout(monkeypatch):
    from catools.format import _rich
    monkeypatch.delenv("NO_COLOR", raising=False)
    line = "PV" + " " * 29 + "1 HIHI MAJOR\n"
    out = _rich.colorize(line, 2)
    assert out != line and out.endswith("\n")
    import re
    assert re.sub(r"\x1b\[[0-9;]*m", "", out) == line
    assert _rich.colorize(line, 0) == line
    monkeypatch.setenv("NO_COLOR", "1")
    assert _rich.colorize(line, 2) == line
    assert _rich.make_colorizer()(line, 3) == line


def test_format_package_does_not_import_heavy_modules():
    import sys
    code = ("import sys, catools.format; "
            "bad=[m for m in ('rich','click','numpy','socket','asyncio') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    from pathlib import Path
    src = Path(__file__).resolve().parents[2] / "src"
    p = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(src)},
                       capture_output=True)
    assert p.returncode == 0, p.stdout


def test_json_timestamps_and_repeated_fields_stay_right_across_records():
    # the ISO second is kept from one record to the next, names/types/alarms are
    # memoised (bounded): each record must still carry its own values
    import datetime

    from catools.format import _json
    stamps = [(1100000000, 5), (1100000000, 999999999), (1100000001, 0), (1100000000, 7),
              (1100086400, 123456789), (1100000000, 1_500_000_000)]
    for i, (sec, nsec) in enumerate(stamps * 2):
        r = _rec(data_type=20, data=array("d", [float(i)]), native_type=6,
                 metadata=Metadata(status=i % 4, severity=i % 3, timestamp=(sec, nsec)))
        obj = json.loads(caget_json(f"PV{i % 3}", r))
        extra, ns = divmod(nsec, 1_000_000_000)
        unix = sec + 631152000 + extra
        iso = datetime.datetime.fromtimestamp(unix, datetime.timezone.utc)
        assert obj["timestamp"] == iso.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % ns
        assert (obj["name"], obj["value"], obj["status_code"], obj["severity_code"]) == \
            (f"PV{i % 3}", float(i), i % 4, i % 3)
    for i in range(5000):                            # more names than the memo keeps
        assert json.loads(caget_json(f"N{i}", JSON_READINGS[1][1]))["name"] == f"N{i}"
    assert len(_json._NAME) <= 4096


def test_format_options_declare_every_option():
    from catools.format import _options
    assert list(_options.FormatOptions.__annotations__) == list(_options._DEFAULTS)


@pytest.mark.parametrize("data_type", range(14, 21))
def test_json_time_records_equal_the_general_path(data_type):
    """json_record writes DBR_TIME_* records (every monitor update) in one format; the
    result must be what the general member-by-member path makes."""
    import random

    import catools
    from catools.format import _json
    from catools.results import Reading
    from catools.protocol import DBRMetadata

    rng = random.Random(data_type)
    base = data_type - 14
    for count in (1, 3):
        for _ in range(40):
            if base == 0:
                data = [rng.choice([b"abc", b"\xff\xfe", b"", b'"q\\\n']) for _ in range(count)]
            elif base in (2, 6):
                data = [rng.choice([1.5, math.nan, math.inf, -0.0, 1e300, 0.1])
                        for _ in range(count)]
            else:
                data = [rng.randrange(0, 120) for _ in range(count)]
            stamp = rng.choice([(0, 0), (rng.randrange(1 << 32), rng.randrange(10**9))])
            metadata = DBRMetadata(status=rng.randrange(22), severity=rng.randrange(4),
                                   timestamp=stamp)
            response = catools.ReadNotifyResponse(data=data, metadata=metadata,
                                                  data_type=data_type, data_count=count,
                                                  status=1, ioid=1)
            reading = Reading.of("X:y", response, base, count)
            for as_string in (False, True):
                for event in (None, "update"):
                    general = _json._head("X:y", event) + "," + ",".join(
                        _json._record_fields(reading, char_as_string=as_string)) + "}"
                    assert _json.json_record("X:y", reading, char_as_string=as_string,
                                             event=event) == general
                    json.loads(general)
