"""Connect back-off (issue 10.3), SO_BROADCAST and sendto errors (11.1), several name
servers (11.2): the client against misbehaving fake servers and real softIocs."""
from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import epics_env
from catools.client import Context
from catools.config import ClientConfig

REFUSED = 'CAC: Unable to connect because "Connection refused"'


def _env(extra: dict[str, str]) -> dict[str, str]:
    """Loopback variables (plus ``extra``) for a client that talks only to our fakes."""
    return epics_env.make_env(epics_env.free_port(), epics_env.free_port(tcp=False),
                              extra=extra)


class UdpResponder:
    """Answers every search datagram with a SEARCH reply naming ``tcp_port`` on
    127.0.0.1 (changeable while running); counts the search datagrams."""

    def __init__(self, tcp_port: int) -> None:
        self.tcp_port = tcp_port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.searches: list[float] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data, sender = self.sock.recvfrom(65535)
            except OSError:
                continue
            replies = []
            offset = 0
            while offset + 16 <= len(data):
                cmd, psize, _, _, p1, _ = struct.unpack_from(">HHHHII", data, offset)
                if cmd == 6:
                    replies.append(epics_env.ca_header(6, 8, self.tcp_port, 0, 0xFFFFFFFF, p1)
                                   + struct.pack(">H6x", epics_env.CA_MINOR))
                offset += 16 + psize
            if replies:
                self.searches.append(time.monotonic())
                try:
                    self.sock.sendto(epics_env.ca_header(0, 0, 0, epics_env.CA_MINOR)
                                     + b"".join(replies), sender)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        self.sock.close()


class TcpListener:
    """Accepts connections and either closes them at once or keeps them open, sending
    ``greeting`` and nothing more."""

    def __init__(self, close_at_once: bool, greeting: bytes = b"") -> None:
        self.close_at_once = close_at_once
        self.greeting = greeting
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.accepts: list[float] = []
        self._held: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepts.append(time.monotonic())
            if self.close_at_once:
                conn.close()
            else:
                self._held.append(conn)
                if self.greeting:
                    conn.sendall(self.greeting)

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        self.sock.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def fakes():
    made: list = []
    yield made
    for fake in made:
        fake.close()


def _context(responder: UdpResponder, **extra: str) -> Context:
    env = _env({"EPICS_CA_ADDR_LIST": f"127.0.0.1:{responder.port}", **extra})
    return Context(ClientConfig.from_env(env))


# -- A: back-off -------------------------------------------------------------------

def test_server_that_accepts_and_closes_is_retried_with_backoff(fakes):
    server = TcpListener(close_at_once=True)
    responder = UdpResponder(server.port)
    fakes += [server, responder]
    with _context(responder) as ctx:
        pv = ctx.pv("BACKOFF:closes")
        ctx.run_until(lambda: False, 3.0)
        assert not pv.connected
    # without back-off: thousands of connects and searches in 3 s
    assert 2 <= len(server.accepts) < 30, server.accepts
    assert len(responder.searches) < 60


@pytest.mark.parametrize("greeting", [b"", epics_env.ca_header(0, 0, 0, epics_env.CA_MINOR)],
                         ids=["silent", "version-only"])
def test_server_that_never_answers_the_handshake_counts_as_a_failure(fakes, greeting):
    """No VERSION, or a VERSION and then no reply to CREATE_CHAN."""
    server = TcpListener(close_at_once=False, greeting=greeting)
    responder = UdpResponder(server.port)
    fakes += [server, responder]
    # EPICS_CA_CONN_TMO bounds the wait for the server's first reply (at most 5 s)
    with _context(responder, EPICS_CA_CONN_TMO="0.5") as ctx:
        pv = ctx.pv("BACKOFF:silent")
        ctx.run_until(lambda: False, 8.0)
        assert not pv.connected
    accepts = server.accepts
    # retried (the silence is a failure) but backing off: connects at about 0, 0.75,
    # 1.75, 3.25 and 5.75 s (the 0.5 s wait plus 0.25, 0.5, 1, 2 s); 16 without back-off
    assert 4 <= len(accepts) <= 9, accepts
    gaps = [b - a for a, b in zip(accepts, accepts[1:])]
    assert gaps[-1] > gaps[0] + 0.4, gaps


