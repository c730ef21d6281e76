"""Scale: N PVs over several softIocs on several hosts (network namespaces), read by one
camonitor and one caget, ours against EPICS base's C tools in the same run (issue 18).

Layout: the multi-host rig of tests/netns (a bridge, one namespace per host, addresses in
198.18.0.0/24, nothing in the root namespace), built under namespace names unique to this
process (``cascale-<pid>-…``) and torn down on exit, on error, on SIGTERM/SIGINT and when
the --deadline passes. IOC k runs on host k mod --hosts; each serves N/--iocs ``ai``
records ``S<k>:<index>`` (PINI, so every value and time stamp is fixed). Clients run one
at a time in a client namespace, searching by broadcast (EPICS_CA_ADDR_LIST = the rig's
broadcast address, AUTO_ADDR_LIST=NO); every name is on the command line (the client's
stack limit is raised so that ARG_MAX holds 100,000 names).

Measured for each tool:

* camonitor: wall time from spawn until every PV has printed a value line (the reader
  parses stdout as it arrives; "Not connected" lines do not count), peak RSS = VmHWM of
  the client process read at that moment (``ip netns exec`` execs the tool in place, so
  the PID is the tool's) or the largest read every 10 ms before (an exec, as our
  camonitor's on a long command line, starts a new VmHWM), CPU s of the process until
  then.
* caget: wall time from spawn to reap with ``-w --wait``; peak RSS = ``wait4``
  ru_maxrss of the direct child; CPU = ru_utime + ru_stime; output checked (one value
  line for each PV).

Needs root and ``ip netns``. Tables to stdout (markdown), progress to stderr.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

sys.path.insert(0, str(common.REPO / "tests" / "netns"))
import netns_rig  # noqa: E402
from netns_rig import BROADCAST, Host, Rig, client_env  # noqa: E402

#: Stack limit given to the clients: ARG_MAX is a quarter of it.
CLIENT_STACK = 32 << 20
NOT_CONNECTED = b"*** Not connected (PV not found)"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Result:
    """One client run: seconds to all first values (None if not reached), peak RSS MiB,
    CPU s, values seen, and a note."""

    tool: str
    wall: float | None
    rss_mib: float
    cpu: float
    seen: int
    note: str = ""


# --------------------------------------------------------------------------- the rig

def write_db(path: Path, per_ioc: int) -> int:
    """The IOC database: ``per_ioc`` ai records ``$(P)<index>``; returns the index width."""
    width = len(str(per_ioc - 1))
    with open(path, "w") as f:
        for i in range(per_ioc):
            f.write(f'record(ai,"$(P){i:0{width}d}"){{field(VAL,"{i}")field(PINI,"YES")}}\n')
    return width


def build(rig: Rig, pvs: int, iocs: int, hosts: int) -> tuple[Host, list[str]]:
    """Hosts, repeaters and IOCs; returns the client host and every PV name."""
    per_ioc = -(-pvs // iocs)
    width = write_db(rig.workdir / "scale.db", per_ioc)
    host_list = [rig.add_host(f"h{h}", h + 1) for h in range(hosts)]
    client = rig.add_host("cl", 100)
    for host in (*host_list, client):
        rig.start_repeater(host)
    names: list[str] = []
    for k in range(iocs):
        count = min(per_ioc, pvs - len(names))
        if count <= 0:
            break
        prefix = f"S{k}:"
        ioc = rig.add_ioc(host_list[k % hosts], f"ioc{k}", [rig.workdir / "scale.db"],
                          {"P": prefix})
        started = time.monotonic()
        rig.start_ioc(ioc, client, f"{prefix}{0:0{width}d}", timeout=120.0)
        log(f"IOC {prefix} ({per_ioc} records) on {ioc.host.ns} up in "
            f"{time.monotonic() - started:.1f} s")
        names += [f"{prefix}{i:0{width}d}" for i in range(count)]
    return client, names


def _big_stack() -> None:
    resource.setrlimit(resource.RLIMIT_STACK, (CLIENT_STACK, CLIENT_STACK))


def vm_hwm_mib(pid: int) -> float:
    """VmHWM (peak RSS) of a live process, MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


# --------------------------------------------------------------------------- clients

