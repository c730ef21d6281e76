"""Soak: our camonitor on 1,000 PVs for 30 minutes while one softIoc is restarted every
minute (issue 18). Each minute it prints the camonitor's open fds, RSS and threads; any
growth of these is a bug. Not a CI test: run it by hand (``--minutes 5`` for a short run).

Loopback only (tests/epics_env.py: the loopback-only EPICS variables, free ports): --iocs softIocs,
each on its own server port, share one caRepeater; the client's EPICS_CA_ADDR_LIST names
``127.0.0.1:<port>`` of each. Every record is a ``calc`` counting up once a second, so the
client sees --pvs updates a second. Every --interval seconds (60) the script samples the
client from /proc (fds = entries of /proc/<pid>/fd; VmRSS, VmHWM and Threads of
/proc/<pid>/status; CPU s), counts the lines and ``*** disconnected`` lines it printed in
that minute and how many PVs are disconnected at that moment, then restarts the next IOC
(round robin: SIGTERM, start again on the same port) and notes how long until it answers
a search again. Every process is stopped by PID at the end, also on error or SIGTERM.

Exit status 1 if the fd or thread count at the end is above the one after the first
minute, or if PVs are still disconnected at the last sample; RSS growth is reported
(MiB per minute, from the first minute on) for a human to judge.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

epics_env = common.epics_env
DISCONNECTED = b"*** disconnected"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Ioc:
    """One softIoc on its own server port (the repeater is shared); restartable."""

    def __init__(self, index: int, db: Path, per_ioc: int, repeater_port: int,
                 workdir: Path) -> None:
        self.prefix = f"SOAK{index}:"
        self.probe = f"{self.prefix}000"
        self.db, self.workdir = db, workdir
        self.port = epics_env.free_port(tcp=True, udp=True)
        self.env = epics_env.make_env(self.port, repeater_port)
        self.names = [f"{self.prefix}{i:03d}" for i in range(per_ioc)]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> float:
        """Start the softIoc; seconds until it answered a search."""
        started = time.monotonic()
        cmd = [str(epics_env.c_tool_path("softIoc")), "-D",
               str(epics_env.epics_dbd_dir() / "softIoc.dbd"), "-S", "-m",
               f"P={self.prefix}", "-d", str(self.db)]
        with open(self.workdir / f"ioc-{self.port}.log", "ab") as out:
            self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         cwd=str(self.workdir), start_new_session=True)
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"softIoc {self.prefix} exited {self.proc.returncode}")
            if epics_env.udp_search(self.port, self.probe) is not None:
                return time.monotonic() - started
        raise RuntimeError(f"softIoc {self.prefix} did not answer within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None:
            epics_env.terminate(self.proc)

    def close(self) -> None:
        self.stop()
        epics_env.release_port(self.port)


class Watch:
    """Reads the camonitor's stdout: lines and disconnects so far, and each PV's state."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines = 0
        self.disconnects = 0
        self.connected: dict[bytes, bool] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        rest = b""
        fd = self.proc.stdout.fileno()
        for block in iter(lambda: os.read(fd, 1 << 16), b""):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            with self.lock:
                for line in lines:
                    self.lines += 1
                    name = line.split(b" ", 1)[0]
                    down = line.endswith(DISCONNECTED) or line.endswith(b"(PV not found)")
                    self.disconnects += line.endswith(DISCONNECTED)
                    self.connected[name] = not down

    def snapshot(self) -> tuple[int, int, int, int]:
        """(lines, disconnect lines, PVs seen, PVs disconnected now)."""
        with self.lock:
            down = sum(1 for ok in self.connected.values() if not ok)
            return self.lines, self.disconnects, len(self.connected), down


