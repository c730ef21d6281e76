"""``casw`` (src/catools/cli/casw.py) and the beacon API (catools.client.beacons)
against EPICS base's casw: the same lines for the same beacons, the same usage and exit
codes; BeaconTracker replaying what the C casw saw of a real softIoc."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from epics_env import (c_tool_path, free_port, make_env, make_script_env,  # noqa: E402
                       release_port, repeater_confirms, terminate)
from clihelpers import our_tool  # noqa: E402
from test_repeater import (IocWithoutRepeater, beacon, in_process_repeater,  # noqa: E402,F401
                           ports)

from catools.client.beacons import (FASTER, NEW, REAPPEARED, RESTARTED,  # noqa: E402
                                    BeaconAnomaly, BeaconListener, BeaconTracker,
                                    RegistrationError)
from catools.protocol import Beacon  # noqa: E402

STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}")
NUMBERS = re.compile(r"estimate=(\d+\.\d{6}) current=(\d+\.\d{6})")
LOOPBACK = 0x7F000001


def host_label(ip: str, port: int) -> str:
    try:
        name = socket.gethostbyaddr(ip)[0]
    except OSError:
        name = ip
    return f"{name}:{port}"


def start(cmd: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen:
    return subprocess.Popen(list(cmd), env=dict(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def interrupt(proc: subprocess.Popen) -> tuple[str, str, int]:
    """SIGINT (as a user stops casw); its output and exit status."""
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        terminate(proc)
    return out.decode(), err.decode(), proc.returncode


def masked(text: str) -> str:
    """casw output with its times and period numbers masked."""
    return NUMBERS.sub("estimate=E current=C", STAMP.sub("TIME", text))


def wait_clients(repeater, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(repeater.clients) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(repeater.clients) >= count, repeater.clients


# --------------------------------------------------------------------------- usage

USAGE_CASES = [["-h"], ["--help"], ["-i"], ["-ix"], ["x"], ["-i2", "x"], ["-i", "x"],
               ["-i", "1", "2"], ["-i", ""]]


@pytest.mark.parametrize("args", USAGE_CASES, ids=lambda a: " ".join(a) or "none")
def test_usage_like_c(args, ports):
    env = make_env(*ports)
    c = subprocess.run([str(c_tool_path("casw")), *args], env=env, capture_output=True,
                       timeout=30)
    assert c.stdout == b"usage: casw <-i interestLevel>\n"
    script_env = make_script_env(*ports)
    for cmd in ([our_tool("casw")], [our_tool("catools"), "casw"]):
        ours = subprocess.run([*cmd, *args], env=script_env, capture_output=True,
                              timeout=30)
        assert (ours.returncode, ours.stdout, ours.stderr) == (c.returncode, c.stdout,
                                                               c.stderr), cmd


# --------------------------------------------------------------------------- crafted

def _schedule(pa: int, pb: int, pd: int, pe: int) -> list[tuple[float, bytes]]:
    """(time, datagram) sent to the repeater port by fake servers: margins of every
    period decision are wide (>= 80 ms), so both casws decide alike under load."""
    a = lambda t, i: (t, beacon(pa, i))                       # noqa: E731
    return [
        a(0.0, 0), (0.0, beacon(pb, 100, LOOPBACK)),          # B: heard once
        a(0.4, 1),                                            # A is new
        a(0.8, 2), a(1.2, 3), a(1.6, 4),
        (1.6, beacon(0, 5, LOOPBACK)),                        # port 0: the default
        a(3.6, 5),                                            # reappeared after 2 s
        a(3.7, 0), a(3.75, 0),                                # restarted: ids reset
        a(3.8, 1),                                            # faster
        a(4.6, 2),
        (4.6, bytes(16) + beacon(pd, 0)),                     # no-op then a beacon
        (4.6, beacon(pd, 1)[:2] + b"\x00\x08" + beacon(pd, 1)[4:]),  # truncated
        (4.6, beacon(pd, 2) + b"\x00\x0d\x00"),               # a partial header
        a(5.0, 5),                                            # +3: dropped
        a(5.4, 20),                                           # jump
        (5.4, beacon(pe, 50, 0x7F000002, version=9)),         # CA 4.9: no sequence
        (5.8, beacon(pe, 50, 0x7F000002, version=9)),         # ... so this is new
    ]


def test_same_lines_as_c_for_crafted_beacons(ports, in_process_repeater):
    port, _ = ports
    rport = in_process_repeater.port
    env = make_env(port, rport)
    script_env = make_script_env(port, rport)
    procs = {}
    others = [free_port(tcp=False, udp=True) for _ in range(4)]
    try:
        for level in ("0", "1", "2"):
            procs["c", level] = start([str(c_tool_path("casw")), "-i", level], env)
            procs["ours", level] = start([our_tool("casw"), f"-i{level}"], script_env)
        wait_clients(in_process_repeater, len(procs))
        time.sleep(1.0)               # (a server heard later than this is "new")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
            server.bind(("127.0.0.1", 0))
            begin = time.monotonic()
            for at, datagram in _schedule(*others):
                time.sleep(max(0.0, begin + at - time.monotonic()))
                server.sendto(datagram, ("127.0.0.1", rport))
        time.sleep(1.0)
        results = {key: interrupt(proc) for key, proc in procs.items()}
    finally:
        for proc in procs.values():
            terminate(proc)
        for p in others:
            release_port(p)
    for level in ("0", "1", "2"):
        c_out, c_err, c_code = results["c", level]
        out, err, code = results["ours", level]
        assert masked(out) == masked(c_out), level
        assert (err, code) == (c_err, c_code), level
    c2 = results["c", "2"][0].splitlines()
    assert sum(line.startswith("* ") for line in c2) == 4, c2      # new, back, faster, new
    assert any(line[2:].split()[0] == host_label("127.0.0.1", port) for line in c2)
    assert results["c", "2"][1].count("protocol violation") == 2


# --------------------------------------------------------------------------- softIoc

def _parse_stamp(text: str) -> float:
    """Seconds since the epoch of casw's local-time stamp (nanoseconds kept apart)."""
    day, clock = text.split(" ")
    whole, fraction = clock.split(".")
    seconds = time.mktime(time.strptime(f"{day} {whole}", "%Y-%m-%d %H:%M:%S"))
    return seconds + int(fraction) / 1e9


