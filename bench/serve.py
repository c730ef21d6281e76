"""Our server (``catools.server``) vs softIoc serving the same 1,000 updating PVs.

    python bench/serve.py [--pvs 1000] [--rate 10] [--clients 10] [--window 10]
                          [--getters 4] [--get-pvs 100] [--duration 5] [--rounds 1]

(a) Monitor fan-out: ``--clients`` C camonitor processes each subscribe to all PVs
    while the server updates every PV ``--rate`` times a second (softIoc: calc records
    CALC "VAL+1" on a scan period added to a copy of softIoc.dbd; ours: a Server with
    double PVs and one periodic callback that writes all of them, in a child process
    started by this script with ``--run-server``). Counted: lines the clients append
    during ``--window`` s after each has printed its initial values, i.e. updates/s
    delivered in all; server CPU % of one core from /proc.
(b) Concurrent caget: ``--getters`` workers each run C caget on their own ``--get-pvs``
    PVs over and over for ``--duration`` s; gets/s = PV values printed (runs that exit
    non-zero or print fewer lines count nothing) / duration.
Ratios are ours / softIoc. Every process runs on loopback with private ports.
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

ee = common.epics_env


def pv_names(n: int) -> list[str]:
    return [f"BENCH:CALC:{i:04d}" for i in range(n)]


# --------------------------------------------------------------------------- our server

def run_server(count: int, rate: float) -> None:
    """Child process: serve ``count`` double PVs, all written ``rate`` times a second."""
    from catools.config import ServerConfig
    from catools.server import PV, Server

    server = Server([PV(n, "double", 0.0, class_name="calc") for n in pv_names(count)],
                    config=ServerConfig.from_env(os.environ))
    pvs = list(server.pvs.values())
    value = [0.0]

    def update() -> None:
        value[0] += 1.0
        v = value[0]
        for pv in pvs:
            pv.write(v)

    server.add_periodic(1.0 / rate, update)
    server.bind()
    signal.signal(signal.SIGTERM, lambda *a: server.stop())
    signal.signal(signal.SIGINT, lambda *a: server.stop())
    server.serve_forever()


class OurServer:
    """``bench/serve.py --run-server`` on its own port pair with its own caRepeater."""

    def __init__(self, count: int, rate: float) -> None:
        self.caenv = ee.CaEnv()
        self.env = common.child_env(self.caenv.env)
        self.probe = pv_names(1)[0]
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--run-server", "--pvs", str(count), "--rate", str(rate)],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"our server exited with {self.proc.returncode}")
            if ee.udp_search(self.caenv.port, self.probe) is not None:
                return
        raise RuntimeError("our server did not answer a search")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> None:
        try:
            common.stop(self.proc)
        finally:
            self.caenv.close()


class IocServer:
    """softIoc with calc records scanning at ``rate`` Hz."""

    def __init__(self, count: int, rate: float, work: Path) -> None:
        period = f"{1.0 / rate:.6f}"  # e.g. "0.100000": never equal to a built-in choice
        dbd = common.scan_dbd([f"{period} second"], work)
        db = work / "serve.db"
        db.write_text("".join(f'record(calc, "{n}") {{ field(SCAN, "{period} second") '
                              f'field(CALC, "VAL+1") }}\n' for n in pv_names(count)))
        self.ioc = common.BenchIoc(db, dbd=dbd)
        self.ioc.start()
        self.env = common.child_env(self.ioc.env)

    @property
    def pid(self) -> int:
        return self.ioc.pid

    def close(self) -> None:
        self.ioc.close()


# --------------------------------------------------------------------------- measurements

def fanout(server, names, clients: int, window: float, work: Path) -> dict:
    procs, counters = [], []
    try:
        for i in range(clients):
            path = work / f"mon{i}.out"
            with open(path, "wb") as out:
                procs.append(subprocess.Popen(
                    [common.c_tool("camonitor"), *names], env=server.env,
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL,
                    start_new_session=True))
            counters.append(common.LineCounter(path))
        # wait until every client printed its initial values, then one more second
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(c.update() >= len(names) for c in counters):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"clients connected: {[c.lines for c in counters]}")
        time.sleep(1.0)
        l0 = [c.update() for c in counters]
        s0, t0 = common.proc_cpu(server.pid), time.monotonic()
        cc0 = sum(common.proc_cpu(p.pid) for p in procs)
        time.sleep(window)
        l1 = [c.update() for c in counters]
        s1, t1 = common.proc_cpu(server.pid), time.monotonic()
        cc1 = sum(common.proc_cpu(p.pid) for p in procs)
        dt = t1 - t0
        per = [(b - a) / dt for a, b in zip(l0, l1)]
        return {"total": sum(per), "min_client": min(per), "max_client": max(per),
                "server_cpu": 100 * (s1 - s0) / dt, "clients_cpu": 100 * (cc1 - cc0) / dt}
    finally:
        for p in procs:
            common.stop(p)
        for i in range(clients):
            (work / f"mon{i}.out").unlink(missing_ok=True)


def caget_throughput(server, names, getters: int, per: int, duration: float) -> dict:
    counts = [0] * getters
    runs = [0] * getters
    failures = [0] * getters
    stop_at = time.monotonic() + duration
    s0, t0 = common.proc_cpu(server.pid), time.monotonic()

    def worker(i: int) -> None:
        mine = names[(i * per) % len(names):][:per]
        cmd = [common.c_tool("caget"), "-w", "5", *mine]
        while time.monotonic() < stop_at:
            cp = subprocess.run(cmd, env=server.env, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=30)
            lines = cp.stdout.count(b"\n")
            runs[i] += 1
            if cp.returncode == 0 and lines == len(mine):
                counts[i] += lines
            else:
                failures[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(getters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    return {"gets": sum(counts) / dt, "runs": sum(runs), "failed": sum(failures),
            "server_cpu": 100 * (common.proc_cpu(server.pid) - s0) / dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pvs", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=10.0, help="updates/s of every PV")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--getters", type=int, default=4)
    ap.add_argument("--get-pvs", type=int, default=100)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--run-server", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_server:
        run_server(args.pvs, args.rate)
        return

    notes = [common.compile_sources()]
    print("# server benchmark: catools.server vs softIoc\n")
    print(common.machine_info() + "\n")
    names = pv_names(args.pvs)
    results: dict[str, dict[str, list[dict]]] = {"softIoc": {}, "ours": {}}
    kinds = list(results)
    for r in range(args.rounds):
        for kind in kinds[r % 2:] + kinds[:r % 2]:
            work = Path(tempfile.mkdtemp(prefix=f"bench-serve-{kind}-"))
            server = (IocServer(args.pvs, args.rate, work) if kind == "softIoc"
                      else OurServer(args.pvs, args.rate))
            try:
                fo = fanout(server, names, args.clients, args.window, work)
                cg = caget_throughput(server, names, args.getters, args.get_pvs,
                                      args.duration)
            finally:
                server.close()
            results[kind].setdefault("fanout", []).append(fo)
            results[kind].setdefault("caget", []).append(cg)
            print(f"  round {r + 1} {kind}: fan-out {fo['total']:,.0f} upd/s, "
                  f"caget {cg['gets']:,.0f} gets/s", file=sys.stderr, flush=True)

    print("\n".join(notes))
    offered = args.pvs * args.rate
    print(f"{args.pvs:,} PVs updated {args.rate:g} times/s ({offered:,.0f} updates/s per "
          f"subscriber; {offered * args.clients:,.0f}/s to {args.clients} clients). "
          f"Fan-out window {args.window:g} s; caget: {args.getters} parallel workers x "
          f"{args.get_pvs} PVs per C caget run, {args.duration:g} s; {args.rounds} round(s).\n")

    def med(kind, test, key):
        return common.stat3(x[key] for x in results[kind][test])[0]

    rows = []
    for test, key, label in (("fanout", "total", "(a) monitor fan-out, updates/s delivered"),
                             ("caget", "gets", "(b) concurrent caget, PV gets/s")):
        s, o = med("softIoc", test, key), med("ours", test, key)
        rows.append([label, f"{s:,.0f}", f"{o:,.0f}", f"{o / s:.3f}",
                     f"{med('softIoc', test, 'server_cpu'):.0f}",
                     f"{med('ours', test, 'server_cpu'):.0f}"])
    print(common.md_table(["test", "softIoc", "ours", "ours / softIoc",
                           "softIoc CPU %", "our server CPU %"], rows))
    print()
    for kind in kinds:
        fo, cg = results[kind]["fanout"], results[kind]["caget"]
        print(f"{kind}: fan-out per client min/max {med(kind, 'fanout', 'min_client'):,.0f}"
              f" / {med(kind, 'fanout', 'max_client'):,.0f} upd/s, {args.clients} clients' CPU "
              f"{med(kind, 'fanout', 'clients_cpu'):.0f}%; caget runs "
              f"{sum(x['runs'] for x in cg)}, failed {sum(x['failed'] for x in cg)}")


if __name__ == "__main__":
    main()