def proc_sample(pid: int) -> dict[str, float]:
    """fds, VmRSS/VmHWM (MiB), threads and CPU s of a live process."""
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.split()
    return {"fds": len(os.listdir(f"/proc/{pid}/fd")),
            "rss": int(status["VmRSS"][0]) / 1024, "hwm": int(status["VmHWM"][0]) / 1024,
            "threads": int(status["Threads"][0]), "cpu": common.proc_cpu(pid)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=int, default=30, help="length of the soak (default 30)")
    p.add_argument("--pvs", type=int, default=1000, help="PVs monitored (default 1000)")
    p.add_argument("--iocs", type=int, default=4, help="softIocs (default 4)")
    p.add_argument("--no-restart", action="store_true",
                   help="restart no IOC (a control run: what growth is not due to restarts)")
    p.add_argument("--interval", type=float, default=60.0,
                   help="seconds between samples and IOC restarts (default 60)")
    return p.parse_args(argv)


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def soak(args: argparse.Namespace, workdir: Path, iocs: list[Ioc],
         repeater_port: int) -> int:
    """Start the IOCs and the camonitor, sample and restart; print the table."""
    for ioc in iocs:
        ioc.start()
    names = [n for ioc in iocs for n in ioc.names]
    env = common.child_env(epics_env.make_env(iocs[0].port, repeater_port, extra={
        "EPICS_CA_ADDR_LIST": " ".join(f"127.0.0.1:{ioc.port}" for ioc in iocs)}))
    with open(workdir / "camonitor.err", "wb") as err:
        proc = subprocess.Popen([common.venv_tool("camonitor"), *names], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True)
    try:
        watch = Watch(proc)
        start = time.monotonic()
        while watch.snapshot()[2] < len(names) or watch.snapshot()[3]:
            if time.monotonic() - start > 60 or proc.poll() is not None:
                raise RuntimeError(f"camonitor: not all first values: {watch.snapshot()}")
            time.sleep(0.1)
        log(f"all {len(names)} first values after {time.monotonic() - start:.2f} s")
        rows, restarted, last_lines, last_disc = [], "—", 0, 0
        for minute in range(args.minutes + 1):
            if minute:
                time.sleep(max(0.0, start + minute * args.interval - time.monotonic()))
            if proc.poll() is not None:
                raise RuntimeError(f"camonitor exited {proc.returncode}")
            sample = proc_sample(proc.pid)
            lines, disc, _, down = watch.snapshot()
            rows.append((minute, sample, lines - last_lines, disc - last_disc, down, restarted))
            last_lines, last_disc = lines, disc
            log(f"minute {minute}: {sample} lines {rows[-1][2]} disconnects {rows[-1][3]} "
                f"down {down}")
            if minute < args.minutes and not args.no_restart:
                ioc = iocs[minute % len(iocs)]
                ioc.stop()
                restarted = f"{ioc.prefix} (up in {ioc.start():.2f} s)"
    finally:
        common.stop(proc)
    return report(args, rows, len(names))


def report(args: argparse.Namespace, rows: list, pvs: int) -> int:
    restarts = ("no IOC restarted" if args.no_restart
                else f"an IOC restarted every {args.interval:g} s")
    print(f"# Soak: our camonitor on {pvs} PVs ({args.iocs} softIocs on loopback, "
          f"updates 1/s each), {restarts}\n\n{common.machine_info()}\n")
    sample = "minute" if args.interval == 60 else f"sample (every {args.interval:g} s)"
    print(common.md_table(
        [sample, "fds", "RSS MiB", "peak RSS MiB", "threads", "CPU s", "lines",
         "disconnect lines", "PVs down at sample", "IOC restarted before"],
        [(m, s["fds"], f"{s['rss']:.1f}", f"{s['hwm']:.1f}", s["threads"], f"{s['cpu']:.1f}",
          n, d, down, r) for m, s, n, d, down, r in rows]))
    first = rows[min(1, len(rows) - 1)]
    ref, last = first[1], rows[-1][1]
    span = max(1, rows[-1][0] - first[0]) * args.interval / 60
    grew = [k for k in ("fds", "threads") if last[k] > ref[k]]
    print(f"\nFrom sample {first[0]} to {rows[-1][0]}: fds "
          f"{ref['fds']} -> {last['fds']}, threads {ref['threads']} -> {last['threads']}, "
          f"RSS {ref['rss']:.1f} -> {last['rss']:.1f} MiB "
          f"({(last['rss'] - ref['rss']) / span:+.2f} MiB/minute).")
    if rows[-1][4]:
        print(f"{rows[-1][4]} PVs still disconnected at the last sample.")
    if grew:
        print(f"GROWTH: {', '.join(grew)}")
    return 1 if grew or rows[-1][4] else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    per_ioc = -(-args.pvs // args.iocs)
    if per_ioc > 1000:
        raise SystemExit("soak: at most 1000 PVs per IOC")
    iocs: list[Ioc] = []
    repeater = None
    repeater_port = epics_env.free_port(tcp=False, udp=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(tmp)
        db = workdir / "soak.db"
        db.write_text("".join(f'record(calc,"$(P){i:03d}"){{field(SCAN,"1 second")'
                              f'field(CALC,"VAL+1")}}\n' for i in range(per_ioc)))
        try:
            repeater = epics_env.start_repeater(epics_env.make_env(0, repeater_port))
            for k in range(args.iocs):
                iocs.append(Ioc(k, db, min(per_ioc, args.pvs - k * per_ioc),
                                repeater_port, workdir))
            return soak(args, workdir, iocs, repeater_port)
        finally:
            for ioc in iocs:
                ioc.close()
            common.stop(repeater)
            epics_env.release_port(repeater_port)


if __name__ == "__main__":
    sys.exit(main())