def test_search_reply_naming_a_closed_port_backs_off_and_says_so_once(fakes, caplog):
    closed = epics_env.free_port()           # reserved, nothing listens on it
    responder = UdpResponder(closed)
    fakes.append(responder)
    with _context(responder) as ctx:
        pv = ctx.pv("BACKOFF:refused")
        ctx.run_until(lambda: False, 3.0)
        assert not pv.connected
    # each retry costs one search; without back-off: ~28,000 datagrams in 10 s
    assert 2 <= len(responder.searches) < 30, len(responder.searches)
    # (a Context without callbacks reports through the catools.client logger)
    assert caplog.messages.count(REFUSED) == 1


def test_client_connects_promptly_once_a_real_server_appears(fakes, softioc):
    ioc = softioc()
    responder = UdpResponder(epics_env.free_port())      # first: a closed port
    fakes.append(responder)
    with _context(responder) as ctx:
        pv = ctx.pv("TST:ai")
        ctx.run_until(lambda: False, 3.0)
        assert not pv.connected
        responder.tcp_port = ioc.port                    # now the real IOC answers
        # the back-off wait is at most reconnect_ceiling (5 s) after the last failure
        assert ctx.wait_connected([pv], 10.0)
        op = ctx.read(pv)
        assert ctx.wait([op], 5.0) and op.error is None
        assert op.result.data[0] == pytest.approx(3.14159265)


# -- A: one bad reply drops one channel --------------------------------------------

