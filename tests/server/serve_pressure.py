"""Memory and stall pressure on a server (issue 18, 2), for tests and bench/serve_pressure.py.

Nothing here imports catools: the same loads run against ``catools serve`` and softIoc.
A server here is any object with ``port``, ``pid`` and ``env``; :class:`Ours` and
:class:`Theirs` start one of each serving ``big`` (DOUBLE[n]), ``small`` (DOUBLE[7000],
a 56 kB reply) and ``counter`` (a long).
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from array import array
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import epics_env as ee
import hostile

SMALL = 7000
DB = """record(waveform, "big") {{ field(FTVL, "DOUBLE") field(NELM, "{n}") }}
record(waveform, "small") {{ field(FTVL, "DOUBLE") field(NELM, "{small}") }}
record(longout, "counter") {{ field(VAL, "7") }}
"""
SERVE = [sys.executable, "-c", "from catools.cli.serve import serve; serve()"]


class Ours:
    """``catools serve`` in a subprocess with big, small and counter."""

    name = "catools serve"

    def __init__(self, elements: int, workdir: Path, extra_env: dict | None = None) -> None:
        self.port, self.rport = ee.free_port_pair()
        self.env = {**ee.make_env(self.port, self.rport), **(extra_env or {})}
        pvfile = workdir / f"pressure-{self.port}.json"
        pvfile.write_text(json.dumps({"pv": [
            {"name": "big", "type": "double", "count": elements},
            {"name": "small", "type": "double", "count": SMALL},
            {"name": "counter", "type": "long", "value": 7}]}))
        self.log_path = workdir / f"serve-{self.port}.log"
        self.log = open(self.log_path, "wb")
        self.repeater = ee.start_repeater(self.env)
        self.proc = subprocess.Popen([*SERVE, str(pvfile)], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while ee.udp_search(self.port, "counter") is None:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("catools serve did not start")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        ee.terminate(self.proc)
        ee.terminate(self.repeater)
        self.log.close()
        ee.release_port(self.port)
        ee.release_port(self.rport)


class Theirs:
    """softIoc with the equivalent records."""

    name = "softIoc"

    def __init__(self, elements: int, workdir: Path, extra_env: dict | None = None) -> None:
        db = workdir / f"pressure-{elements}.db"
        db.write_text(DB.format(n=elements, small=SMALL))
        self.ioc = ee.SoftIoc(db, probe_pv="counter", log_dir=workdir)
        self.ioc.env.update(extra_env or {})
        self.ioc.start()
        self.port, self.env = self.ioc.port, self.ioc.env

    @property
    def pid(self) -> int:
        return self.ioc.pid

    def log_text(self) -> str:
        return self.ioc.log()

    def close(self) -> None:
        self.ioc.close()


# --------------------------------------------------------------------------- measures

def peak_mb(pid: int) -> float:
    """VmHWM (peak resident set) of ``pid`` in MB."""
    return hostile.vm_kb(pid, "VmHWM") / 1024


def rss_mb(pid: int) -> float:
    return hostile.vm_kb(pid, "VmRSS") / 1024


def reset_peak(pid: int) -> float:
    """Reset VmHWM to the current resident set (Linux clear_refs 5); returns it in MB."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    return peak_mb(pid)


class Prober:
    """Another client: reads ``counter`` every ``period`` s in a thread and keeps the
    longest wait for an answer (``worst``, s); a read never answered counts as
    ``timeout``."""

    def __init__(self, port: int, period: float = 0.05, timeout: float = 30.0) -> None:
        self.sock, self.reader, self.sid, self.dtype, _ = hostile.open_channel(port,
                                                                               "counter")
        self.period, self.timeout = period, timeout
        self.worst = 0.0
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ioid = 1
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                self.sock.sendall(hostile.header(hostile.CMD_READ_NOTIFY, 0, 5, 1,
                                                 self.sid, ioid))
                got = self.reader.next(self.timeout)
            except OSError:
                got = None
            took = time.monotonic() - start
            self.worst = max(self.worst, took if got is not None else self.timeout)
            if got is None:
                return
            self.answered += 1
            ioid += 1
            self._stop.wait(self.period)

    def close(self) -> float:
        """Stop; the longest wait seen."""
        self._stop.set()
        self._thread.join(self.timeout + 5)
        self.sock.close()
        return self.worst


def doubles(count: int, start: float = 0.5) -> bytes:
    """``count`` distinct doubles, big-endian."""
    values = array("d", range(count))
    values = array("d", (v * 0.25 + start for v in values))
    if sys.byteorder == "little":
        values.byteswap()
    return values.tobytes()


