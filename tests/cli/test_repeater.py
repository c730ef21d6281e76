"""``catools repeater`` (src/catools/repeater.py) against EPICS base's caRepeater: the
same datagrams to the same clients, the same port rules, and the C clients (casw,
camonitor) working through ours."""
from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from epics_env import (SoftIoc, c_tool_path, ca_header, free_port, free_port_pair,  # noqa: E402
                       make_env, make_script_env, release_port, repeater_confirms,
                       start_repeater, terminate)
from clihelpers import our_tool  # noqa: E402

from catools.repeater import Repeater, RepeaterBusy, multicast_groups  # noqa: E402

LOOPBACK = 0x7F000001


def start_our_repeater(env: Mapping[str, str], timeout: float = 20.0) -> subprocess.Popen:
    """``catools repeater -v`` on ``env``'s repeater port, once it confirms a
    registration; the caller stops it with ``terminate``."""
    port = int(env["EPICS_CA_REPEATER_PORT"])
    proc = subprocess.Popen([our_tool("catools"), "repeater", "-v"], env=dict(env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise RuntimeError(f"catools repeater exited with {proc.returncode}: {err!r}")
        if repeater_confirms(port):
            return proc
    terminate(proc)
    raise RuntimeError(f"catools repeater on port {port} did not confirm")


class IocWithoutRepeater(SoftIoc):
    """A softIoc that leaves the repeater port to the test (no C caRepeater)."""

    def _start_repeater(self) -> None:
        pass


@pytest.fixture
def ports() -> Iterator[tuple[int, int]]:
    port, rport = free_port_pair()
    try:
        yield port, rport
    finally:
        release_port(port)
        release_port(rport)


@pytest.fixture
def in_process_repeater() -> Iterator[Repeater]:
    """Our Repeater in a thread of the test process, on a free port."""
    port = free_port(tcp=False, udp=True)
    errors: list[str] = []
    repeater = Repeater(port, on_error=errors.append)
    thread = threading.Thread(target=repeater.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield repeater
    finally:
        repeater.stop()
        thread.join(10)
        repeater.close()
        release_port(port)
    assert not thread.is_alive()


# --------------------------------------------------------------------------- scenario

def _udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def _receive(sock: socket.socket, count: int, timeout: float = 10.0) -> list[bytes]:
    """``count`` datagrams (waiting up to ``timeout``), then whatever else arrives
    within 0.3 s (so an unexpected extra datagram is seen)."""
    out: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            out.append(sock.recv(65536))
        except (socket.timeout, ConnectionRefusedError):
            pass
    sock.settimeout(0.3)
    while True:
        try:
            out.append(sock.recv(65536))
        except (socket.timeout, ConnectionRefusedError):
            return out


def beacon(server_port: int, beacon_id: int, address: int = 0, version: int = 13) -> bytes:
    return ca_header(13, 0, version, server_port, beacon_id, address)


def run_scenario(rport: int) -> list[tuple[str, list[bytes]]]:
    """Talk to the repeater on ``rport`` as clients and servers do; what each client
    received at each step."""
    rep = ("127.0.0.1", rport)
    a, b, c, server = _udp(), _udp(), _udp(), _udp()
    seen: list[tuple[str, list[bytes]]] = []
    try:
        a.sendto(b"", rep)                                   # empty datagram: register
        seen.append(("a registers", _receive(a, 1)))
        b.sendto(ca_header(24, p2=LOOPBACK), rep)            # REPEATER_REGISTER
        seen.append(("b registers: b", _receive(b, 1)))
        seen.append(("b registers: a", _receive(a, 1)))
        server.sendto(beacon(5064, 7), rep)                  # address filled in
        seen.append(("beacon: a", _receive(a, 1)))
        seen.append(("beacon: b", _receive(b, 1)))
        server.sendto(beacon(5070, 8, 0x7F000002) + ca_header(0, 0, 0, 13), rep)
        seen.append(("beacon with address: a", _receive(a, 1)))
        seen.append(("beacon with address: b", _receive(b, 1)))
        a.sendto(ca_header(23), rep)                         # not sent back to a
        seen.append(("from a: b", _receive(b, 1)))
        seen.append(("from a: a", _receive(a, 0)))
        b.sendto(ca_header(24, p2=LOOPBACK) + beacon(5071, 9), rep)
        seen.append(("register + beacon: b", _receive(b, 1)))
        seen.append(("register + beacon: a", _receive(a, 2)))
        server.sendto(b"\x00\x0d\x00", rep)                  # short: passed on as is
        seen.append(("short: a", _receive(a, 1)))
        seen.append(("short: b", _receive(b, 1)))
        a.close()                                            # a is gone
        server.sendto(beacon(5064, 10), rep)
        seen.append(("a gone: b", _receive(b, 1)))
        c.sendto(b"", rep)
        seen.append(("c registers: c", _receive(c, 1)))
        seen.append(("c registers: b", _receive(b, 1)))
        server.sendto(beacon(5064, 11), rep)
        seen.append(("after c: b", _receive(b, 1)))
        seen.append(("after c: c", _receive(c, 1)))
    finally:
        for s in (a, b, c, server):
            s.close()
    return seen


def test_same_datagrams_as_the_c_repeater(ports):
    port, rport = ports
    env = make_env(port, rport)
    c_proc = start_repeater(env)
    try:
        c_seen = run_scenario(rport)
    finally:
        terminate(c_proc)
    ours = start_our_repeater(make_script_env(port, rport))
    try:
        our_seen = run_scenario(rport)
    finally:
        terminate(ours)
    assert our_seen == c_seen
    steps = dict(c_seen)
    # what the scenario checks, in the C repeater's own answers
    confirm = steps["a registers"][0]
    assert struct.unpack(">HHHHII", confirm) == (17, 0, 0, 0, 0, LOOPBACK)
    assert steps["b registers: a"] == [bytes(16)]             # the no-op
    assert struct.unpack(">HHHHII", steps["beacon: b"][0])[5] == LOOPBACK
    assert steps["from a: a"] == []
    # (the address of a beacon after a registration is not filled in)
    assert steps["register + beacon: a"] == [bytes(16), beacon(5071, 9)]


def test_a_second_repeater_exits_quietly(ports):
    port, rport = ports
    c_proc = start_repeater(make_env(port, rport))
    try:
        cp = subprocess.run([our_tool("catools"), "repeater", "-v"],
                            env=make_script_env(port, rport), capture_output=True,
                            timeout=30)
        assert (cp.returncode, cp.stdout, cp.stderr) == (0, b"", b"")
        assert c_proc.poll() is None and repeater_confirms(rport, timeout=2.0)
    finally:
        terminate(c_proc)
    ours = start_our_repeater(make_script_env(port, rport))
    try:
        cp = subprocess.run([str(c_tool_path("caRepeater")), "-v"],
                            env=make_env(port, rport), capture_output=True, timeout=30)
        assert cp.returncode == 0
        assert ours.poll() is None and repeater_confirms(rport, timeout=2.0)
    finally:
        terminate(ours)


def test_repeater_is_detached_without_v_and_stops_on_sigterm(ports):
    port, rport = ports
    proc = subprocess.Popen([our_tool("catools"), "repeater"], env=make_script_env(port, rport),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not repeater_confirms(rport) and time.monotonic() < deadline:
            assert proc.poll() is None
        assert os.readlink(f"/proc/{proc.pid}/fd/1") == os.devnull
        assert os.readlink(f"/proc/{proc.pid}/cwd") == "/"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == -signal.SIGTERM
        assert proc.stdout.read() == b"" and proc.stderr.read() == b""
    finally:
        terminate(proc)


def test_sigint_ends_it_quietly(ports):
    proc = start_our_repeater(make_script_env(*ports))
    try:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == -signal.SIGINT
        assert proc.stdout.read() == b"" and proc.stderr.read() == b""
    finally:
        terminate(proc)


def test_bad_port_is_one_line(ports):
    port, rport = ports
    env = make_script_env(port, rport, extra={"EPICS_CA_REPEATER_PORT": "70000"})
    cp = subprocess.run([our_tool("catools"), "repeater"], env=env, capture_output=True,
                        timeout=30)
    assert cp.returncode == 1 and cp.stdout == b""
    assert cp.stderr.count(b"\n") == 1 and b"EPICS_CA_REPEATER_PORT" in cp.stderr


# --------------------------------------------------------------------------- unit

def test_dead_clients_are_pruned(in_process_repeater):
    rep = ("127.0.0.1", in_process_repeater.port)
    a, b = _udp(), _udp()
    try:
        a.sendto(b"", rep)
        assert len(_receive(a, 1)) == 1
        b.sendto(b"", rep)
        assert len(_receive(b, 1)) == 1
        ports = {a.getsockname()[1], b.getsockname()[1]}
        assert set(in_process_repeater.clients) == ports
        a.close()
        with _udp() as server:
            for n in range(3):     # the first send after a went away may still succeed
                server.sendto(beacon(5064, n), rep)
                assert len(_receive(b, 1)) == 1
        deadline = time.monotonic() + 10
        while len(in_process_repeater.clients) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(in_process_repeater.clients) == {b.getsockname()[1]}
    finally:
        a.close()
        b.close()


def test_registration_from_a_foreign_address_is_ignored(in_process_repeater):
    in_process_repeater.handle(b"", ("192.0.2.1", 40000))     # TEST-NET: not ours
    assert in_process_repeater.clients == {}


def test_busy_port_raises_repeater_busy(in_process_repeater):
    with pytest.raises(RepeaterBusy):
        Repeater(in_process_repeater.port)


def test_multicast_groups():
    assert multicast_groups("127.0.0.1 224.0.2.9:5065 239.1.1.1 host 240.0.0.1") == [
        "224.0.2.9", "239.1.1.1"]


# --------------------------------------------------------------------------- C clients

def test_c_clients_work_through_our_repeater(ports, tmp_path, in_process_repeater):
    """A C camonitor registers and is confirmed; beacons of a softIoc reach a C casw."""
    port, _ = ports
    rport = in_process_repeater.port
    env = make_env(port, rport, extra={"EPICS_CAS_BEACON_PERIOD": "0.5"})
    ioc = IocWithoutRepeater(port=port, repeater_port=rport, log_dir=tmp_path)
    ioc.env = env
    casw = camonitor = None
    try:
        before = set(in_process_repeater.clients)
        casw = subprocess.Popen([str(c_tool_path("casw")), "-i", "2"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        camonitor = subprocess.Popen([str(c_tool_path("camonitor")), "TST:ai"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while len(set(in_process_repeater.clients) - before) < 2 \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(set(in_process_repeater.clients) - before) == 2
        ioc.start()
        time.sleep(3)
        ioc.stop_ioc()
        assert camonitor.poll() is None and casw.poll() is None
        camonitor.send_signal(signal.SIGINT)
        cm_out, cm_err = camonitor.communicate(timeout=20)
        casw.send_signal(signal.SIGINT)
        sw_out, sw_err = casw.communicate(timeout=20)
    finally:
        for proc in (casw, camonitor):
            if proc is not None:
                terminate(proc)
        ioc.close()
    assert cm_out.startswith(b"TST:ai ") and b"register" not in cm_err.lower()
    lines = sw_out.decode().splitlines()
    host = f"{socket.gethostbyaddr('127.0.0.1')[0]}:{port}"
    beacons = [line for line in lines if line[2:].split(" ")[0] == host]
    assert len(beacons) >= 5, sw_out
    assert sw_err == b""
