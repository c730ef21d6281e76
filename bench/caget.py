"""caget start-up, many-PV and large-array cost: C caget vs our caget vs caproto-get.

    python bench/caget.py [--sizes 1,100,1000,10000] [--rounds 5] [--rounds-1 20]
                          [--rounds-wf 7] [--no-waveform] [--no-importtime]

A softIoc serves N ai records BENCH:AI:00000.. (all names on argv) and BENCH:WF, a
1,000,000-element DOUBLE waveform holding 1000*sin(i/1000) (written once with our
``catools.put`` before timing). EPICS_CA_MAX_ARRAY_BYTES=100000000 on IOC and clients.
Every tool's output is checked before timing (lines, bytes; ours byte-compared with C);
each timed scalar run's line count is checked too (caproto-get may skip PVs and exit 0).
Scalar runs write to a temp file, the waveform runs to /dev/null.
Targets (issue 16's must-holds): 1 PV <= 1.5x C wall and <= 15 MiB; 1,000 PVs <= 1.3x C;
10,000 PVs <= 1.5x C and <= 30 MiB; 1M DOUBLE waveform printed in full <= 0.7x C
(byte-identical).
"""
from __future__ import annotations

import argparse
import collections
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

NMAX = 10000
WF_COUNT = 1_000_000
MAX_ARRAY = {"EPICS_CA_MAX_ARRAY_BYTES": "100000000"}
WAIT = "10"

TARGETS = {  # N -> (max wall ratio vs C, max RSS MiB or None)
    1: (1.5, 15.0), 1000: (1.3, None), 10000: (1.5, 30.0), "wf": (0.7, None),
}


def write_db(path: Path, n: int) -> None:
    lines = [f'record(ai, "BENCH:AI:{i:05d}") {{ field(VAL, "{i}.5") field(PREC, "1") }}'
             for i in range(n)]
    lines.append(f'record(waveform, "BENCH:WF") {{ field(FTVL, "DOUBLE") '
                 f'field(NELM, "{WF_COUNT}") }}')
    path.write_text("\n".join(lines) + "\n")


def init_waveform(env: dict) -> None:
    code = ("import math, catools; catools.put('BENCH:WF', "
            f"[1000*math.sin(i/1000) for i in range({WF_COUNT})], wait=True, timeout=30)")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)


#: ``--baseline DIR``: the bin directory of another install of catools (the code before
#: a change), whose caget runs in the same interleaved rounds as "baseline caget".
BASELINE: list[str] = []


def tool_cmds(names: list[str], with_caproto: bool) -> dict[str, list[str]]:
    cmds = {"C caget": [common.c_tool("caget"), "-w", WAIT, *names],
            "our caget": [common.venv_tool("caget"), "-w", WAIT, *names]}
    for bin_dir in BASELINE:
        cmds["baseline caget"] = [str(Path(bin_dir) / "caget"), "-w", WAIT, *names]
    if with_caproto:
        cmds["caproto-get"] = [common.venv_tool("caproto-get"), "-w", WAIT, *names]
    return cmds


def verify(cmds: dict[str, list[str]], env: dict, expect_lines: int) -> list[str]:
    """Run each tool once with captured output; return report lines. Raises on failure
    of C or ours; caproto problems are reported."""
    report = []
    ref = None
    for name, cmd in cmds.items():
        cp = common.run_output(cmd, env)
        out = cp.stdout
        lines = out.count(b"\n")
        first = out.split(b"\n", 1)[0][:60].decode(errors="replace")
        note = ""
        if name == "C caget":
            ref = out
        elif ref is not None and name == "our caget":
            note = "; bytes identical to C" if out == ref else "; DIFFERS from C"
        report.append(f"  {name}: rc={cp.returncode}, {lines} lines, {len(out):,} B, "
                      f"first: {first!r}{note}")
        if name != "caproto-get" and (cp.returncode != 0 or lines != expect_lines):
            raise RuntimeError(f"{name} output check failed: {report[-1]}\n"
                               f"{cp.stderr.decode(errors='replace')[:500]}")
    return report


def bench_set(label, cmds, env, rounds, expect_lines, to_file: bool):
    tmp = tempfile.NamedTemporaryFile("w+b", suffix=".out", delete=False)
    tmp.close()

    def make(cmd):
        def one():
            if not to_file:
                return common.run_timed(cmd, env)
            with open(tmp.name, "wb") as f:
                run = common.run_timed(cmd, env, stdout=f)
            run.lines = common.count_newlines(tmp.name)[0]
            return run
        return one

    def check(name, run):
        return run.rc == 0 and (not to_file or run.lines == expect_lines)

    print(f"timing {label}: {rounds} rounds", file=sys.stderr, flush=True)
    runs = common.interleaved({n: make(c) for n, c in cmds.items()}, rounds, check)
    Path(tmp.name).unlink()
    return runs


def table_rows(label, runs):
    ref = runs["C caget"]
    rows = []
    for name, rs in runs.items():
        good = [r for r in rs if r is not None]
        rows.append([label, name, common.fmt3(r.wall for r in good),
                     common.fmt_med((r.cpu for r in good)),
                     common.fmt_med((r.rss_mib for r in good), ".1f"),
                     "1" if name == "C caget" else common.fmt3(common.ratios(rs, ref), ".2f"),
                     f"{len(good)}/{len(rs)}"])
    return rows


