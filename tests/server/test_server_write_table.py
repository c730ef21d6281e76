"""Write conversions that softIoc refuses, case by case (issue 18, 5): the C caput
against softIoc and against our server with equivalent PVs (beside
test_write_parity.py, which holds the broad sweep).

* ``caput X ''`` on a count-1 FLOAT/SHORT/CHAR PV (a waveform of one element in
  softIoc): refused, the value kept; on a LONG/DOUBLE scalar (longout, ao): 0.
* ``caput -a wf 3 1 abc 3``: the elements before the bad one are written, the element
  count and the rest stay, and the put fails; posted to monitors only by a put with
  callback (``-c``: WRITE_NOTIFY processes the record anyway).
"""
from __future__ import annotations

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import epics_env
import serve_report
from catools.server import PV, Server

from serverhelpers import loopback_config

RECORDS = """
record(waveform, "t:f1") { field(FTVL, "FLOAT") field(NELM, "1") }
record(waveform, "t:s1") { field(FTVL, "SHORT") field(NELM, "1") }
record(waveform, "t:c1") { field(FTVL, "CHAR") field(NELM, "1") }
record(longout, "t:l1") {}
record(ao, "t:d1") {}
record(waveform, "t:fa") { field(FTVL, "FLOAT") field(NELM, "4") }
record(waveform, "t:sa") { field(FTVL, "SHORT") field(NELM, "4") }
record(waveform, "t:ca") { field(FTVL, "CHAR") field(NELM, "4") }
record(waveform, "t:la") { field(FTVL, "LONG") field(NELM, "4") }
record(waveform, "t:da") { field(FTVL, "DOUBLE") field(NELM, "4") }
"""
SCALARS = {"t:f1": "float", "t:s1": "short", "t:c1": "char", "t:l1": "long",
           "t:d1": "double"}
ARRAYS = {"t:fa": "float", "t:sa": "short", "t:ca": "char", "t:la": "long",
          "t:da": "double"}
SCALAR_INPUTS = ["", " ", "abc", "1e3", "-1", "7"]
ARRAY_INPUTS = [("3", "1", "abc", "3"), ("4", "1", "2", "abc", "5"), ("2", "abc", "7"),
                ("3", "9", "", "8"), ("2", "1e3", "x"), ("3", "300", "1", "2"),
                ("2", "1", "99999999999"), ("1", ""), ("2", "5", "6")]
_TIME = re.compile(rb"^\s*Current Time:.*$", re.M)


def equivalent_pvs() -> list[PV]:
    classes = {"float": "waveform", "short": "waveform", "char": "waveform",
               "long": "longout", "double": "ao"}
    pvs = [PV(name, kind, 5, class_name=classes[kind]) for name, kind in SCALARS.items()]
    pvs += [PV(name, kind, [7] * 4, count=4, class_name="waveform")
            for name, kind in ARRAYS.items()]
    return pvs


@pytest.fixture(scope="module")
def pair(module_env, module_softioc):
    ioc = module_softioc(records=RECORDS, probe_pv="t:l1")
    server = Server(equivalent_pvs(), loopback_config(module_env))
    server.start_in_thread()
    try:
        yield ioc, module_env
    finally:
        server.stop()


def _case(target, pv: str, values: tuple[str, ...], *options: str) -> tuple:
    """Reset ``pv``, caput ``values``: caput's exit code, output, then caget's value."""
    if pv in ARRAYS:
        target.c_tool("caput", "-t", "-a", pv, "4", "7", "7", "7", "7", timeout=15)
    else:
        target.c_tool("caput", "-t", pv, "5", timeout=15)
    put = target.c_tool("caput", "-t", *options, pv, *values, timeout=15)
    get = target.c_tool("caget", "-t", pv, timeout=15)
    return put.returncode, put.stdout, _TIME.sub(b"", put.stderr), get.stdout


def _cases() -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    cases = [(pv, (value,), ()) for pv in SCALARS for value in SCALAR_INPUTS]
    cases += [(pv, values, ("-a",)) for pv in ARRAYS for values in ARRAY_INPUTS]
    cases += [(pv, ("3", "1", "abc", "3"), ("-a", "-c")) for pv in ARRAYS]
    cases += [(pv, ("",), ("-c",)) for pv in SCALARS]
    return cases


def test_write_table_matches_softioc(pair):
    ioc, ours = pair
    mismatches = []
    cases = _cases()
    with ThreadPoolExecutor(2) as pool:
        for pv, values, options in cases:
            theirs_got = pool.submit(_case, ioc, pv, values, *options)
            ours_got = pool.submit(_case, ours, pv, values, *options)
            if ours_got.result() != theirs_got.result():
                mismatches.append((pv, options, values, ours_got.result(),
                                   theirs_got.result()))
    serve_report.record("caput parity table (issue 18, 5)", "cases as softIoc",
                        f"{len(cases) - len(mismatches)} of {len(cases)}",
                        f"{len(cases)} (the reference)")
    assert not mismatches, mismatches[:3]


def _monitor_lines(target, pv: str, puts: list[tuple[tuple[str, ...], tuple[str, ...]]]
                   ) -> list[str]:
    """camonitor's values (no timestamps) while ``puts`` ((options, values) of caput)
    are made."""
    target.c_tool("caput", "-t", "-a", pv, "4", "7", "7", "7", "7", timeout=15)
    monitor = subprocess.Popen([str(epics_env.c_tool_path("camonitor")), "-t", "n", pv],
                               env=target.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        for options, values in puts:
            target.c_tool("caput", "-t", *options, pv, *values, timeout=15)
            time.sleep(0.3)
    finally:
        monitor.send_signal(2)
        try:
            out, _err = monitor.communicate(timeout=5)
        finally:
            epics_env.terminate(monitor)
    return [line.split(None, 1)[1].strip() for line in out.decode().splitlines()
            if line.strip()]


def test_partial_array_write_posts_only_with_callback(pair):
    puts = [(("-a",), ("3", "1", "abc", "3")), (("-a", "-c"), ("3", "2", "abc", "3"))]
    got = [_monitor_lines(target, "t:sa", puts) for target in pair]
    assert got[1] == got[0]
    assert got[0] == ["4 7 7 7 7", "4 2 7 7 7"]       # the plain put posted nothing