class FirstValues:
    """Reads a camonitor's stdout as it arrives; notes when every name has printed a
    value line."""

    def __init__(self, proc: subprocess.Popen, names: list[str]) -> None:
        self.proc = proc
        self.pending = {n.encode() for n in names}
        self.done = threading.Event()
        self.when: float | None = None
        self.lines = 0
        self.errors = bytearray()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        rest = b""
        fd = self.proc.stdout.fileno()
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                self.lines += 1
                if not line.endswith(NOT_CONNECTED):
                    self.pending.discard(line.split(b" ", 1)[0])
            if not self.pending and self.when is None:
                self.when = time.monotonic()
                self.done.set()
        self.done.set()

    def _read_err(self) -> None:
        for block in iter(lambda: os.read(self.proc.stderr.fileno(), 65536), b""):
            if len(self.errors) < 65536:
                self.errors += block


class PeakWatch:
    """The largest VmHWM of a process, read every 10 ms until stopped: an exec starts a
    new VmHWM (our camonitor runs again on a long command line, see cli/_argv.py), so
    the one read at the end alone could miss the peak before it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self.stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, vm_hwm_mib(self.pid))
            except (OSError, RuntimeError):
                pass
            self.stop.wait(0.01)


def run_camonitor(rig: Rig, client: Host, tool: str, argv: list[str], names: list[str],
                  env: dict[str, str], timeout: float) -> Result:
    start = time.monotonic()
    proc = rig.popen(client, [*argv, *names], env, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, preexec_fn=_big_stack)
    watch = PeakWatch(proc.pid)
    reader = FirstValues(proc, names)
    try:
        reader.done.wait(timeout)
        watch.stop.set()
        alive = proc.poll() is None
        rss = max(watch.peak, vm_hwm_mib(proc.pid)) if alive else 0.0
        cpu = common.proc_cpu(proc.pid) if alive else 0.0
    finally:
        netns_rig._kill(proc)
    wall = reader.when - start if reader.when is not None else None
    seen = len(names) - len(reader.pending)
    note = "" if wall is not None else (
        f"only {seen} of {len(names)} within {timeout:.0f} s"
        + ("" if alive else f", exited {proc.returncode}: {bytes(reader.errors[:300])!r}"))
    return Result(tool, wall, rss, cpu, seen, note)


_VALUE = re.compile(rb"^(\S+) +\S")


def run_caget(rig: Rig, client: Host, tool: str, argv: list[str], names: list[str],
              env: dict[str, str], wait: float, timeout: float, workdir: Path) -> Result:
    out_path = workdir / "caget.out"
    with open(out_path, "wb") as out, open(workdir / "caget.err", "wb") as err:
        start = time.monotonic()
        proc = rig.popen(client, [*argv, "-w", str(wait), *names], env, stdout=out,
                         stderr=err, preexec_fn=_big_stack)
        timer = threading.Timer(timeout, os.kill, (proc.pid, signal.SIGKILL))  # not yet reaped
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        netns_rig._kill(proc)
    seen = set()
    with open(out_path, "rb") as f:
        for line in f:
            m = _VALUE.match(line)
            if m:
                seen.add(m.group(1))
    missing = len(names) - len(seen & {n.encode() for n in names})
    ok = proc.returncode == 0 and missing == 0
    note = "" if ok else (f"exit {proc.returncode}, {missing} names without a value: "
                          f"{(workdir / 'caget.err').read_bytes()[:300]!r}")
    return Result(tool, wall if ok else None, usage.ru_maxrss / 1024,
                  usage.ru_utime + usage.ru_stime, len(names) - missing, note)


# --------------------------------------------------------------------------- report

def _cell(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def report(kind: str, rounds: list[dict[str, Result]], target: str, label: str = "ours"
           ) -> str:
    """Per round: ours (``label``) and C side by side with the ratios; then the median
    ratios."""
    rows, walls, rsss = [], [], []
    for n, res in enumerate(rounds, 1):
        c, ours = res["C"], res[label]
        wall, rss = _ratio(ours.wall, c.wall), _ratio(ours.rss_mib, c.rss_mib)
        walls += [wall] if wall is not None else []
        rsss += [rss] if rss is not None else []
        rows.append((n, _cell(c.wall, ".2f"), _cell(ours.wall, ".2f"), _cell(wall, ".2f"),
                     f"{c.rss_mib:.1f}", f"{ours.rss_mib:.1f}", _cell(rss, ".2f"),
                     f"{c.cpu:.2f}", f"{ours.cpu:.2f}",
                     "; ".join(f"{r.tool}: {r.note}" for r in (c, ours) if r.note)))
    summary = (f"Median ours/C over {len(rounds)} round(s): time "
               f"{_cell(statistics.median(walls) if walls else None, '.2f')}x, peak RSS "
               f"{_cell(statistics.median(rsss) if rsss else None, '.2f')}x. Target: {target}.")
    return (f"### {kind}\n\n" + common.md_table(
        ["round", "C s", "ours s", "ours/C", "C peak RSS MiB", "ours peak RSS MiB",
         "ours/C", "C CPU s", "ours CPU s", "note"], rows) + f"\n\n{summary}\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pvs", type=int, default=100_000, help="PVs in all (default 100000)")
    p.add_argument("--iocs", type=int, default=10, help="softIocs (default 10)")
    p.add_argument("--hosts", type=int, default=5, help="host namespaces (default 5)")
    p.add_argument("--rounds", type=int, default=1, help="runs of each client (default 1)")
    p.add_argument("--wait", type=float, default=300.0,
                   help="-w given to every client (default 300 s)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds one client run may take (default 600)")
    p.add_argument("--deadline", type=float, default=3600.0,
                   help="the whole script stops (and tears down) after this (default 3600 s)")
    p.add_argument("--tools", default="camonitor,caget",
                   help="which of camonitor,caget to measure (default both)")
    p.add_argument("--ours-src", metavar="DIR", default=None,
                   help="run our tools on the catools package under DIR (a src/ tree, put "
                        "first on PYTHONPATH) instead of the venv's install")
    p.add_argument("--variant", metavar="LABEL=DIR", action="append", default=[],
                   help="also run our tools on the src/ tree DIR, reported as LABEL beside "
                        "C (repeatable; e.g. a baseline commit's `git archive` for an A/B)")
    return p.parse_args(argv)


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reason = netns_rig.netns_available()
    if reason is not None:
        print(f"scale_netns: {reason}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGALRM, _interrupt)
    signal.alarm(int(args.deadline))
    note = common.compile_sources()
    env = common.child_env(client_env(auto=False, addr_list=BROADCAST))
    tools = {"C": common.c_tool, "ours": common.venv_tool}
    sources = {"ours": args.ours_src} if args.ours_src else {}
    for variant in args.variant:
        label, _, src = variant.partition("=")
        if not label or not src or label in tools:
            print(f"scale_netns: bad --variant {variant!r}", file=sys.stderr)
            return 2
        tools[label] = common.venv_tool
        sources[label] = src
    envs = {label: env if label not in sources else {**env, "PYTHONPATH": sources[label]}
            for label in tools}
    for src in sources.values():        # (byte-compiled as src/ is)
        subprocess.run([sys.executable, "-m", "compileall", "-q", src], check=True)
    results: dict[str, list[dict[str, Result]]] = {"camonitor": [], "caget": []}
    with tempfile.TemporaryDirectory(prefix="scale-netns-") as tmp:
        rig = Rig(Path(tmp), prefix=f"cascale-{os.getpid()}")
        try:
            client, names = build(rig, args.pvs, args.iocs, args.hosts)
            for rnd in range(args.rounds):
                order = list(tools.items())[::1 if rnd % 2 == 0 else -1]
                for kind in args.tools.split(","):
                    results[kind].append({})
                    for label, path in order:
                        log(f"round {rnd + 1}: {label} {kind} on {len(names)} PVs")
                        if kind == "camonitor":
                            res = run_camonitor(rig, client, label, [path("camonitor"), "-w",
                                                str(args.wait)], names, envs[label],
                                                args.timeout)
                        else:
                            res = run_caget(rig, client, label, [path("caget")], names,
                                            envs[label], args.wait, args.timeout, Path(tmp))
                        log(f"  {res}")
                        results[kind][-1][label] = res
        finally:
            signal.alarm(0)
            rig.teardown()
            log("rig torn down")
    print(f"# Scale on the namespace rig: {args.pvs} PVs, {args.iocs} softIocs, "
          f"{args.hosts} hosts\n\n{common.machine_info()}; {note}\n")
    if args.ours_src:
        print(f"ours: the catools of {args.ours_src}\n")
    for label in tools:
        if label == "C":
            continue
        title = "" if label == "ours" else f" ({label}: the catools of {sources[label]})"
        if results["camonitor"]:
            print(report("camonitor" + title, results["camonitor"],
                         "peak RSS <= 2x C camonitor's, all first values within 2x C's time",
                         label))
        if results["caget"]:
            print(report("caget" + title, results["caget"], "all values within 2x C caget's "
                         "time (the issue's RSS target names camonitor)", label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
