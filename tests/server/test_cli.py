"""``serve`` as a subprocess (the click command), PV files and their validation."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from catools.server import PV, PVFileError, load_pv_file

SERVE = [sys.executable, "-c", "from catools.cli.serve import serve; serve()"]


def _start(args, env):
    proc = subprocess.Popen([*SERVE, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    line = proc.stderr.readline().decode()
    return proc, line


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_demo_subprocess(ca_env, sig):
    proc, line = _start(["--demo", "--prefix", "t:", "--port", str(ca_env.port)], ca_env.env)
    try:
        assert line == f"catools serve: 8 PVs on 127.0.0.1:{ca_env.port}\n"
        result = ca_env.c_tool("caget", "t:message", "t:mode", "t:readonly")
        assert result.returncode == 0, result.stderr
        assert result.stdout.decode().split() == ["t:message", "Hello,", "Channel", "Access",
                                                  "t:mode", "Off", "t:readonly", "3.14159"]
        assert ca_env.c_tool("caput", "t:readonly", "2").returncode == 1
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0
    assert out == b"" and err == b""          # quiet exit, no traceback


def test_serve_pv_file(ca_env, tmp_path):
    path = tmp_path / "pvs.json"
    path.write_text(json.dumps({"pv": [
        {"name": "f:arr", "type": "long", "count": 10, "value": [1, 2, 3], "units": "mm"},
        {"name": "f:temp", "type": "float", "value": 21.5, "precision": 1, "units": "C",
         "alarm_limits": [0, 40], "warning_limits": [10, 30], "alarm_severity": "INVALID"},
        {"name": "f:state", "type": "enum", "enum_strings": ["A", "B"], "value": "B"},
    ]}))
    proc, line = _start([str(path)], ca_env.env)
    try:
        assert line == f"catools serve: 3 PVs on 127.0.0.1:{ca_env.port}\n"
        # caget asks for the native count: the 3 valid elements, zero-filled as RSRV does
        assert ca_env.c_tool("caget", "f:arr").stdout.split() == [
            b"f:arr", b"10", b"1", b"2", b"3", *[b"0"] * 7]
        assert ca_env.c_tool("caput", "-a", "f:arr", "4", "9", "8", "7", "6").returncode == 0
        assert ca_env.c_tool("caget", "-#", "4", "f:arr").stdout.split()[1:] == [
            b"4", b"9", b"8", b"7", b"6"]
        assert ca_env.c_tool("caget", "-s", "f:temp").stdout.split() == [b"f:temp", b"21.5"]
        ca_env.c_tool("caput", "f:temp", "45")
        alarm = ca_env.c_tool("caget", "-d", "STS_FLOAT", "f:temp").stdout.decode()
        assert "Status:           HIHI" in alarm and "Severity:         INVALID" in alarm
        assert ca_env.c_tool("caget", "f:state").stdout.split() == [b"f:state", b"B"]
        bad = ca_env.c_tool("caput", "-c", "f:state", "C")
        assert bad.returncode == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=5)
    assert proc.returncode == 0


@pytest.mark.parametrize("entry, message", [
    ({"name": "p", "precision": "3"}, "PV 'p': field 'precision' must be an integer"),
    ({"name": "p", "type": "int64"}, "PV 'p': field 'type': unknown type 'int64'"),
    ({"name": "p", "colour": 1}, "PV 'p': unknown field 'colour'"),
    ({"name": "p", "alarm_limits": [1]}, "PV 'p': field 'alarm_limits' must be [low, high]"),
    ({"name": "p", "type": "short", "value": 70000}, "PV 'p': field 'value'"),
    ({"name": "p", "type": "enum", "value": "X", "enum_strings": ["A"]},
     "PV 'p': field 'value'"),
    ({"name": "p", "alarm_severity": "LOUD"}, "PV 'p': field 'severity'"),
    ({"type": "long"}, "PV #1: field 'name' is missing"),
])
def test_pv_file_errors_name_pv_and_field(tmp_path, entry, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"pv": [entry]}))
    with pytest.raises(PVFileError) as info:
        load_pv_file(path)
    text = str(info.value)
    assert "\n" not in text and message in text and text.startswith(str(path))


def test_cli_reports_bad_file_in_one_line(ca_env, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[pv]]\nname = "a"\ncount = 0\n')
    result = subprocess.run([*SERVE, str(path)], env=ca_env.env, capture_output=True,
                            timeout=10)
    assert result.returncode == 1
    assert result.stderr.decode() == f"Error: {path}: PV 'a': field 'count' must be >= 1\n"
    usage = subprocess.run(SERVE, env=ca_env.env, capture_output=True, timeout=10)
    assert usage.returncode == 2 and b"give a PV file, or --demo" in usage.stderr


def test_toml_file(tmp_path):
    path = tmp_path / "pvs.toml"
    path.write_text('[[pv]]\nname = "x"\ntype = "string"\nvalue = "hi"\nread_only = true\n'
                    '[[pv]]\nname = "y"\ntype = "char"\ncount = 64\nvalue = "text"\n')
    x, y = load_pv_file(path)
    assert (x.name, x.value, x.read_only) == ("x", "hi", True)
    assert (y.count, y.value, y.element_count) == (64, "text", 5)
    assert isinstance(x, PV)
