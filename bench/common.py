"""Shared helpers of the bench scripts: tool paths, environments, timing, statistics.

Whole-process measurements: wall time from
spawn to reap, CPU = user+sys of the command (and its children), peak RSS from GNU
``/usr/bin/time -f %M`` (or ``wait4`` rusage when GNU time is missing). Tools run in
interleaved rounds with the order rotated each round; ratios are taken per round
against a reference tool; every cell is median / min / max over the rounds.

The loopback environment, free ports, softIoc and caRepeater come from
``tests/epics_env.py`` (imported by path).
"""
from __future__ import annotations

import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"


def _load_epics_env():
    spec = importlib.util.spec_from_file_location("epics_env", REPO / "tests" / "epics_env.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["epics_env"] = module
    spec.loader.exec_module(module)
    return module


epics_env = _load_epics_env()

VENV_BIN = Path(sys.executable).parent
C_BIN = epics_env.epics_bin_dir()
DBD_DIR = epics_env.epics_dbd_dir()
GNU_TIME = Path("/usr/bin/time")

#: Variables removed from the benchmarked children's environment: bytecode writing is
#: allowed (so .pyc caches are used) and stdout is block-buffered when redirected.
DROPPED_VARS = ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")


def c_tool(name: str) -> str:
    """Path of a real EPICS binary."""
    return str(C_BIN / name)


def venv_tool(name: str) -> str:
    """Path of a console script of this venv (our caget, caproto-get ...)."""
    return str(VENV_BIN / name)


def child_env(env: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a benchmarked process: ``env`` without :data:`DROPPED_VARS`."""
    out = {k: v for k, v in env.items() if k not in DROPPED_VARS}
    if extra:
        out.update(extra)
    return out


def compile_sources() -> str:
    """Byte-compile src/ (the environment normally forbids writing .pyc); a note for output."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=True)
    return ("src/ byte-compiled with `python -m compileall -q src`; benchmarked children run "
            "without PYTHONDONTWRITEBYTECODE and PYTHONUNBUFFERED")


def machine_info() -> str:
    """One line: CPU model, core count, load average, Python version."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (f"{model}, nproc {os.cpu_count()}, loadavg {' '.join(load)}, "
            f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}")


# --------------------------------------------------------------------------- timing

@dataclass
class Run:
    """One timed process: wall s, CPU s (user+sys incl. children), peak RSS MiB, exit code."""

    wall: float
    cpu: float
    rss_mib: float
    rc: int


_TIME_OVERHEAD: float | None = None


def _wait(proc: subprocess.Popen, timeout: float, cmd) -> tuple[int, object]:
    """wait4() the child (polling, so that a timeout works); (exit code, rusage)."""
    deadline = time.perf_counter() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, ru
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise subprocess.TimeoutExpired(cmd, timeout)
        time.sleep(0.0002)


def time_overhead() -> float:
    """CPU seconds GNU time adds around a command (median of 15 ``time true`` vs ``true``)."""
    global _TIME_OVERHEAD
    if _TIME_OVERHEAD is None:
        def cpu(cmd):
            vals = []
            for _ in range(15):
                p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                _, ru = _wait(p, 10, cmd)
                vals.append(ru.ru_utime + ru.ru_stime)
            return statistics.median(vals)
        _TIME_OVERHEAD = 0.0
        if GNU_TIME.exists():
            _TIME_OVERHEAD = max(0.0, cpu([str(GNU_TIME), "-o", "/dev/null", "true"])
                                 - cpu(["true"]))
    return _TIME_OVERHEAD


def run_timed(cmd: Sequence[str], env: Mapping[str, str], *, stdout=subprocess.DEVNULL,
              timeout: float = 600.0) -> Run:
    """Run ``cmd`` once; wall from spawn to reap. Stdout to ``stdout`` (default /dev/null).

    Peak RSS: GNU ``time -f %M`` (the command's own maximum). CPU: wait4() rusage of the
    command and its children, in microseconds (GNU time's %U/%S have 10 ms steps), minus
    GNU time's own measured overhead (:func:`time_overhead`, about 1 ms).
    """
    if GNU_TIME.exists():
        overhead = time_overhead()
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            full = [str(GNU_TIME), "-o", tf.name, "-f", "%M", *cmd]
            t0 = time.perf_counter()
            proc = subprocess.Popen(full, env=dict(env), stdin=subprocess.DEVNULL,
                                    stdout=stdout, stderr=subprocess.DEVNULL)
            rc, ru = _wait(proc, timeout, cmd)
            wall = time.perf_counter() - t0
            # GNU time prints "Command exited with non-zero status N" first on failure
            rss_kib = int(tf.read().split()[-1])
            return Run(wall, max(0.0, ru.ru_utime + ru.ru_stime - overhead), rss_kib / 1024, rc)
    # no GNU time: the child's own rusage (its maxrss may include the forked parent image)
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), env=dict(env), stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.DEVNULL)
    rc, ru = _wait(proc, timeout, cmd)
    wall = time.perf_counter() - t0
    return Run(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, rc)


def run_output(cmd: Sequence[str], env: Mapping[str, str], timeout: float = 600.0
               ) -> subprocess.CompletedProcess:
    """Run ``cmd`` and capture its output (for checking it before timing)."""
    return subprocess.run(list(cmd), env=dict(env), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout)


def interleaved(tools: Mapping[str, Callable[[], Run]], rounds: int,
                check: Callable[[str, Run], bool] | None = None,
                progress: bool = True) -> dict[str, list[Run | None]]:
    """Run every tool once per round, order rotated each round; returns runs per tool.

    A run rejected by ``check`` (default: exit code != 0; e.g. short output) is stored
    as None, so that lists stay aligned by round for per-round ratios.
    """
    names = list(tools)
    runs: dict[str, list[Run | None]] = {n: [] for n in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            run = tools[name]()
            ok = check(name, run) if check else run.rc == 0
            runs[name].append(run if ok else None)
        if progress:
            print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return runs


def stat3(values: Iterable[float]) -> tuple[float, float, float] | None:
    """(median, min, max) or None if empty."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def fmt3(values: Iterable[float], spec: str = ".3f") -> str:
    s = stat3(values)
    if s is None:
        return "—"
    return " / ".join(format(v, spec) for v in s)


def fmt_med(values: Iterable[float], spec: str = ".3f") -> str:
    s = stat3(values)
    return "—" if s is None else format(s[0], spec)


def ratios(runs: Sequence[Run | None], ref: Sequence[Run | None],
           attr: str = "wall") -> list[float]:
    """Per-round ratio of ``runs`` to ``ref`` (rounds where either failed are skipped)."""
    return [getattr(a, attr) / getattr(b, attr)
            for a, b in zip(runs, ref) if a is not None and b is not None]


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- /proc

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user+sys, this process only, all threads) of a live ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def count_newlines(path: str | os.PathLike, start: int = 0) -> tuple[int, int]:
    """(newlines in ``path`` from byte ``start``, end offset) — read in 1 MiB blocks."""
    n = 0
    with open(path, "rb") as f:
        f.seek(start)
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            n += block.count(b"\n")
            start += len(block)
    return n, start


class LineCounter:
    """Counts the lines a process appends to a file, incrementally."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def update(self) -> int:
        n, self.offset = count_newlines(self.path, self.offset)
        self.lines += n
        return self.lines


# --------------------------------------------------------------------------- IOC helpers

def scan_dbd(extra_periods: Sequence[str], directory: str | os.PathLike) -> Path:
    """A copy of softIoc.dbd whose ``menu(menuScan)`` has extra choices (e.g. ".001 second")."""
    text = (DBD_DIR / "softIoc.dbd").read_text()
    anchor = 'choice(menuScan_1_second, ".1 second")'
    if anchor not in text:
        raise RuntimeError("menuScan anchor not found in softIoc.dbd")
    extra = "".join(f'\n    choice(menuScan_bench_{i}, "{p}")'
                    for i, p in enumerate(extra_periods))
    out = Path(directory) / "softIoc-bench.dbd"
    out.write_text(text.replace(anchor, anchor + extra, 1))
    return out


class BenchIoc(epics_env.SoftIoc):
    """SoftIoc with an optional custom .dbd and extra environment (e.g. MAX_ARRAY_BYTES)."""

    def __init__(self, db_path, *, dbd: str | os.PathLike | None = None,
                 extra_env: Mapping[str, str] | None = None, **kw) -> None:
        super().__init__(db_path, **kw)
        self.dbd = Path(dbd) if dbd else DBD_DIR / "softIoc.dbd"
        if extra_env:
            self.env.update(extra_env)

    def command(self) -> list[str]:
        return [str(C_BIN / "softIoc"), "-D", str(self.dbd), "-S", "-d", str(self.db_path)]


def stop(proc: subprocess.Popen | None) -> None:
    """Stop a process we started (by its PID; SIGTERM then SIGKILL) and reap it."""
    if proc is not None:
        epics_env.terminate(proc)
