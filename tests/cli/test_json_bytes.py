"""--json keeps strings that are not UTF-8 exactly (issue 18, item 6): the byte 0xE9 and
the four characters ``\\xe9`` show the same text, and only the first carries
``value_base64`` with its exact bytes (docs/json-schema.md)."""
from __future__ import annotations

import base64
import json

import pytest

from clihelpers import no_traceback, run_c, run_ours

RECORDS = """
record(stringout, "BYTES:raw") { field(VAL, "") }
record(stringout, "BYTES:text") { field(VAL, "") }
record(stringout, "BYTES:utf8") { field(VAL, "") }
record(waveform, "BYTES:chars") { field(FTVL, "CHAR") field(NELM, "16") }
"""


@pytest.fixture(scope="module")
def bytes_ioc(module_softioc):
    ioc = module_softioc(records=RECORDS)
    # the C caput turns \xe9 into the byte 0xE9, and \\xe9 into the characters \xe9
    for pv, value in (("BYTES:raw", "caf\\xe9"), ("BYTES:text", "caf\\\\xe9"),
                      ("BYTES:utf8", "caf\u00e9")):
        assert run_c(ioc, "caput", pv, value).returncode == 0
    assert run_c(ioc, "caput", "-S", "BYTES:chars", "x\\xffy").returncode == 0
    return ioc


def records(proc) -> dict[str, dict]:
    no_traceback(proc)
    return {r["name"]: r for r in map(json.loads, proc.stdout.decode().splitlines())}


@pytest.mark.parametrize("args", [(), ("-d", "DBR_CTRL_STRING")], ids=["time", "ctrl"])
def test_caget_json_tells_a_byte_from_its_escape(bytes_ioc, args):
    got = records(run_ours(bytes_ioc, "caget", "--json", *args, "BYTES:raw",
                           "BYTES:text", "BYTES:utf8"))
    raw, text, utf8 = got["BYTES:raw"], got["BYTES:text"], got["BYTES:utf8"]
    assert raw["value"] == text["value"] == "caf\\xe9"          # the same readable text
    assert base64.b64decode(raw["value_base64"]) == b"caf\xe9"  # ... but exact here
    assert "value_base64" not in text and "value_base64" not in utf8
    assert utf8["value"] == "caf\u00e9"


def test_caget_json_char_string_with_a_bad_byte(bytes_ioc):
    got = records(run_ours(bytes_ioc, "caget", "--json", "-S", "BYTES:chars"))
    chars = got["BYTES:chars"]
    assert chars["value"] == "x\\xffy"
    assert base64.b64decode(chars["value_base64"]) == b"x\xffy"


def test_camonitor_json_keeps_the_bytes(bytes_ioc):
    proc = run_ours(bytes_ioc, "camonitor", "--json", "--count", "2", "BYTES:raw",
                    "BYTES:text")
    updates = [r for r in map(json.loads, proc.stdout.decode().splitlines())
               if r.get("event") == "update"]
    by_name = {r["name"]: r for r in updates}
    assert base64.b64decode(by_name["BYTES:raw"]["value_base64"]) == b"caf\xe9"
    assert "value_base64" not in by_name["BYTES:text"]
