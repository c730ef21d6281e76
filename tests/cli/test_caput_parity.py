"""caput: stdout and exit code identical to the C caput, on a writable module IOC.

Each case first puts a known start value with the C caput, runs the C caput, resets,
runs ours, and compares. Server timestamps of written values differ between the two
runs, so they are masked in -l (wide) output.
"""
from __future__ import annotations

import pytest

from clihelpers import CLIENT_TIME, err_lines, no_traceback, run_c, run_ours

LONG = "a much longer string value that is over forty chars long"

# (start value put with C caput: (pv, [caput args]) or None, caput args)
CASES = [
    (("TST:ao", ["1.5"]), ["TST:ao", "6.25"]),
    (("TST:ao", ["1.5"]), ["-t", "TST:ao", "2"]),
    (("TST:ao", ["1.5"]), ["-l", "TST:ao", "3"]),
    (("TST:ao", ["1.5"]), ["-c", "TST:ao", "4"]),
    (("TST:ao", ["1.5"]), ["-c", "-l", "-F", ",", "TST:ao", "4"]),
    (("TST:ao", ["1.5"]), ["TST:ao", "1234.5678"]),
    (("TST:ao", ["1.5"]), ["TST:ao", "1.5abc"]),
    (("TST:ao", ["1.5"]), ["TST:ao", ""]),
    (("TST:ao", ["1.5"]), ["TST:ao", "1", "2", "3"]),
    (("TST:ao", ["1.5"]), ["-F", ",", "TST:ao", "7"]),
    (("TST:ao", ["1.5"]), ["-p", "10", "-w", "2", "TST:ao", "7"]),
    (("TST:long", ["42"]), ["TST:long", "3.7"]),
    (("TST:long", ["42"]), ["TST:long", "0x10"]),
    (("TST:long", ["42"]), ["TST:long", "1e3"]),
    (("TST:neg", ["-5"]), ["TST:neg", "-7"]),
    (("TST:str", ["hello world"]), ["TST:str", LONG]),
    (("TST:str", ["hello world"]), ["TST:str", "tab\\tand \\x41 quote\""]),
    (("TST:str", ["hello world"]), ["-t", "TST:str", "two", "words"]),
    (("TST:mbbo", ["1"]), ["TST:mbbo", "Standby"]),
    (("TST:mbbo", ["1"]), ["TST:mbbo", "Fault", "State"]),
    (("TST:mbbo", ["1"]), ["TST:mbbo", "0"]),
    (("TST:mbbo", ["1"]), ["TST:mbbo", "7"]),
    (("TST:mbbo", ["1"]), ["TST:mbbo", "20"]),
    (("TST:mbbo", ["1"]), ["TST:mbbo", "Bogus"]),
    (("TST:mbbo", ["1"]), ["-n", "TST:mbbo", "2"]),
    (("TST:mbbo", ["1"]), ["-n", "TST:mbbo", "On"]),
    (("TST:mbbo", ["1"]), ["-s", "TST:mbbo", "1"]),
    (("TST:mbbo", ["1"]), ["-s", "TST:mbbo", "On"]),
    (("TST:mbbo", ["1"]), ["-n", "-t", "TST:mbbo", "3"]),
    (("TST:mbbo", ["1"]), ["-a", "-n", "TST:mbbo", "1", "2"]),
    (("TST:bo", ["0"]), ["-l", "TST:bo", "Open"]),
    (("TST:wfd", ["-a", "1", "0"]), ["-a", "TST:wfd", "3", "1", "2"]),
    (("TST:wfd", ["-a", "1", "0"]), ["-a", "TST:wfd", "2", "1", "2", "3", "4"]),
    (("TST:wfd", ["-a", "1", "0"]), ["-t", "-a", "TST:wfd", "3", "9", "8", "7"]),
    (("TST:wfd", ["-a", "1", "0"]), ["TST:wfd", "1", "2", "3"]),
    (("TST:wfs", ["-a", "1", "x"]), ["-a", "TST:wfs", "3", "alpha", "beta gamma", "delta"]),
    (("TST:wfl", ["-a", "1", "0"]), ["-a", "TST:wfl", "4", "1", "-2", "0x10", "5"]),
    (("TST:wfc", ["-S", "x"]), ["-a", "TST:wfc", "3", "72", "105", "0"]),
    (("TST:wfc", ["-S", "x"]), ["-S", "TST:wfc", "Hello long string world"]),
    (("TST:wfc", ["-S", "x"]), ["-S", "TST:wfc", "tab\\tand newline\\n and \\\" é"]),
    (("TST:wfc", ["-S", "x"]), ["-S", "-t", "TST:wfc", "short"]),
    (("TST:lsi.VAL$", ["-S", "x"]), ["-S", "TST:lsi.VAL$", "y" * 70]),
    (("TST:ai", ["1.25"]), ["-a", "TST:ai", "2", "7", "8"]),
    (("TST:ai", ["1.25"]), ["-S", "TST:lsi", "z" * 70]),
    (("TST:ro", None), ["TST:ro", "1"]),
    (("TST:ro", None), ["-c", "TST:ro", "1"]),
    (("TST:noaccess", None), ["TST:noaccess", "1"]),
    (("TST:ai", None), ["TST:nonexistent", "1"]),
    (("TST:busy", ["0"]), ["-w", "0.3", "-c", "TST:busy", "2"]),
]


