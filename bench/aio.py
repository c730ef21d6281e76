"""The asyncio twin's cost (issue 15): ``catools.aio`` vs the blocking ``catools`` in
the same run, on one softIoc.

    python bench/aio.py [--pvs 10000] [--records 200] [--window 3] [--rounds 5]

get: ``catools.get`` of N ai records (a fresh Context per run, so searches, channel
creation and reads all count) vs ``await catools.aio.get`` of the same names. Target:
aio <= 1.2x blocking (median wall of the call). monitor: R calc records scanning every
1 ms (a softIoc.dbd copy with a ".001 second" scan); each client iterates over a
monitor of all R for ``--window`` s after 1 s of warm-up and counts the updates it
took. Target: aio >= 0.9x blocking updates/s. Each measurement runs in a child
process; the children alternate, order rotated each round; medians are reported.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

CHILD = r"""
import asyncio, json, sys, time
import catools, catools.aio
what, kind, port, arg, window = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
settings = dict(server_port=port, addr_list="127.0.0.1", auto_addr_list=False)
if what == "get":
    names = [f"A:{i:05d}" for i in range(int(arg))]
    if kind == "sync":
        with catools.Context(**settings) as ctx:
            t = time.perf_counter()
            readings = catools.get(names, timeout=30.0, context=ctx)
            took = time.perf_counter() - t
    else:
        async def main():
            async with catools.aio.Context(**settings) as ctx:
                t = time.perf_counter()
                readings = await catools.aio.get(names, timeout=30.0, context=ctx)
                return time.perf_counter() - t, readings
        took, readings = asyncio.run(main())
    assert [r.value for r in readings] == [i + 0.5 for i in range(len(names))]
    print(json.dumps({"value": took}))
else:
    names = [f"C:{i:04d}" for i in range(int(arg))]
    if kind == "sync":
        with catools.Context(**settings) as ctx, catools.monitor(names, context=ctx) as m:
            start = time.monotonic() + 1.0
            n = 0
            for event in m:
                now = time.monotonic()
                if now >= start:
                    n += 1
                    if now >= start + window:
                        break
    else:
        async def main():
            async with catools.aio.Context(**settings) as ctx:
                async with catools.aio.monitor(names, context=ctx) as m:
                    start = time.monotonic() + 1.0
                    n = 0
                    async for event in m:
                        now = time.monotonic()
                        if now >= start:
                            n += 1
                            if now >= start + window:
                                break
                    return n
        n = asyncio.run(main())
    print(json.dumps({"value": n / window}))
"""


def child(what: str, kind: str, port: int, arg: int, window: float, env: dict) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, what, kind, str(port), str(arg),
                          str(window)], env=env, capture_output=True, text=True,
                         timeout=300)
    if out.returncode:
        raise RuntimeError(f"{what} {kind}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])["value"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pvs", type=int, default=10000)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--window", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(common.machine_info())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lines = [f'record(ai, "A:{i:05d}") {{ field(VAL, "{i}.5") }}' for i in range(args.pvs)]
        lines += [f'record(calc, "C:{i:04d}") {{ field(SCAN, ".001 second") '
                  f'field(CALC, "VAL+1") }}' for i in range(args.records)]
        (work / "aio.db").write_text("\n".join(lines) + "\n")
        dbd = common.scan_dbd([".001 second"], work)
        ioc = common.BenchIoc(work / "aio.db", dbd=dbd, probe_pv="A:00000", log_dir=work)
        with ioc:                       # (starts it)
            env = common.child_env(ioc.env)
            results: dict[tuple[str, str], list[float]] = {}
            for r in range(args.rounds):
                order = ["sync", "aio"] if r % 2 == 0 else ["aio", "sync"]
                for what, arg in (("get", args.pvs), ("monitor", args.records)):
                    for kind in order:
                        value = child(what, kind, ioc.port, arg, args.window, env)
                        results.setdefault((what, kind), []).append(value)
                print(f"round {r + 1}: " + ", ".join(
                    f"{w} {k} {v[-1]:.3f}" for (w, k), v in results.items()), flush=True)
    med = {key: statistics.median(values) for key, values in results.items()}
    get_ratio = med[("get", "aio")] / med[("get", "sync")]
    mon_ratio = med[("monitor", "aio")] / med[("monitor", "sync")]
    print(common.md_table(
        ["measure", "blocking (median)", "aio (median)", "aio / blocking", "target"],
        [[f"get of {args.pvs} PVs, s", f"{med[('get', 'sync')]:.3f}",
          f"{med[('get', 'aio')]:.3f}", f"{get_ratio:.2f}", "<= 1.2"],
         [f"monitor of {args.records} records, updates/s",
          f"{med[('monitor', 'sync')]:.0f}", f"{med[('monitor', 'aio')]:.0f}",
          f"{mon_ratio:.2f}", ">= 0.9"]]))
    print(f"({args.rounds} rounds, interleaved; {time.strftime('%Y-%m-%d %H:%M')})")


if __name__ == "__main__":
    main()
