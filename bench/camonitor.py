"""Monitor throughput (W4): C camonitor vs our camonitor (text and --json),
caproto-monitor and pyepics, each printing every update to a file.

    python bench/camonitor.py [--records 200] [--window 10] [--rounds 3] [--warmup 2]
                              [--max-records 1600]

A softIoc runs R calc records (CALC "VAL+1") scanning every 1 ms through a copy of
softIoc.dbd whose menu(menuScan) has an extra ".001 second" choice, so R = 200 offers
~200,000 updates/s. Each client subscribes to all R records with stdout redirected to a
file; after ``--warmup`` s the lines it appends during ``--window`` s are counted.
Offered rate: one record's VAL read (C caget) at the window's start and end, times R.
CPU % (of one core): utime+stime from /proc/<pid>/stat over the window, for the client
and the IOC. Clients run one at a time, order rotated each round. Each client's CPU per
update (µs) is given beside its rate, and whether it received all that was offered.
While no client (a ``--baseline`` one aside) is client-bound, the offered rate is raised
(twice the records, up to ``--max-records``) and the rounds run again.
"""
from __future__ import annotations

import argparse
import importlib.util
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

PYEPICS_SCRIPT = r"""
import sys, time, epics
write = sys.stdout.write
def cb(pvname=None, value=None, timestamp=None, **kw):
    write(f"{pvname} {timestamp} {value}\n")
pvs = [epics.PV(n, callback=cb, form="time", auto_monitor=True) for n in sys.argv[1:]]
try:
    while True:
        time.sleep(1)
except KeyboardInterrupt:
    pass
"""


def write_db(path: Path, n: int) -> list[str]:
    names = [f"BENCH:CALC:{i:03d}" for i in range(n)]
    path.write_text("".join(f'record(calc, "{name}") {{ field(SCAN, ".001 second") '
                            f'field(CALC, "VAL+1") }}\n' for name in names))
    return names


def clients(names: list[str], with_pyepics: bool, baseline: str | None = None,
            caproto: bool = True) -> dict[str, list[str]]:
    out = {"C camonitor": [common.c_tool("camonitor"), *names],
           "our camonitor": [common.venv_tool("camonitor"), *names],
           "our camonitor --json": [common.venv_tool("camonitor"), "--json", *names]}
    if baseline:            # another install (the code before a change), same rounds
        tool = str(Path(baseline) / "camonitor")
        out["baseline camonitor"] = [tool, *names]
        out["baseline camonitor --json"] = [tool, "--json", *names]
    if caproto:
        out["caproto-monitor"] = [common.venv_tool("caproto-monitor"), *names]
    if with_pyepics:
        out["pyepics (print each update)"] = [sys.executable, "-c", PYEPICS_SCRIPT, *names]
    return out


def read_value(env: dict, name: str) -> tuple[float, float]:
    """(monotonic time at the middle of the read, value) using C caget."""
    t0 = time.monotonic()
    cp = subprocess.run([common.c_tool("caget"), "-t", "-w", "5", name], env=env,
                        capture_output=True, timeout=10)
    t1 = time.monotonic()
    return (t0 + t1) / 2, float(cp.stdout.split()[0])


def measure(cmd, env, ioc_pid, probe, nrec, window, warmup, workdir) -> dict:
    out_path = Path(workdir) / "monitor.out"
    err_path = Path(workdir) / "monitor.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, start_new_session=True)
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[:2]} exited early with {proc.returncode}: "
                               f"{err_path.read_text(errors='replace')[-2000:]}")
        counter = common.LineCounter(out_path)
        ta, va = read_value(env, probe)
        l0, c0, i0, w0 = counter.update(), common.proc_cpu(proc.pid), \
            common.proc_cpu(ioc_pid), time.monotonic()
        time.sleep(window)
        l1, c1, i1, w1 = counter.update(), common.proc_cpu(proc.pid), \
            common.proc_cpu(ioc_pid), time.monotonic()
        tb, vb = read_value(env, probe)
        dt = w1 - w0
        return {"received": (l1 - l0) / dt, "offered": (vb - va) / (tb - ta) * nrec,
                "client_cpu": 100 * (c1 - c0) / dt, "ioc_cpu": 100 * (i1 - i0) / dt}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                common.stop(proc)
        out_path.unlink(missing_ok=True)