def _reset(ioc, start):
    pv, args = start
    if args is None:
        return
    if args[0] in ("-a", "-S"):
        proc = ioc.c_tool("caput", args[0], pv, *args[1:])
    else:
        proc = ioc.c_tool("caput", pv, *args)
    assert proc.returncode == 0, proc.stderr


def _mask(data: bytes) -> bytes:
    return CLIENT_TIME.sub(b"<T>", data)


def _stderr_core(lines: list[str]) -> list[str]:
    """stderr without libca's CA.Client.Exception blocks (C) and our one-line
    replacements for them."""
    out, skip = [], False
    for line in lines:
        if line.startswith("CA.Client.Exception"):
            skip = True
        if not skip:
            out.append(line)
        if skip and line.startswith("....."):
            skip = False
    return out


@pytest.mark.parametrize("start,args", CASES, ids=[" ".join(a) for _, a in CASES])
def test_caput_parity(module_ioc, start, args):
    _reset(module_ioc, start)
    c = run_c(module_ioc, "caput", *args)
    _reset(module_ioc, start)
    ours = run_ours(module_ioc, "caput", *args)
    no_traceback(ours)
    assert b"\x1b" not in ours.stderr          # improvement 3: no ANSI on a pipe
    assert _mask(ours.stdout) == _mask(c.stdout)
    assert ours.returncode == c.returncode
    assert err_lines(ours) == _stderr_core(err_lines(c))


@pytest.mark.parametrize("args", [["TST:ao", "abc"], ["-a", "TST:wfd", "2", "1", "x"]],
                         ids=" ".join)
def test_rejected_write_without_c(module_ioc, args):
    """Improvement 2: the server rejects the write; C prints a libca exception block and
    exits 0, we print Old/New the same and exit 1 with one line naming the PV."""
    start = ("TST:wfd", ["-a", "1", "0"]) if args[0] == "-a" else ("TST:ao", ["1.5"])
    _reset(module_ioc, start)
    c = run_c(module_ioc, "caput", *args)
    _reset(module_ioc, start)
    ours = run_ours(module_ioc, "caput", *args)
    no_traceback(ours)
    assert ours.stdout == c.stdout
    assert c.returncode == 0 and b"Channel write request failed" in c.stderr
    assert ours.returncode == 1
    pv = args[1] if args[0] == "-a" else args[0]
    assert err_lines(ours) == [
        f"ERROR occured writing data to '{pv}': Channel write request failed"]
    assert b"\x1b" not in ours.stderr


def test_rejected_write_with_c(module_ioc):
    _reset(module_ioc, ("TST:ao", ["1.5"]))
    c = run_c(module_ioc, "caput", "-c", "TST:ao", "abc")
    ours = run_ours(module_ioc, "caput", "-c", "TST:ao", "abc")
    no_traceback(ours)
    assert ours.stdout == c.stdout
    assert ours.returncode == c.returncode == 1
    assert b"\x1b[31;1mERROR\x1b[0m" in c.stderr
    assert err_lines(ours) == err_lines(c) == [
        "ERROR occured writing data: Channel write request failed"]
    assert b"\x1b" not in ours.stderr
