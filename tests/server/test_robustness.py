"""Bad clients are dropped without disturbing good ones; large arrays; beacons."""
from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time

import epics_env
from catools.protocol import (CLIENT, NEED_DATA, ChannelState, ClientChannel, CreateChanRequest,
                              VersionRequest, VirtualCircuit)
from catools.server import PV, Server

from serverhelpers import loopback_config


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    sock.settimeout(2)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return data
        if not chunk:
            return data
        data += chunk


def test_bad_clients_are_dropped_and_monitors_continue(demo):
    server, env = demo
    cmd = [str(epics_env.c_tool_path("camonitor")), "demo:sine"]
    monitor = subprocess.Popen(cmd, env=env.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        # 1. garbage bytes: answered with ERROR (misaligned / unknown command), then closed
        bad = _connect(server.port)
        bad.sendall(bytes(range(7, 250)) * 3)
        reply = _read_until_closed(bad)
        bad.close()
        assert reply[:2] == b"\x00\x00"                   # our VERSION on accept
        assert b"\x00\x0b" in reply[16:18]                # then an ERROR
        # 2. a correct circuit that dies in the middle of a message
        circuit = VirtualCircuit(CLIENT, ("127.0.0.1", server.port))
        half = _connect(server.port)
        data = circuit.send(VersionRequest(priority=0, version=13),
                            ClientChannel(circuit, "demo:sine").create())
        half.sendall(data[:-5])
        half.close()
        # 3. a message before VERSION: ERROR ECA_DEFUNCT, circuit kept (as RSRV)
        early = _connect(server.port)
        early.sendall(bytes(CreateChanRequest(name="demo:sine", cid=1, version=13)))
        got = b""
        while len(got) < 16 + 16 + 16:
            got += early.recv(4096)
        assert struct.unpack_from(">HHHHII", got, 16)[0] == 11
        assert struct.unpack_from(">HHHHII", got, 16)[5] == 0x116
        early.close()
        time.sleep(1.0)
        before = server.client_count
    finally:
        try:
            monitor.send_signal(2)
            out, err = monitor.communicate(timeout=5)
        finally:
            epics_env.terminate(monitor)   # killed if SIGINT did not end it in time
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("demo:sine")]
    assert len(lines) >= 12                          # ~10 Hz kept flowing for 1.5 s
    times = [float(ln.split()[2].split(":")[-1]) for ln in lines[-8:]]
    gaps = [(b - a) % 60 for a, b in zip(times, times[1:])]
    assert max(gaps) < 0.5
    assert before == 1                               # only camonitor is left
    assert err == b""


def test_client_protocol_through_the_core(demo):
    """A client made of the core alone: create, read, unknown name, echo."""
    server, _ = demo
    circuit = VirtualCircuit(CLIENT, ("127.0.0.1", server.port))
    sock = _connect(server.port)
    chan = ClientChannel(circuit, "demo:readonly")
    nochan = ClientChannel(circuit, "demo:nothere")
    sock.sendall(circuit.send(VersionRequest(priority=0, version=13), chan.create(),
                              nochan.create()))

    def until(predicate):
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            command = circuit.next_command()
            if command is NEED_DATA:
                circuit.recv(sock.recv(65536))
                continue
            if predicate(command):
                return command
        raise AssertionError("no reply")

    until(lambda c: chan.state is ChannelState.CONNECTED and nochan.state
          is ChannelState.FAILED)
    assert int(chan.access_rights) == 1
    sock.sendall(circuit.send(chan.read(data_type=34, data_count=0)))
    reply = until(lambda c: type(c).__name__ == "ReadNotifyResponse")
    assert reply.status == 1 and list(reply.data) == [3.14159]
    assert reply.metadata.units == b"rad" and reply.metadata.precision == 4
    sock.sendall(circuit.send(chan.write([1.0], notify=True)))
    reply = until(lambda c: type(c).__name__ == "WriteNotifyResponse")
    assert reply.status == 0x178                     # ECA_NOWTACCESS
    sock.close()


def test_large_array_read_by_c_caget():
    env = epics_env.CaEnv()
    big = {"EPICS_CA_MAX_ARRAY_BYTES": "2000000", "EPICS_CA_AUTO_ARRAY_BYTES": "NO"}
    values = [i * 0.5 for i in range(100_000)]
    server = Server([PV("big", "double", values)],
                    loopback_config(env, max_array_bytes=2_000_000, auto_array_bytes=False))
    server.start_in_thread()
    try:
        result = env.c_tool("caget", "-#", "100000", "big", env=big, timeout=20)
        assert result.returncode == 0, result.stderr
        fields = result.stdout.split()
        assert fields[:2] == [b"big", b"100000"]
        assert len(fields) == 100_002
        assert fields[2:5] == [b"0", b"0.5", b"1"] and fields[-1] == b"49999.5"
        info = env.c_tool("cainfo", "big", env=big).stdout.decode()
        assert "Element count:    100000" in info
    finally:
        server.stop()
        env.close()


def test_beacons_schedule_and_ids(port_pair):
    port, beacon_port = port_pair
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", beacon_port))
    listener.settimeout(2)
    env = type("E", (), {"port": port, "repeater_port": beacon_port})()
    server = Server([PV("x", "long", 1)], loopback_config(env, beacon_period=0.5))
    got: list[tuple[float, bytes]] = []
    server.start_in_thread()
    try:
        deadline = time.monotonic() + 1.6
        while time.monotonic() < deadline:
            data, _ = listener.recvfrom(1024)
            got.append((time.monotonic(), data))
    finally:
        server.stop()
        listener.close()
    headers = [struct.unpack(">HHHHII", data) for _, data in got]
    assert all(h[0] == 13 and h[1] == 0 and h[2] == 13 and h[3] == port for h in headers)
    ids = [h[4] for h in headers]
    assert ids == list(range(len(ids)))
    gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
    # 0.02, 0.04, 0.08, 0.16, 0.32, then the 0.5 s period
    assert 7 <= len(got) <= 9
    assert gaps[0] < 0.06 and 0.25 < gaps[4] < 0.45 and 0.4 < gaps[5] < 0.65
    for a, b in zip(gaps[:4], gaps[1:5]):
        assert 1.4 < b / a < 2.8


def test_many_clients_on_one_thread(demo):
    server, env = demo
    threads = [threading.Thread(target=env.c_tool, args=("caget", "demo:counter"))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert env.c_tool("caget", "-t", "demo:mode").returncode == 0
