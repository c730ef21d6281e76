"""Monitor updates held back by flow control are delivered, never lost (issue 18, 1).

A 150,000-element DOUBLE waveform ``W`` (1.2 MB an update) and a long ``S`` are served.
A writer sends ``W=v`` and ``S=v`` in one segment for v = 6, 7, 8; W's update pushes the
subscriber over the high-water mark, so S's update waits. Whatever way the subscriber's
output then drains (written at once, drained slowly through write readiness, or after
EVENTS_OFF/EVENTS_ON), the subscriber must end with S = 8, as it does with softIoc.
"""
from __future__ import annotations

import struct
import threading
import time

import pytest

import hostile
from catools.server import PV, Server

from serverhelpers import loopback_config
import serve_report

ELEMENTS = 150_000
DB = f"""record(waveform, "W") {{ field(FTVL, "DOUBLE") field(NELM, "{ELEMENTS}") }}
record(longout, "S") {{ field(VAL, "5") }}
"""
CMD_EVENTS_OFF, CMD_EVENTS_ON = 8, 9


class Subscriber:
    """A raw client subscribed to W and S (DBR_DOUBLE, DBE_VALUE) that keeps the last S
    it received; ``pause`` s between reads of ``chunk`` bytes (a slow reader)."""

    def __init__(self, port: int, rcvbuf: int | None = None, pause: float = 0.0,
                 chunk: int = 1 << 20) -> None:
        self.sock = hostile.connect(port, rcvbuf=rcvbuf)
        self.pause, self.chunk = pause, chunk
        out = hostile.header(hostile.CMD_VERSION, 0, 0, 13)
        for cid, name in ((1, "W"), (2, "S")):
            payload = hostile.pad8(name.encode() + b"\0")
            out += hostile.header(hostile.CMD_CREATE_CHAN, len(payload), 0, 0, cid, 13) \
                + payload
        self.sock.sendall(out)
        reader = hostile.Reader(self.sock)
        sids = {}
        for _ in range(2):
            _cmd, _dtype, _count, cid, sid, _ = reader.until(hostile.CMD_CREATE_CHAN)
            sids[cid] = sid
        body = struct.pack(">fffHH", 0, 0, 0, 1, 0)                  # DBE_VALUE
        self.sock.sendall(
            hostile.header(hostile.CMD_EVENT_ADD, 16, 6, ELEMENTS, sids[1], 1) + body +
            hostile.header(hostile.CMD_EVENT_ADD, 16, 6, 1, sids[2], 2) + body)
        self.buf = reader.buf
        self.last_s: float | None = None
        self.w_updates = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        buf = self.buf
        while not self.stop:
            try:
                data = self.sock.recv(self.chunk)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            buf += data
            while len(buf) >= 16:
                cmd, psize, _dtype, count, _p1, subid = struct.unpack_from(">HHHHII", buf)
                hsize = 16
                if psize == 0xFFFF:
                    if len(buf) < 24:
                        break
                    psize, count = struct.unpack_from(">II", buf, 16)
                    hsize = 24
                if len(buf) < hsize + psize:
                    break
                if cmd == hostile.CMD_EVENT_ADD and subid == 2 and psize:
                    self.last_s = struct.unpack_from(">d", buf, hsize)[0]
                elif cmd == hostile.CMD_EVENT_ADD and subid == 1:
                    self.w_updates += 1
                del buf[:hsize + psize]
            if self.pause:
                time.sleep(self.pause)

    def events(self, on: bool) -> None:
        self.sock.sendall(hostile.header(CMD_EVENTS_ON if on else CMD_EVENTS_OFF))

    def wait_s(self, value: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.last_s != value:
            time.sleep(0.02)
        return self.last_s

    def close(self) -> None:
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def write_w_and_s(port: int, values: tuple[int, ...]) -> None:
    """One circuit; for each v, WRITE W=[v]*ELEMENTS and S=v in one sendall."""
    sock = hostile.connect(port)
    try:
        out = hostile.header(hostile.CMD_VERSION, 0, 0, 13)
        for cid, name in ((1, "W"), (2, "S")):
            payload = hostile.pad8(name.encode() + b"\0")
            out += hostile.header(hostile.CMD_CREATE_CHAN, len(payload), 0, 0, cid, 13) \
                + payload
        sock.sendall(out)
        reader = hostile.Reader(sock)
        sids = {}
        for _ in range(2):
            _cmd, _dtype, _count, cid, sid, _ = reader.until(hostile.CMD_CREATE_CHAN)
            sids[cid] = sid
        for v in values:
            w = struct.pack(f">{ELEMENTS}d", *([float(v)] * ELEMENTS))
            sock.sendall(hostile.header(hostile.CMD_WRITE, len(w), 6, ELEMENTS, sids[1], 1)
                         + w + hostile.header(hostile.CMD_WRITE, 8, 6, 1, sids[2], 2)
                         + struct.pack(">d", v))
        assert hostile.echo_ok(sock, reader, 30)         # every write was taken
    finally:
        sock.close()


@pytest.fixture(scope="module")
def servers(module_env, module_softioc):
    """(name, port) of softIoc and of our server, the same two PVs on each."""
    ioc = module_softioc(records=DB, probe_pv="S")
    server = Server([PV("W", "double", [0.0] * ELEMENTS), PV("S", "long", 5)],
                    loopback_config(module_env))
    server.start_in_thread()
    try:
        yield {"softIoc": ioc.port, "catools serve": server.port}
    finally:
        server.stop()


PATHS = {
    # the subscriber reads at once: the whole buffer leaves in one send
    "flushed at once": dict(rcvbuf=None, pause=0.0),
    # a slow reader: the buffer drains through write readiness
    "writable": dict(rcvbuf=32 * 1024, pause=0.01, chunk=32 * 1024),
}


def _run_path(port: int, path: str) -> tuple[float | None, int]:
    sub = Subscriber(port, **PATHS.get(path, {}))
    try:
        assert sub.wait_s(5.0, 10) == 5.0              # the first update of S
        if path == "events on":
            sub.events(False)
            time.sleep(0.2)
        write_w_and_s(port, (6, 7, 8))
        if path == "events on":
            time.sleep(0.5)
            sub.events(True)
        got = sub.wait_s(8.0, 10)
        return got, sub.w_updates
    finally:
        sub.close()
        write_w_and_s(port, (5,))                      # back to S = 5 for the next path


@pytest.mark.parametrize("path", ["flushed at once", "writable", "events on"])
def test_last_value_arrives_after_flow_control(servers, path):
    got = {name: _run_path(port, path) for name, port in servers.items()}
    serve_report.record(
        "flow control: last S after W,S=6,7,8", path,
        f"S={got['catools serve'][0]} ({got['catools serve'][1]} W updates)",
        f"S={got['softIoc'][0]} ({got['softIoc'][1]} W updates)")
    assert got["softIoc"][0] == 8.0                    # the bar
    assert got["catools serve"][0] == 8.0