class TwoChannelServer:
    """A CA server for ``GOOD`` and ``BAD``: it answers the handshake and channel
    creation properly; a monitor on ``BAD`` gets an EVENT_ADD whose payload is too
    short for its DBR type, one on ``GOOD`` a proper DBR_DOUBLE update."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.accepts = 0
        self.cleared: list[int] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conns: list[tuple[socket.socket, bytearray]] = []
        try:
            while not self._stop:
                try:
                    conn, _ = self.sock.accept()
                    conn.settimeout(0.01)
                    self.accepts += 1
                    conn.sendall(epics_env.ca_header(0, 0, 0, epics_env.CA_MINOR))
                    conns.append((conn, bytearray()))
                except OSError:
                    pass
                for conn, buf in conns:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        continue
                    buf += chunk
                    self._serve(conn, buf)
        finally:
            for conn, _ in conns:
                conn.close()

    def _serve(self, conn: socket.socket, buf: bytearray) -> None:
        names: dict[int, str] = getattr(self, "_names", {})
        self._names = names
        while len(buf) >= 16:
            cmd, psize, dtype, count, p1, p2 = struct.unpack_from(">HHHHII", buf)
            if len(buf) < 16 + psize:
                return
            payload = bytes(buf[16:16 + psize])
            del buf[:16 + psize]
            if cmd == 18:                                   # CREATE_CHAN: cid p1
                name = payload.rstrip(b"\0").decode()
                sid = 100 + p1
                names[sid] = name
                conn.sendall(epics_env.ca_header(22, 0, 0, 0, p1, 3)
                             + epics_env.ca_header(18, 0, 6, 1, p1, sid))
            elif cmd == 1:                                  # EVENT_ADD: sid p1, subid p2
                if names.get(p1) == "BAD":
                    conn.sendall(epics_env.ca_header(1, 8, 20, 1, 1, p2) + bytes(8))
                else:
                    conn.sendall(epics_env.ca_header(1, 8, 6, 1, 1, p2)
                                 + struct.pack(">d", 2.5))
            elif cmd == 12:                                 # CLEAR_CHANNEL: sid p1
                self.cleared.append(p1)
                conn.sendall(epics_env.ca_header(12, 0, 0, 0, p1, p2))

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        self.sock.close()


def test_a_server_that_keeps_sending_a_malformed_update_is_not_hammered(fakes):
    server = TwoChannelServer()
    responder = UdpResponder(server.port)
    fakes += [server, responder]
    events: list[str] = []
    with _context(responder) as ctx:
        good, bad = ctx.pvs_for(["GOOD", "BAD"])
        ctx.subscribe(good, lambda sub, event, resp: events.append(event), data_type=None)
        ctx.subscribe(bad, lambda sub, event, resp: None, data_type=None)
        assert ctx.wait_connected([good], 5.0)
        ctx.run_until(lambda: False, 3.0)
    # each reconnect is answered by the same bad update: without back-off the circuit
    # was rebuilt hundreds of times a second (248 disconnects in 2 s)
    assert 1 <= server.accepts < 10, server.accepts
    assert events.count("disconnected") < 10


def test_a_malformed_update_drops_only_its_channel(fakes, caplog):
    server = TwoChannelServer()
    responder = UdpResponder(server.port)
    fakes += [server, responder]
    events: dict[str, list[str]] = {"GOOD": [], "BAD": []}
    with _context(responder) as ctx:
        good, bad = ctx.pvs_for(["GOOD", "BAD"])
        for pv in (good, bad):
            ctx.subscribe(pv, lambda sub, event, resp: events[sub.pv.name].append(event),
                          data_type=None)
        assert ctx.wait_connected([good, bad], 5.0)
        ctx.run_until(lambda: False, 2.0)
        assert good.connected and "disconnected" not in events["GOOD"]
        assert "update" in events["GOOD"]
        assert server.accepts == 1
        assert len(server.cleared) == 1        # BAD's channel alone was cleared
        assert not bad.connected
    assert any("BAD" in message for message in caplog.messages)


# -- A: the back-off schedule (pure) ------------------------------------------------

def test_backoff_doubles_up_to_the_ceiling_and_restarts_after_a_healthy_circuit():
    from catools.client._backoff import HEALTHY_AFTER, Backoff
    backoff = Backoff(0.25, 5.0)
    server = ("127.0.0.1", 5064)
    assert backoff.retry_at(server) == 0.0
    delays = [backoff.failed(server, 100.0) - 100.0 for _ in range(7)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    # a circuit that was up and receiving for HEALTHY_AFTER s: its loss is a first failure
    assert backoff.failed(server, 200.0, established_at=200.0 - HEALTHY_AFTER) == 200.25
    # ... one that failed soon after its handshake is not
    assert backoff.failed(server, 300.0, established_at=299.0) == 300.5
    backoff.reset(server)
    assert backoff.retry_at(server) == 0.0 and backoff.failures(server) == 0


# -- beacons -----------------------------------------------------------------------

def test_on_beacon_sees_the_iocs_beacons_and_an_anomaly_after_its_restart(softioc):
    ioc = softioc()
    seen: list[tuple[tuple[str, int], int, object]] = []
    with Context(ClientConfig.from_env(ioc.env), listen_beacons=True) as ctx:
        ctx.on_beacon(lambda address, beacon_id, anomaly: seen.append(
            (address, beacon_id, anomaly)))
        assert ctx.run_until(lambda: len(seen) >= 2, 20.0)
        assert {address for address, _, _ in seen} == {("127.0.0.1", ioc.port)}
        ioc.restart()                          # beacon ids start again from 0
        restarted = len(seen)
        assert ctx.run_until(lambda: any(anomaly is not None
                                         for _, _, anomaly in seen[restarted:]), 20.0)


# -- B: SO_BROADCAST and sendto errors ---------------------------------------------

def test_udp_socket_may_broadcast_with_the_auto_list_off():
    env = _env({"EPICS_CA_AUTO_ADDR_LIST": "NO", "EPICS_CA_ADDR_LIST": "127.0.0.1"})
    with Context(ClientConfig.from_env(env)) as ctx:
        assert ctx.udp.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) != 0


def test_sendto_error_is_reported_once_per_destination(fakes, caplog):
    responder = UdpResponder(epics_env.free_port())
    fakes.append(responder)
    env = _env({"EPICS_CA_ADDR_LIST": f"127.0.0.1:{responder.port}"})
    # port 0 cannot be sent to (EINVAL); the parser refuses it, so set it directly
    config = ClientConfig.from_env(env)
    config = config.replace(addr_list=[("127.0.0.1", 0)] + config.addr_list)
    with Context(config) as ctx:
        ctx.pv("SENDTO:nobody")                 # never found: searched again and again
        ctx.pv("SENDTO:nobody2")
        ctx.run_until(lambda: False, 1.5)
    lines = caplog.messages
    assert lines.count('CAC: error = "Invalid argument" sending UDP msg to 127.0.0.1:0') == 1
    assert len(responder.searches) >= 2       # the other destination still gets them


# -- C: several name servers -------------------------------------------------------

def _ns_env(*iocs) -> dict[str, str]:
    servers = " ".join(f"127.0.0.1:{ioc.port}" for ioc in iocs)
    return epics_env.make_script_env(
        iocs[0].port, iocs[0].repeater_port,
        extra={"EPICS_CA_ADDR_LIST": "", "EPICS_CA_AUTO_ADDR_LIST": "NO",
               "EPICS_CA_NAME_SERVERS": servers})


def _two_iocs(softioc):
    return (softioc(records='record(ai, "NSA:ai") { field(VAL, "1.5") }\n'),
            softioc(records='record(ai, "NSB:ai") { field(VAL, "2.5") }\n'))


def _client_circuits(pid: int, port: int) -> int:
    """ESTABLISHED TCP connections of process ``pid`` to 127.0.0.1:``port``."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state, inode = fields[2], fields[3], fields[9]
        if state == "01" and inode in inodes and int(remote.split(":")[1], 16) == port:
            count += 1
    return count