def test_softioc_start_stop_restart(ports, in_process_repeater, tmp_path):
    """The C casw and ours watch a softIoc start, stop and restart: the same beacons
    and anomalies after the restart; BeaconTracker, replaying the C casw's own times,
    flags exactly the beacons it flagged with the same period numbers."""
    port, _ = ports
    rport = in_process_repeater.port
    env = make_env(port, rport, extra={"EPICS_CAS_BEACON_PERIOD": "1.0"})
    script_env = make_script_env(port, rport, extra={"EPICS_CAS_BEACON_PERIOD": "1.0"})
    ioc = IocWithoutRepeater(port=port, repeater_port=rport, log_dir=tmp_path)
    ioc.env = env
    recorder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    recorder.bind(("127.0.0.1", 0))
    c_proc = ours = None
    try:
        started = time.time()
        c_proc = start([str(c_tool_path("casw")), "-i", "2"], env)
        ours = start([our_tool("casw"), "-i", "2"], script_env)
        recorder.sendto(b"", ("127.0.0.1", rport))
        wait_clients(in_process_repeater, 3)
        time.sleep(0.5)
        ioc.start()
        time.sleep(4)
        ioc.stop_ioc()
        time.sleep(3)
        ioc.start()
        time.sleep(4)
        ioc.stop_ioc()
        time.sleep(0.5)
        c_out, c_err, _ = interrupt(c_proc)
        out, err, _ = interrupt(ours)
        recorder.setblocking(False)
        datagrams = []
        while True:
            try:
                datagrams.append(recorder.recv(65536))
            except BlockingIOError:
                break
    finally:
        for proc in (c_proc, ours):
            if proc is not None:
                terminate(proc)
        ioc.close()
        recorder.close()
    label = host_label("127.0.0.1", port)
    c_lines = [line for line in c_out.splitlines() if not line.startswith("\t")]
    our_lines = [line for line in out.splitlines() if not line.startswith("\t")]
    assert [line[2:42] for line in our_lines] == [line[2:42] for line in c_lines]
    assert all(line[2:].split()[0] == label for line in c_lines)
    assert len(c_lines) >= 12, c_out
    assert (err, c_err) == ("", "")
    # both flag the restart: anomalies among the first beacons after it
    restart = next(i for i in range(1, len(c_lines))
                   if _parse_stamp(STAMP.search(c_lines[i]).group())
                   - _parse_stamp(STAMP.search(c_lines[i - 1]).group()) > 2.0)
    for lines in (c_lines, our_lines):
        assert any(line.startswith("* ") for line in lines[restart:restart + 4]), lines

    # replay: the beacons the C casw printed, with its times, through BeaconTracker
    beacons = [d for d in datagrams if d[:2] == b"\x00\x0d"]
    assert len(beacons) == len(c_lines)
    tracker = BeaconTracker(start=started)
    numbers = iter(NUMBERS.findall(c_out))
    for line, datagram in zip(c_lines, beacons):
        beacon_id = int.from_bytes(datagram[8:12], "big")
        now = _parse_stamp(STAMP.search(line).group())
        anomaly = tracker.observe(("127.0.0.1", port), beacon_id, now)
        assert (anomaly is not None) == line.startswith("* "), line
        if anomaly is not None:
            estimate, current = map(float, next(numbers))
            assert anomaly.period == pytest.approx(estimate, abs=2e-6)
            assert anomaly.interval == pytest.approx(current, abs=2e-6)


