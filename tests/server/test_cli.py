"""``serve`` as a subprocess (the click command), PV files and their validation."""
from __future__ import annotations

import json
import select
import signal
import subprocess
import sys

import pytest

import epics_env
from catools.server import PV, PVFileError, load_pv_file

SERVE = [sys.executable, "-c", "from catools.cli.serve import serve; serve()"]


def _start(args, env):
    proc = subprocess.Popen([*SERVE, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        if not select.select([proc.stderr], [], [], 20)[0]:
            raise AssertionError("catools serve printed no start-up line in 20 s")
        line = proc.stderr.readline().decode()
    except BaseException:
        epics_env.terminate(proc)
        raise
    return proc, line


def _stop(proc, sig=signal.SIGTERM):
    """Send ``sig`` and collect the output; the process is killed if it hangs."""
    try:
        proc.send_signal(sig)
        return proc.communicate(timeout=5)
    finally:
        epics_env.terminate(proc)


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
        out, err = _stop(proc, sig)
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
        _stop(proc)
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
    # what used to be cut or accepted silently
    ({"name": "p", "type": "string", "value": "x" * 60},
     "PV 'p': field 'value': '" + "x" * 60 + "' is longer than 39 bytes"),
    ({"name": "p", "type": "string", "count": 2, "value": ["a", "é" * 20]},
     "PV 'p': field 'value'"),
    ({"name": "p", "type": "long", "count": 2, "value": [1, 2, 3]},
     "PV 'p': field 'value': 3 elements do not fit count 2"),
    ({"name": "p", "type": "char", "count": 4, "value": "abcd"},
     "PV 'p': field 'value': 5 bytes with the NUL do not fit count 4"),
    ({"name": "p", "type": "enum", "enum_strings": ["A", "B"], "value": 2},
     "PV 'p': field 'value': index 2 is not one of the 2 enum_strings"),
    ({"name": "p", "type": "enum", "enum_strings": ["A", "B"], "value": -1},
     "PV 'p': field 'value': index -1"),
    ({"name": "p", "display_limits": [5, 1]},
     "PV 'p': field 'display_limits': low 5 is above high 1"),
    ({"name": "p", "control_limits": [5, 1]}, "PV 'p': field 'control_limits': low 5"),
    ({"name": "p", "alarm_limits": [10, -10]}, "PV 'p': field 'alarm_limits': low 10"),
    ({"name": "p", "warning_limits": [3, 2]}, "PV 'p': field 'warning_limits': low 3"),
    ({"name": "p", "precision": -3}, "PV 'p': field 'precision' must be >= 0, not -3"),
    ({"name": "p", "units": "millimetres"},
     "PV 'p': field 'units': 'millimetres' is longer than 7 bytes"),
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
    path.write_text('[[pv]]\nname = "lim"\ndisplay_limits = [5, 1]\n')
    result = subprocess.run([*SERVE, str(path)], env=ca_env.env, capture_output=True,
                            timeout=10)
    assert result.returncode == 1
    assert result.stderr.decode() == (f"Error: {path}: PV 'lim': field 'display_limits': "
                                      "low 5 is above high 1\n")
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
