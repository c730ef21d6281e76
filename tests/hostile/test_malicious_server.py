"""Our caget, camonitor and cainfo against a malicious server (issue 10).

:class:`MaliciousServer` is :mod:`fakeserver` (tests/cli) with every TCP reply passed
through a seeded mutator: bytes flipped, streams cut, huge sizes and counts in plain and
extended headers, unknown commands, bad DBR types, floods, ERRORs quoting nonsense,
replies for channels and IOIDs that do not exist. Whatever the server sends, each tool
must end within its time limit, with exit status 0 or 1, lines of bounded length and
no traceback, within a 1 GiB address space and with a peak RSS (VmHWM, sampled) far
below any claimed size.
"""
from __future__ import annotations

import json
import random
import resource
import struct
import subprocess
import tempfile
import time

import pytest

from clihelpers import our_tool
from epics_env import CaEnv, ca_header, pad8
from fakeserver import FakePV, FakeServer, header

PVS = {
    "M:scalar": FakePV(6, 1, "short", (1.5,)),
    "M:array": FakePV(6, 8, "short", tuple(float(i) for i in range(8))),
    "M:long": FakePV(5, 1, "short", (7,)),
    # 160 kB: its replies need the extended header (issue 10.1's misframing)
    "M:big": FakePV(6, 20000, "short", tuple(float(i) for i in range(20000))),
}
#: Peak RSS allowed to a tool (KiB): a few times what a plain caget needs, far below
#: what any of the claimed sizes (up to 4 GiB) would take.
MAX_RSS_KIB = 120 * 1024
#: Address space given to a tool: ample for the interpreter, far below 2 GiB claims.
ADDRESS_SPACE = 1 << 30


def _mutate(rng: random.Random, reply: bytes) -> bytes:
    """One hostile variant of a well-formed reply (or the reply itself)."""
    kind = rng.randrange(14)
    if kind == 0 or not reply:
        return reply
    if kind == 1:                                   # flip a few bytes anywhere
        data = bytearray(reply)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 2:                                   # cut short (the stream goes on)
        return reply[:rng.randrange(len(reply))]
    if kind == 3:                                   # extended header claiming 2 GiB
        return struct.pack(">HHHHII", 15, 0xFFFF, 6, 0, 1, 1) + struct.pack(">II", 1 << 31, 1)
    if kind == 4:                                   # huge count, small payload
        return struct.pack(">HHHHII", 1, 0xFFFF, 6, 0, 1, 1) + \
            struct.pack(">II", 8, 0xFFFFFFF0) + bytes(8)
    if kind == 5:                                   # an unknown command
        return ca_header(rng.choice([29, 99, 0x7FFF, 0xFFFE]), 0, 0, 0, 1, 1) + reply
    if kind == 6:                                   # a bad DBR type
        return reply[:4] + struct.pack(">H", rng.choice([39, 99, 0xFFFF])) + reply[6:]
    if kind == 7:                                   # count larger than the payload
        return reply[:6] + struct.pack(">H", 0xFFFE) + reply[8:]
    if kind == 8:                                   # garbage
        return rng.randbytes(rng.randint(16, 4096))
    if kind == 9:                                   # a flood of the same reply
        return reply * 2000
    if kind == 10:                                  # an ERROR quoting nonsense
        quote = rng.choice([b"", rng.randbytes(rng.randint(1, 40)),
                            struct.pack(">HHHHII", 15, 0xFFFF, 6, 0, 1, 1)])
        payload = pad8(quote + b"hostile\0")
        return ca_header(11, len(payload), 0, 0, 1, rng.randrange(1 << 32)) + payload
    if kind == 11:                                  # replies for unknown ids
        return (header(18, 0, 6, 0xFFFFFFFF, rng.randrange(1 << 32), 7)
                + ca_header(22, 0, 0, 0, rng.randrange(1 << 32), 3)
                + ca_header(27, 0, 0, 0, rng.randrange(1 << 32), 0)
                + ca_header(15, 8, 6, 1, 1, rng.randrange(1 << 32)) + bytes(8))
    if kind == 12:                                  # a zero-size DBR reply
        return ca_header(15, 0, 6, 1, 1, 1) + reply
    return reply + rng.randbytes(rng.randint(1, 64))   # trailing junk