def test_casw_without_a_repeater_runs_one(ports):
    """As libca does when no repeater runs, casw starts one (a thread, here) that other
    clients can register with too."""
    port, rport = ports
    proc = start([our_tool("casw"), "-i2"], make_script_env(port, rport))
    try:
        deadline = time.monotonic() + 30
        while not repeater_confirms(rport) and time.monotonic() < deadline:
            assert proc.poll() is None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
            server.bind(("127.0.0.1", 0))
            for n in range(2):
                server.sendto(beacon(port, n), ("127.0.0.1", rport))
                time.sleep(0.3)
        time.sleep(0.5)
        out, err, code = interrupt(proc)
    finally:
        terminate(proc)
    lines = out.splitlines()
    assert [line[:2] + line[2:].split()[0] for line in lines] == [
        "  " + host_label("127.0.0.1", port)] * 2
    assert (err, code) == ("", -signal.SIGINT)


def test_no_repeater_answers_like_c(ports):
    """The repeater port is held by something that is not a repeater: both casws give
    up registering with the same message and exit status."""
    port, rport = ports
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("", rport))
        c = start([str(c_tool_path("casw"))], make_env(port, rport))
        ours = start([our_tool("casw")], make_script_env(port, rport))
        try:
            c_out, c_err = c.communicate(timeout=120)
            out, err = ours.communicate(timeout=120)
        finally:
            terminate(c)
            terminate(ours)
    assert (ours.returncode, out, err) == (c.returncode, c_out, c_err)
    assert (c.returncode, c_err) == (255, b"casw: unable to register with the CA repeater\n")


# --------------------------------------------------------------------------- tracker

A = ("10.0.0.1", 5064)


def feed(tracker: BeaconTracker, events) -> list[BeaconAnomaly | None]:
    return [tracker.observe(A, beacon_id, now) for now, beacon_id in events]


def test_a_server_heard_at_start_up_is_not_new():
    tracker = BeaconTracker(start=0.0)
    assert feed(tracker, [(0.5, 7), (15.5, 8), (30.5, 9)]) == [None, None, None]
    assert tracker.period(A) == pytest.approx(15.0 * 0.875 + 15.0 * 0.125)


def test_a_server_heard_later_is_new():
    tracker = BeaconTracker(start=0.0)
    first, second = feed(tracker, [(100.0, 0), (100.02, 1)])
    assert first is None
    assert second == BeaconAnomaly(A, NEW, 1, pytest.approx(0.02), pytest.approx(0.02))


def test_running_average_and_missing_beacons():
    tracker = BeaconTracker(start=0.0)
    feed(tracker, [(0.0, 0), (1.0, 1), (2.0, 2)])
    assert tracker.period(A) == pytest.approx(1.0)
    # 2 periods late: a missed beacon, not an anomaly (libca pings a connected server)
    assert feed(tracker, [(4.0, 3)]) == [None]
    assert tracker.period(A) == pytest.approx(0.875 + 2 * 0.125)
    # 3.25 periods or more: the server is back (a restored network, or a reboot)
    period = tracker.period(A)
    (anomaly,) = feed(tracker, [(4.0 + 3.3 * period, 4)])
    assert anomaly is not None and anomaly.kind == REAPPEARED
    assert anomaly.interval == pytest.approx(3.3 * period)
    assert anomaly.period == pytest.approx(period * 0.875 + 3.3 * period * 0.125)


