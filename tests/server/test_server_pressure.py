"""Memory and stall amplification in ``catools serve`` (issue 18, 2), against softIoc.

CI scale (bench/serve_pressure.py has the full-size figures): ``big`` is a DOUBLE[2e6].
Each load runs against ``catools serve`` and softIoc with the same records; the figures
go side by side in the run's summary. Peaks are VmHWM of the server process, reset
(/proc/PID/clear_refs) just before the load. Bars:

* one read of all of ``big`` as DBR_STRING (an 80 MB reply): our peak at most 1.5x
  softIoc's, and another client answered within 1 s all along;
* one 16 MB WRITE_NOTIFY of ``big``: our peak at most the RSS before it plus twice the
  payload, and another client answered within 1 s;
* 20 slow clients pipelining reads of a DOUBLE[100000] (4 MB DBR_STRING replies; or
  of a DOUBLE[7000], 56 kB replies, which are not streamed): our growth under the documented cap (catools(1), serve:
  OUTPUT_BUDGET for all clients plus 320 kB a client), and other clients still served.
"""
from __future__ import annotations

import pytest

import hostile
import serve_pressure as sp
import serve_report
from catools.server import _server as server_module
from catools.server._connection import REFILL
from catools.server._convert import CHUNK_BYTES
from catools.server._replies import STREAM_MIN

ELEMENTS = 2_000_000
CLIENTS = 20
#: the documented cap of output held (MB), with room (8 MB) for the clients' own state
CAP_MB = (server_module.OUTPUT_BUDGET + CLIENTS * (REFILL + CHUNK_BYTES + STREAM_MIN)) \
    / 2**20 + 8


def _pair(tmp, elements):
    made = []
    try:
        for kind in (sp.Ours, sp.Theirs):
            made.append(kind(elements, tmp))
        yield {server.name: server for server in made}
        ours = made[0]
        assert ours.proc.poll() is None, "the server died"
        text = ours.log_text()
        assert "Traceback" not in text and "internal error" not in text, text[-2000:]
    finally:
        for server in made:
            server.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Both servers with big = DOUBLE[ELEMENTS], for the module."""
    yield from _pair(tmp_path_factory.mktemp("pressure"), ELEMENTS)


@pytest.fixture
def fresh_pair(tmp_path):
    """Both servers with big = DOUBLE[100000], new for each test: memory a process
    freed stays resident, so a peak is only seen from a fresh start."""
    yield from _pair(tmp_path, 100_000)


def _both(pair, load, *args):
    return {name: load(server, *args) for name, server in pair.items()}


def test_big_array_read_as_strings(pair):
    got = _both(pair, sp.big_string_read, ELEMENTS)
    ours, theirs = got["catools serve"], got["softIoc"]
    serve_report.record(f"READ_NOTIFY DOUBLE[{ELEMENTS}] as DBR_STRING", "peak RSS MB",
                        f"{ours['peak_mb']:.0f}", f"{theirs['peak_mb']:.0f}")
    serve_report.record("", "2nd client worst wait s", f"{ours['worst_wait']:.2f}",
                        f"{theirs['worst_wait']:.2f}")
    assert ours["reply"][:3] == theirs["reply"][:3] == (hostile.ECA_NORMAL, ELEMENTS,
                                                          40 * ELEMENTS)
    assert ours["peak_mb"] <= 1.5 * theirs["peak_mb"]
    assert ours["worst_wait"] <= 1.0


def test_big_write(pair):
    got = _both(pair, sp.big_write, ELEMENTS)
    ours, theirs = got["catools serve"], got["softIoc"]
    payload = ours["payload_mb"]
    serve_report.record(f"WRITE_NOTIFY DOUBLE[{ELEMENTS}] ({payload:.0f} MB)",
                        "peak - RSS before, MB",
                        f"{ours['peak_mb'] - ours['before_mb']:.0f}",
                        f"{theirs['peak_mb'] - theirs['before_mb']:.0f}")
    serve_report.record("", "2nd client worst wait s", f"{ours['worst_wait']:.2f}",
                        f"{theirs['worst_wait']:.2f}")
    assert ours["status"] == theirs["status"] == hostile.ECA_NORMAL
    assert ours["peak_mb"] <= ours["before_mb"] + 2 * payload
    assert ours["worst_wait"] <= 1.0
    # the value written is the value read back
    for server in pair.values():
        status, count, size, first = sp.read(server.port, "big", 6, 2)
        assert (status, count, first[:16]) == (1, 2, sp.doubles(2, 1.5))


@pytest.mark.parametrize("case, name, reads, dtype, count", [
    ("4 MB DBR_STRING replies", "big", 4, 0, 100_000),
    ("56 kB DOUBLE replies", "small", 200, 6, sp.SMALL),
])
def test_slow_clients(fresh_pair, case, name, reads, dtype, count):
    got = _both(fresh_pair, sp.slow_clients, name, CLIENTS, reads, dtype, count)
    ours, theirs = got["catools serve"], got["softIoc"]
    serve_report.record(f"{CLIENTS} slow clients x {reads} reads", case + ", RSS growth MB",
                        f"{ours['growth_mb']:.0f} (cap {CAP_MB:.0f})",
                        f"{theirs['growth_mb']:.0f}")
    assert ours["growth_mb"] <= CAP_MB
    assert ours["worst_wait"] <= 1.0
