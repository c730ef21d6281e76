"""Our caget, camonitor and cainfo against a malicious server (issue 10).

:class:`MaliciousServer` is :mod:`fakeserver` (tests/cli) with every TCP reply passed
through a seeded mutator: bytes flipped, streams cut, huge sizes and counts in plain and
extended headers, unknown commands, bad DBR types, floods, ERRORs quoting nonsense,
replies for channels and IOIDs that do not exist. Whatever the server sends, each tool
must end within its time limit, with exit status 0 or 1, lines of bounded length and
no traceback, within a 1 GiB address space and with a peak RSS (VmHWM, sampled) far
below any claimed size.

The C tools (libca, EPICS base) run the same argv at the same time against their own
malicious server with the same seed; their figures are not asserted but printed beside
ours at the end of the run (:mod:`client_report`): the bar is "no worse than libca".
"""
from __future__ import annotations

import json
import random
import resource
import signal
import struct
import subprocess
import tempfile
import time

import pytest

import client_report
from clihelpers import our_tool
from epics_env import CaEnv, c_tool_path, ca_header, pad8
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


class _Watched:
    """A child process under the address-space cap, its output in temporary files,
    its VmHWM sampled by :meth:`step` every 10 ms, killed (by PID) at its time bound;
    with ``sigint_after``, sent SIGINT after that many seconds."""

    def __init__(self, cmd: list[str], env: dict[str, str], limit: float,
                 sigint_after: float | None = None) -> None:
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        self.started = time.monotonic()
        self.deadline = self.started + limit
        self.sigint_at = None if sigint_after is None else self.started + sigint_after
        self.peak = 0
        self.hung = self.stopped = False
        self.seconds = 0.0
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=self.err,
                                     preexec_fn=_limit_memory)

    def step(self) -> bool:
        """One sample; False once the process has ended (or been killed at its bound)."""
        if self.proc.poll() is not None:
            return False
        # (a zombie's status has no VmHWM: the last sample is from its life)
        self.peak = max(self.peak, _hwm_kib(self.proc.pid))
        now = time.monotonic()
        self.seconds = now - self.started
        if now > self.deadline:
            self.hung = True
            self.close()
            return False
        if self.sigint_at is not None and now > self.sigint_at and not self.stopped:
            self.stopped = True
            self.proc.send_signal(signal.SIGINT)
        return True

    def close(self) -> None:
        """Kill the process if it still runs, and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def results(self) -> tuple[int, bytes, bytes, int]:
        """(exit status, stdout, stderr, peak RSS in KiB); closes the output files."""
        outputs = []
        for stream in (self.out, self.err):
            stream.seek(0)
            outputs.append(stream.read())
            stream.close()
        return self.proc.returncode, outputs[0], outputs[1], self.peak


def _run(env: CaEnv, argv: list[str], limit: float) -> tuple[int, bytes, bytes, int]:
    """Run one of our tools; (exit status, stdout, stderr, peak RSS in KiB sampled
    every 10 ms while it ran)."""
    run = _Watched([our_tool(argv[0]), *argv[1:]], env.script_env, limit)
    try:
        while run.step():
            time.sleep(0.01)
    finally:
        run.close()
    result = run.results()
    if run.hung:
        raise AssertionError(f"{argv} still running after {limit} s")
    return result


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


@pytest.fixture(scope="module")
def c_env_module(request):
    """A second port pair (and caRepeater) for the C tools, so that they face their own
    malicious server, with the same seed, while ours runs."""
    client_report.register(request.config)
    env = CaEnv()
    try:
        yield env
    finally:
        env.close()


def _c_argv(argv: list[str]) -> tuple[list[str], float | None]:
    """The C tool's argv for one of ours, and when to send it SIGINT: C camonitor has
    no --count or --timeout, so it runs without them and is stopped at the timeout."""
    out, sigint_after, args = [str(c_tool_path(argv[0]))], None, iter(argv[1:])
    for arg in args:
        if arg == "--count":
            next(args)
        elif arg == "--timeout":
            sigint_after = float(next(args))
        else:
            out.append(arg)
    return out, sigint_after


def _outcome(seed: int, run: _Watched) -> client_report.Outcome:
    return client_report.Outcome(seed, run.proc.returncode, run.hung, run.stopped,
                                 run.peak, run.seconds)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("argv,limit", TOOLS, ids=[t[0][0] + str(i) for i, t in
                                                    enumerate(TOOLS)])
def test_tools_survive_a_malicious_server(ca_env_module, c_env_module, seed, argv,
                                          limit):
    """Ours is checked; the C tool (libca) runs at the same time with the same argv
    against its own server with the same seed, for the side-by-side summary only (its
    replies differ as its requests do: the mutations follow the requests)."""
    c_argv, sigint_after = _c_argv(argv)
    with MaliciousServer(ca_env_module, seed), MaliciousServer(c_env_module, seed):
        ours = _Watched([our_tool(argv[0]), *argv[1:]], ca_env_module.script_env, limit)
        theirs = _Watched(c_argv, c_env_module.env, limit, sigint_after)
        try:
            while ours.step() | theirs.step():
                time.sleep(0.01)
        finally:
            ours.close()
            theirs.close()
    label = " ".join(argv)
    client_report.record(label, "ours", _outcome(seed, ours))
    client_report.record(label, "c", _outcome(seed, theirs))
    c_err = theirs.results()[2]
    if b"mutually exclusive" in c_err:
        first = c_err.splitlines()[0].decode(errors="replace")
        client_report.note(f"C {argv[0]} warns on {label!r}: {first}; and goes on.")
    if sigint_after is not None:
        client_report.note(f"C {argv[0]} has no --count/--timeout: it runs without them "
                           f"and gets SIGINT at {sigint_after:g} s.")
    client_report.note(f"Both sides: same seeds, {ADDRESS_SPACE >> 20} MiB address "
                       "space, VmHWM sampled every 10 ms, killed at the same bound.")
    status, out, err, rss = ours.results()
    if ours.hung:
        raise AssertionError(f"{argv} still running after {limit} s")
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


def test_the_c_reference_reads_the_unmutated_server(c_env_module):
    """The control for the C column: under the same address-space cap and sampling,
    C caget reads the unmutated server (so its figures above come from libca meeting
    the mutated replies, not from a rig that cannot run it)."""
    with MaliciousServer(c_env_module, 0, mutate=False):
        run = _Watched([str(c_tool_path("caget")), "-w", "2", "M:scalar", "M:long"],
                       c_env_module.env, 15.0)
        try:
            while run.step():
                time.sleep(0.01)
        finally:
            run.close()
    status, out, err, _ = run.results()
    assert (status, run.hung) == (0, False), err
    assert out.split() == [b"M:scalar", b"1.5", b"M:long", b"7"]


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