def test_faster_beacons_are_an_anomaly():
    tracker = BeaconTracker(start=0.0)
    feed(tracker, [(0.0, 0), (15.0, 1), (30.0, 2)])
    (anomaly,) = feed(tracker, [(40.0, 3)])              # 10 s < 0.8 * 15 s
    assert anomaly is not None and (anomaly.kind, anomaly.beacon_id) == (FASTER, 3)
    assert feed(tracker, [(52.5, 4)]) == [None]           # 12.5 s: within tolerance


def test_duplicates_and_small_jumps_are_ignored():
    tracker = BeaconTracker(start=0.0)
    feed(tracker, [(0.0, 10), (1.0, 11), (2.0, 12)])
    # a duplicate, one just before, and +2/+3 (lost or duplicated routes): no update
    assert feed(tracker, [(2.1, 12), (2.2, 11), (2.3, 13), (2.4, 15)]) == [None] * 4
    assert tracker.last_time(A) == 2.0
    assert feed(tracker, [(3.0, 16)]) == [None]           # +1 again: accepted
    assert tracker.last_time(A) == 3.0


def test_restart_resets_ids_and_is_reported_as_restarted():
    tracker = BeaconTracker(start=0.0)
    feed(tracker, [(0.0, 100), (15.0, 101), (30.0, 102)])
    # the server reboots: ids start again at 0 (dropped), beacons come fast
    assert feed(tracker, [(31.0, 0), (31.02, 0)]) == [None, None]
    (anomaly,) = feed(tracker, [(31.06, 1)])
    assert anomaly is not None and anomaly.kind == RESTARTED
    assert anomaly.interval == pytest.approx(1.06)


def test_ids_wrap_around_as_libca_counts():
    tracker = BeaconTracker(start=0.0)
    # libca counts 2**32-1 -> 0 as no advance (a duplicate), and 0 -> 1 as one
    assert feed(tracker, [(0.0, 0xFFFFFFFE), (1.0, 0xFFFFFFFF), (2.0, 0), (3.0, 1)]) \
        == [None] * 4
    assert tracker.last_time(A) == 3.0 and tracker.period(A) == pytest.approx(1.125)


def test_old_servers_ids_are_not_checked():
    tracker = BeaconTracker(start=0.0)
    old = Beacon(version=9, server_port=0, beacon_id=5, address="0.0.0.0")
    assert tracker.observe_beacon(old, ("10.0.0.9", 5065), 100.0, 5070) is None
    anomaly = tracker.observe_beacon(old, ("10.0.0.9", 5065), 100.5, 5070)
    assert anomaly is not None and anomaly.address == ("10.0.0.9", 5070)
    assert anomaly.kind == NEW


def test_memory_is_bounded():
    tracker = BeaconTracker(start=0.0, max_servers=100)
    for n in range(1000):
        tracker.observe((f"10.0.{n // 256}.{n % 256}", 5064), 0, float(n))
    assert len(tracker) == 100 and ("10.0.3.231", 5064) in tracker


def test_the_tracker_needs_no_sockets():
    # a client imports it at its first beacon: no socket/selectors wrappers (start-up)
    code = ("import sys, catools.client.beacons as b; b.BeaconTracker().observe(('a', 1), 0,"
            " 0.0); print(sorted({'socket', 'selectors'} & set(sys.modules)))")
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        timeout=60)
    assert (cp.returncode, cp.stdout, cp.stderr) == (0, "[]\n", "")


# --------------------------------------------------------------------------- listener

def test_listener_direct_and_through_a_repeater(in_process_repeater):
    port = free_port(tcp=False, udp=True)
    try:
        with BeaconListener(port, direct=True) as direct, \
                BeaconListener(in_process_repeater.port) as relayed, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
            relayed.register()
            assert relayed.confirmed
            server.bind(("127.0.0.1", 0))
            for target in (port, in_process_repeater.port):
                server.sendto(beacon(5070, 42), ("127.0.0.1", target))
            (event,) = list(direct.events(timeout=2.0))
            assert event.beacon == Beacon(version=13, server_port=5070, beacon_id=42,
                                          address="0.0.0.0")
            assert event.sender == server.getsockname()
            (event,) = list(relayed.events(timeout=2.0))
            assert event.beacon.address == "127.0.0.1"        # filled in by the repeater
    finally:
        release_port(port)


def test_listener_without_a_repeater_fails_to_register():
    port = free_port(tcp=False, udp=True)
    try:
        with BeaconListener(port) as listener, pytest.raises(RegistrationError):
            listener.register(attempts=3, interval=0.05)
    finally:
        release_port(port)