def write(port: int, name: str, payload: bytes, count: int, dtype: int = 6,
          timeout: float = 120.0) -> int:
    """WRITE_NOTIFY of a prepared payload; the status answered."""
    sock, reader, sid, _dtype, _count = hostile.open_channel(port, name, timeout=timeout)
    try:
        sock.settimeout(timeout)
        size = len(payload) + (-len(payload) % 8)
        sock.sendall(hostile.header(hostile.CMD_WRITE_NOTIFY, size, dtype, count, sid, 5))
        sock.sendall(payload)
        sock.sendall(bytes(size - len(payload)))
        return reader.until(hostile.CMD_WRITE_NOTIFY, timeout)[3]
    finally:
        sock.close()


def read(port: int, name: str, dtype: int, count: int, timeout: float = 120.0
         ) -> tuple[int, int, int, bytes]:
    """READ_NOTIFY: ``(status, count, payload bytes, first 40 value bytes)``."""
    sock, reader, sid, _dtype, _count = hostile.open_channel(port, name, timeout=timeout)
    try:
        sock.sendall(hostile.header(hostile.CMD_READ_NOTIFY, 0, dtype, count, sid, 9))
        _cmd, _dtype, got, status, _ioid, body = reader.until(hostile.CMD_READ_NOTIFY,
                                                              timeout)
        return status, got, len(body), body[:40]
    finally:
        sock.close()


@contextmanager
def slow_readers(port: int, name: str, clients: int, reads: int, dtype: int,
                 count: int) -> Iterator[list[socket.socket]]:
    """``clients`` circuits that each pipeline ``reads`` READ_NOTIFYs of ``name`` and
    never read (4 kB receive buffers)."""
    socks = []
    try:
        for _ in range(clients):
            sock, _reader, sid, _dtype, _count = hostile.open_channel(port, name, rcvbuf=4096)
            socks.append(sock)
            sock.sendall(b"".join(hostile.header(hostile.CMD_READ_NOTIFY, 0, dtype, count,
                                                 sid, i) for i in range(reads)))
        yield socks
    finally:
        for sock in socks:
            sock.close()


# --------------------------------------------------------------------------- loads

def big_string_read(server: Any, elements: int) -> dict[str, Any]:
    """Fill ``big`` (DOUBLE[elements]), then one READ_NOTIFY of it all as DBR_STRING
    while another client reads ``counter`` every 50 ms. Peak RSS over the read."""
    status = write(server.port, "big", doubles(elements), elements)
    assert status == hostile.ECA_NORMAL, status
    before = reset_peak(server.pid)
    prober = Prober(server.port)
    start = time.monotonic()
    got = read(server.port, "big", 0, elements, timeout=300)
    took = time.monotonic() - start
    worst = prober.close()
    return {"before_mb": before, "peak_mb": peak_mb(server.pid), "seconds": took,
            "worst_wait": worst, "reply": got}


def big_write(server: Any, elements: int) -> dict[str, Any]:
    """One WRITE_NOTIFY of ``big`` (DOUBLE[elements], 8 bytes each) while another client
    reads ``counter`` every 50 ms. Peak RSS over the write, from the RSS before it."""
    payload = doubles(elements, 1.5)
    write(server.port, "big", doubles(elements), elements)          # the value it replaces
    before = reset_peak(server.pid)
    prober = Prober(server.port)
    start = time.monotonic()
    status = write(server.port, "big", payload, elements, timeout=300)
    took = time.monotonic() - start
    worst = prober.close()
    return {"before_mb": before, "peak_mb": peak_mb(server.pid), "seconds": took,
            "worst_wait": worst, "status": status, "payload_mb": len(payload) / 2**20}


def slow_clients(server: Any, name: str, clients: int, reads: int, dtype: int,
                 count: int, settle: float = 3.0) -> dict[str, Any]:
    """``clients`` slow readers pipelining ``reads`` reads each; peak RSS growth, and
    whether another client is still answered meanwhile."""
    before = reset_peak(server.pid)
    with slow_readers(server.port, name, clients, reads, dtype, count):
        time.sleep(settle)
        prober = Prober(server.port)
        time.sleep(0.5)
        worst = prober.close()
        peak = peak_mb(server.pid)
    return {"before_mb": before, "peak_mb": peak, "growth_mb": peak - before,
            "worst_wait": worst}