def saturated(client_cpu: float, ioc_cpu: float, received: float, offered: float) -> str:
    if received >= 0.97 * offered:
        return "neither: received all offered"
    if client_cpu >= 80 and client_cpu >= ioc_cpu:
        return "client"
    if ioc_cpu >= 80:
        return "IOC"
    return "neither at 80%: latency/scheduling"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=200)
    ap.add_argument("--max-records", type=int, default=1600,
                    help="raise the records (x2) up to this while no client is client-bound")
    ap.add_argument("--window", type=float, default=10.0, help="seconds counted (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds before counting")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", metavar="BIN_DIR",
                    help="also run the camonitor of another install (A/B in the same rounds)")
    ap.add_argument("--no-caproto", action="store_true", help="skip caproto-monitor")
    ap.add_argument("--no-pyepics", action="store_true", help="skip pyepics")
    args = ap.parse_args()

    notes = [common.compile_sources()]
    with_pyepics = not args.no_pyepics and importlib.util.find_spec("epics") is not None
    if not with_pyepics:
        notes.append("pyepics not installed: skipped")
    print("# camonitor benchmark (W4)\n")
    print(common.machine_info() + "\n")
    print("\n".join(notes))
    records = args.records
    while True:
        bound = bench_at(records, args, with_pyepics)
        if bound:
            print(f"\nClient-bound at R = {records}: {', '.join(bound)}.")
            break
        if records * 2 > args.max_records:
            print(f"\nNo client was client-bound up to R = {records} (--max-records "
                  f"{args.max_records}).")
            break
        records *= 2
        print(f"\nEvery client kept up or waited on the IOC: offered rate raised to "
              f"R = {records}.")


def bench_at(records: int, args: Any, with_pyepics: bool) -> list[str]:
    """The rounds at ``records`` calc records; the table; the clients client-bound."""
    work = Path(tempfile.mkdtemp(prefix="bench-camonitor-"))
    names = write_db(work / "calc.db", records)
    dbd = common.scan_dbd([".001 second"], work)
    ioc = common.BenchIoc(work / "calc.db", dbd=dbd, probe_pv=names[0])
    results: dict[str, list[dict]] = {}
    try:
        ioc.start()
        env = common.child_env(ioc.env)
        # IOC alone
        c0, t0 = common.proc_cpu(ioc.pid), time.monotonic()
        ta, va = read_value(env, names[0])
        time.sleep(min(3.0, args.window))
        tb, vb = read_value(env, names[0])
        ioc_alone = 100 * (common.proc_cpu(ioc.pid) - c0) / (time.monotonic() - t0)
        offered_alone = (vb - va) / (tb - ta) * records
        cmds = clients(names, with_pyepics, args.baseline, not args.no_caproto)
        order = list(cmds)
        for r in range(args.rounds):
            shift = r % len(order)
            for name in order[shift:] + order[:shift]:
                res = measure(cmds[name], env, ioc.pid, names[0], records,
                              args.window, args.warmup, work)
                results.setdefault(name, []).append(res)
                print(f"  R={records} round {r + 1} {name}: {res['received']:,.0f} upd/s",
                      file=sys.stderr, flush=True)
    finally:
        ioc.close()

    print(f"\nR = {records} calc records at 1 ms ({records * 1000:,} updates/s "
          f"nominal); window {args.window:g} s after {args.warmup:g} s warm-up; "
          f"{args.rounds} rounds. IOC alone (no subscriber): {ioc_alone:.0f}% CPU, "
          f"offered {offered_alone:,.0f} upd/s.\n")
    ref = [x["received"] for x in results["C camonitor"]]
    rows = []
    bound = []
    for name, rs in results.items():
        rec = [x["received"] for x in rs]
        ratio = [a / b for a, b in zip(rec, ref)]
        med = {k: common.stat3(x[k] for x in rs)[0] for k in rs[0]}
        per_update = [10_000 * x["client_cpu"] / x["received"] for x in rs if x["received"]]
        state = saturated(med["client_cpu"], med["ioc_cpu"], med["received"], med["offered"])
        if state == "client" and not name.startswith("baseline"):
            bound.append(name)          # (a baseline install does not stop the search)
        rows.append([name, common.fmt3(rec, ",.0f"), f"{med['offered']:,.0f}",
                     f"{med['client_cpu']:.0f}", common.fmt3(per_update, ".2f"),
                     f"{med['ioc_cpu']:.0f}",
                     "1" if name == "C camonitor" else common.fmt3(ratio, ".3f"), state])
    print(common.md_table(["client", "received upd/s (med / min / max)", "offered (med)",
                           "client CPU %", "client CPU µs/update (med / min / max)",
                           "IOC CPU %", "vs C camonitor (med / min / max)",
                           "saturated"], rows))
    return bound


if __name__ == "__main__":
    main()