def test_caget_finds_pvs_on_each_name_server_like_c_caget(softioc):
    iocs = _two_iocs(softioc)
    env = _ns_env(*iocs)
    ours = subprocess.run(["caget", "NSA:ai", "NSB:ai"], env=env, capture_output=True,
                          timeout=20)
    theirs = epics_env.run_c_tool("caget", "NSA:ai", "NSB:ai", env=env, timeout=20)
    assert ours.returncode == theirs.returncode == 0, (ours.stderr, theirs.stderr)
    assert ours.stdout == theirs.stdout
    assert ours.stderr == b""


def test_one_circuit_per_name_server_ioc(softioc):
    iocs = _two_iocs(softioc)
    env = _ns_env(*iocs)
    with Context(ClientConfig.from_env(env)) as ctx:
        pvs = ctx.pvs_for(["NSA:ai", "NSB:ai"])
        assert ctx.wait_connected(pvs, 5.0)
        ops = ctx.read_many([(pv, None, None) for pv in pvs])
        assert ctx.wait(ops, 5.0)
        assert [op.result.data[0] for op in ops] == [1.5, 2.5]
        # the name-server circuit also carries the channels, as libca's does
        assert [_client_circuits(os.getpid(), ioc.port) for ioc in iocs] == [1, 1]


def test_camonitor_resumes_after_a_name_server_ioc_restarts(softioc, tmp_path):
    iocs = _two_iocs(softioc)
    env = _ns_env(*iocs)
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(["camonitor", "NSA:ai", "NSB:ai"], env=env, stdout=stdout,
                                stderr=stderr, start_new_session=True)
    try:
        def lines() -> list[str]:
            return out.read_text().splitlines()

        def wait_for(predicate, timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if predicate():
                    return True
                time.sleep(0.1)
            return predicate()

        assert wait_for(lambda: len(lines()) >= 2, 10.0), lines()
        assert [_client_circuits(proc.pid, ioc.port) for ioc in iocs] == [1, 1]
        iocs[0].stop_ioc()
        assert wait_for(lambda: any("NSA:ai" in l and "disconnected" in l
                                    for l in lines()), 10.0), lines()
        time.sleep(1.5)                        # refused reconnects meanwhile
        iocs[0].start()                        # same port
        assert wait_for(lambda: sum(l.startswith("NSA:ai") and "1.5" in l
                                    for l in lines()) >= 2, 15.0), lines()
        assert wait_for(lambda: _client_circuits(proc.pid, iocs[0].port) == 1, 5.0)
        assert _client_circuits(proc.pid, iocs[1].port) == 1
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert not any(l.startswith("NSB:ai") and "disconnected" in l for l in lines())
    assert err.read_text().splitlines().count(REFUSED) == 1