def target_line(key, runs) -> str:
    limit_ratio, limit_rss = TARGETS[key]
    ours = runs["our caget"]
    r = common.stat3(common.ratios(ours, runs["C caget"]))
    rss = common.stat3(x.rss_mib for x in ours if x is not None)
    if r is None or rss is None:
        return f"  {key}: no good runs of our caget"
    ok_r = r[0] <= limit_ratio
    text = (f"  {'waveform 1M' if key == 'wf' else f'{key} PV(s)'}: wall ratio "
            f"{r[0]:.2f} (target <= {limit_ratio}) {'PASS' if ok_r else 'FAIL'}")
    if limit_rss is not None:
        ok_m = rss[0] <= limit_rss
        text += f"; RSS {rss[0]:.1f} MiB (target <= {limit_rss:g}) {'PASS' if ok_m else 'FAIL'}"
    return text


def importtime(env: dict, repeats: int = 7, top: int = 15) -> str:
    """Median cumulative and self import times of our caget reading one PV."""
    cum: dict[str, list[int]] = collections.defaultdict(list)
    self_: dict[str, list[int]] = collections.defaultdict(list)
    for _ in range(repeats):
        cp = subprocess.run([sys.executable, "-X", "importtime", common.venv_tool("caget"),
                             "BENCH:AI:00000"], env=env, capture_output=True, timeout=30)
        for line in cp.stderr.decode().splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            s, c, mod = line[len("import time:"):].split("|", 2)
            key = mod.strip()
            cum[key].append(int(c))
            self_[key].append(int(s))
    med_c = {k: statistics.median(v) for k, v in cum.items()}
    med_s = {k: statistics.median(v) for k, v in self_.items()}
    total_self = sum(med_s.values())
    out = [f"`python -X importtime caget BENCH:AI:00000`, median of {repeats}: "
           f"{len(med_s)} modules, sum of self times {total_self / 1000:.1f} ms",
           "", "top cumulative (ms): " + ", ".join(
               f"{k} {v / 1000:.1f}" for k, v in sorted(med_c.items(), key=lambda kv: -kv[1])[:top]),
           "", "top self (ms): " + ", ".join(
               f"{k} {v / 1000:.1f}" for k, v in sorted(med_s.items(), key=lambda kv: -kv[1])[:top])]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1,100,1000,10000")
    ap.add_argument("--rounds", type=int, default=5, help="rounds for N > 1 (default 5)")
    ap.add_argument("--rounds-1", type=int, default=20, help="rounds for N = 1")
    ap.add_argument("--rounds-wf", type=int, default=7, help="rounds for the waveform")
    ap.add_argument("--caproto-max", type=int, default=1000,
                    help="largest N given to caproto-get (10,000 takes minutes and "
                         "usually aborts mid-list)")
    ap.add_argument("--no-waveform", action="store_true")
    ap.add_argument("--no-importtime", action="store_true")
    ap.add_argument("--baseline", metavar="BIN_DIR",
                    help="also time the caget of another install (A/B in the same rounds)")
    args = ap.parse_args()
    if args.baseline:
        BASELINE.append(args.baseline)
    sizes = [int(s) for s in args.sizes.split(",") if s]

    notes = [common.compile_sources()]
    print("# caget benchmark\n")
    print(common.machine_info() + "\n")
    work = Path(tempfile.mkdtemp(prefix="bench-caget-"))
    db = work / "bench.db"
    write_db(db, max(max(sizes), 1))
    ioc = common.BenchIoc(db, extra_env=MAX_ARRAY, probe_pv="BENCH:AI:00000")
    all_rows = []
    targets = []
    try:
        ioc.start()
        env = common.child_env(ioc.env, MAX_ARRAY)
        if not args.no_waveform:
            init_waveform(env)
        for n in sizes:
            names = [f"BENCH:AI:{i:05d}" for i in range(n)]
            with_caproto = n <= args.caproto_max
            cmds = tool_cmds(names, with_caproto)
            print(f"check N={n}:", file=sys.stderr)
            notes.append(f"N={n} output check:")
            notes += verify(cmds, env, n)
            if not with_caproto:
                notes.append(f"  caproto-get skipped for N={n} (takes minutes per run and "
                             "aborts mid-list; see bench/README.md, W2)")
            rounds = args.rounds_1 if n == 1 else args.rounds
            runs = bench_set(f"N={n}", cmds, env, rounds, n, to_file=True)
            all_rows += table_rows(f"{n:,} PV{'s' if n > 1 else ''}", runs)
            if n in TARGETS:
                targets.append(target_line(n, runs))
        if not args.no_waveform:
            cmds = tool_cmds(["BENCH:WF"], True)
            notes.append("waveform output check:")
            notes += verify(cmds, env, 1)
            runs = bench_set("waveform", cmds, env, args.rounds_wf, 1, to_file=False)
            all_rows += table_rows("1M DOUBLE waveform", runs)
            targets.append(target_line("wf", runs))
        imp = None if args.no_importtime else importtime(env)
    finally:
        ioc.close()
    print("```text\n" + "\n".join(notes) + "\n```\n")
    print(common.md_table(["PVs", "tool", "wall s (med / min / max)", "CPU s (med)",
                           "peak RSS MiB (med)", "wall vs C (med / min / max)", "good runs"],
                          all_rows))
    print("\nTargets (our caget, median ratio of per-round wall vs C caget):")
    print("\n".join(targets))
    if imp:
        print("\n" + imp)


if __name__ == "__main__":
    main()