class MaliciousServer(FakeServer):
    """A :class:`FakeServer` whose TCP replies are mutated by a seeded RNG; it closes
    a connection now and then."""

    def __init__(self, ca_env: CaEnv, seed: int, mutate: bool = True) -> None:
        self.rng = random.Random(seed)
        self.mutate = mutate
        super().__init__(ca_env, PVS)

    def _answer(self, channels, cmd, dtype, count, p1, p2, body, raw_header):  # type: ignore[no-untyped-def]
        reply = super()._answer(channels, cmd, dtype, count, p1, p2, body, raw_header)
        if not self.mutate:
            return reply
        if self.rng.random() < 0.03:
            raise OSError("the malicious server hangs up")
        return _mutate(self.rng, reply)


def _limit_memory() -> None:
    """In the child: an address-space cap, so that an unbounded allocation fails at
    once (MemoryError: a traceback or an "internal error" the test sees)."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _hwm_kib(pid: int) -> int:
    """The process's peak RSS so far (VmHWM: its own, unlike wait4's ru_maxrss, which
    keeps the RSS of the test process it was forked from)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _run(env: CaEnv, argv: list[str], limit: float) -> tuple[int, bytes, bytes, int]:
    """Run one of our tools; (exit status, stdout, stderr, peak RSS in KiB sampled
    every 10 ms while it ran)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([our_tool(argv[0]), *argv[1:]], env=env.script_env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                preexec_fn=_limit_memory)
        deadline = time.monotonic() + limit
        peak = 0
        try:
            while proc.poll() is None:
                # (a zombie's status has no VmHWM: the last sample is from its life)
                peak = max(peak, _hwm_kib(proc.pid))
                if time.monotonic() > deadline:
                    raise AssertionError(f"{argv} still running after {limit} s")
                time.sleep(0.01)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), peak


@pytest.fixture(scope="module")
def ca_env_module():
    env = CaEnv()
    try:
        yield env
    finally:
        env.close()


TOOLS = [
    (["caget", "-w", "1", "M:scalar", "M:array", "M:long"], 15.0),
    (["caget", "-a", "-w", "1", "-d", "DBR_TIME_DOUBLE", "M:array", "M:scalar"], 15.0),
    (["cainfo", "-w", "1", "M:array"], 15.0),
    (["camonitor", "--count", "20", "--timeout", "2", "M:scalar", "M:array"], 20.0),
]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("argv,limit", TOOLS, ids=[t[0][0] + str(i) for i, t in
                                                    enumerate(TOOLS)])
def test_tools_survive_a_malicious_server(ca_env_module, seed, argv, limit):
    with MaliciousServer(ca_env_module, seed):
        status, out, err, rss = _run(ca_env_module, argv, limit)
    text = err.decode(errors="replace")
    assert status in (0, 1), (status, text)
    assert "Traceback" not in text and "internal error" not in text, text
    assert all(len(line) < 400 for line in text.splitlines()), text
    assert len(text.splitlines()) < 200, text            # no flood of messages
    assert rss < MAX_RSS_KIB, rss


def test_the_same_server_unmutated_serves_the_tools(ca_env_module):
    """The control: with mutations off, the server is a working CA server (so the
    runs above reach the mutated replies), and a 20,000-element reply in an extended
    header reads right every time."""
    with MaliciousServer(ca_env_module, 0, mutate=False):
        status, out, err, _ = _run(ca_env_module, ["caget", "-w", "2", "M:scalar",
                                                   "M:long"], 15.0)
        assert (status, err) == (0, b"")
        assert out.split() == [b"M:scalar", b"1.5", b"M:long", b"7"]
        for _ in range(5):
            status, out, err, _ = _run(ca_env_module, ["caget", "--json", "-w", "5",
                                                       "M:big", "M:scalar"], 15.0)
            assert (status, err) == (0, b""), err
            big, scalar = (json.loads(line) for line in out.splitlines())
            assert big["count"] == 20000 and big["value"] == list(range(20000))
            assert scalar["value"] == 1.5


def test_a_misbehaving_server_is_not_hammered(ca_env_module):
    """However its replies break the circuit, camonitor reconnects with back-off: a
    handful of connections in 3 s (issue 10.3)."""
    counts = []
    for seed in range(4):
        with MaliciousServer(ca_env_module, seed) as server:
            _run(ca_env_module, ["camonitor", "--timeout", "3", "M:scalar", "M:array"],
                 20.0)
            counts.append(len(server.clients))
    assert max(counts) <= 6, counts           # (the session-start client: up to 18)
