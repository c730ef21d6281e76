"""Hostile clients against ``catools serve`` and softIoc: peak RSS and responsiveness.

    python bench/hostile_serve.py [--elements 100000] [--write-mb 200] [--only NAME,...]

Both servers serve the same PVs on loopback with private ports: ``big`` (a DOUBLE array
of ``--elements``) and ``counter`` (a longout; softIoc: a waveform and a longout
record). Each attack (tests/server/hostile.py) runs against a fresh server of each kind;
after it a C ``caget counter`` must answer within 10 s ("2nd client"). Reported per
attack, ours and softIoc's in columns side by side: peak resident set (VmHWM of the
server process, MB) before and after, whether the second client was served, and the
answer the attacker got. Progress goes to stderr, the markdown table to stdout.
(bench/serve_pressure.py has the memory and stall loads of issue 18.)
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

sys.path.insert(0, str(common.REPO / "tests" / "server"))
import hostile  # noqa: E402

ee = common.epics_env

DB = """record(waveform, "big") {{ field(FTVL, "DOUBLE") field(NELM, "{n}") }}
record(longout, "counter") {{ field(VAL, "7") }}
"""


class Ours:
    name = "catools serve"

    def __init__(self, elements: int, workdir: Path) -> None:
        self.port, self.rport = ee.free_port_pair()
        self.env = ee.make_env(self.port, self.rport)
        pvfile = workdir / "hostile.json"
        pvfile.write_text(json.dumps({"pv": [
            {"name": "big", "type": "double", "count": elements,
             "value": [0.5] * elements},
            {"name": "counter", "type": "long", "value": 7}]}))
        self.log = open(workdir / f"serve-{self.port}.log", "wb")
        self.repeater = ee.start_repeater(self.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from catools.cli.serve import serve; serve()",
             str(pvfile)], env=self.env, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while ee.udp_search(self.port, "counter") is None:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("catools serve did not start")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> None:
        ee.terminate(self.proc)
        ee.terminate(self.repeater)
        self.log.close()
        ee.release_port(self.port)
        ee.release_port(self.rport)


class Theirs:
    name = "softIoc"

    def __init__(self, elements: int, workdir: Path) -> None:
        db = workdir / f"hostile-{elements}.db"
        db.write_text(DB.format(n=elements))
        self.ioc = ee.SoftIoc(db, probe_pv="counter", log_dir=workdir)
        self.ioc.start()
        self.port, self.env = self.ioc.port, self.ioc.env

    @property
    def pid(self) -> int:
        return self.ioc.pid

    def close(self) -> None:
        self.ioc.close()


def second_client(server) -> str:
    try:
        result = ee.run_c_tool("caget", "-t", "counter", env=server.env, timeout=10)
    except subprocess.TimeoutExpired:
        return "no (timeout)"
    return "yes" if result.returncode == 0 and result.stdout.strip() else \
        f"no (exit {result.returncode})"


def attack_pipelined(server, args) -> str:
    sock = hostile.pipelined_reads(server.port, "big", 1024)
    try:
        time.sleep(3.0)
        answer = second_client(server)
        return f"server still alive; reader not reading (2nd client during: {answer})"
    finally:
        sock.close()


def attack_write(server, args) -> str:
    ok, replies = hostile.huge_write(server.port, "big", args.write_mb << 20)
    return f"echo={'yes' if ok else 'no'} replies={_short(replies)}"


def attack_counts(server, args) -> str:
    ok, replies = hostile.huge_count_reads(server.port, "big", (50_000_000, 0xFFFFFFFF))
    return f"echo={'yes' if ok else 'no'} replies={_short(replies)}"


def attack_oversize(server, args) -> str:
    errors, open_ = hostile.oversize_header(server.port)
    return f"errors={[e[:2] for e in errors]} circuit={'open' if open_ else 'closed'}"


def attack_garbage(server, args) -> str:
    return "closed" if hostile.garbage(server.port) else "left open"


def attack_loris(server, args) -> str:
    with hostile.slow_loris(server.port, 200):
        return f"2nd client during: {second_client(server)}"


def attack_many(server, args) -> str:
    with hostile.many_channels(server.port, "counter", 300) as n:
        return f"{n} circuits; 2nd client during: {second_client(server)}"


def attack_udp(server, args) -> str:
    hostile.udp_garbage(server.port, 5000)
    return "sent 5000 datagrams"


def attack_slow_strings(server, args) -> str:
    import serve_pressure
    with serve_pressure.slow_readers(server.port, "big", 20, 4, 0, 0):
        time.sleep(3.0)
        return f"2nd client during: {second_client(server)}"


ATTACKS = {
    "pipelined READ_NOTIFY x1024, not reading": attack_pipelined,
    "WRITE_NOTIFY of --write-mb MB": attack_write,
    "READ_NOTIFY/EVENT_ADD count 5e7, 2^32-1": attack_counts,
    "extended header 4 GB, 1 MB sent": attack_oversize,
    "64 KB garbage": attack_garbage,
    "slow loris x200": attack_loris,
    "300 circuits with a channel": attack_many,
    "UDP garbage x5000": attack_udp,
    "20 slow clients x 4 reads of big as DBR_STRING": attack_slow_strings,
}


def _short(replies: list) -> str:
    """ERROR status/quoted command, or command/status/count, of the first replies."""
    text = ", ".join("/".join(str(x) for x in r[:3]) for r in replies[:4])
    return text + (f", ... ({len(replies)})" if len(replies) > 4 else "")


def run_one(kind, attack, args, workdir: Path) -> tuple[float, float, str, str]:
    server = kind(args.elements, workdir)
    try:
        before = hostile.vm_kb(server.pid) / 1024
        result: list[str] = []
        thread = threading.Thread(target=lambda: result.append(attack(server, args)),
                                  daemon=True)
        thread.start()
        thread.join(120)
        outcome = result[0] if result else "attack did not finish in 120 s"
        after_client = second_client(server)
        peak = hostile.vm_kb(server.pid) / 1024 if server.pid else float("nan")
        return before, peak, outcome, after_client
    except Exception as exc:  # report and go on with the next attack
        return float("nan"), float("nan"), f"error: {exc!r}", "?"
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=100_000)
    parser.add_argument("--write-mb", type=int, default=200)
    parser.add_argument("--only", default="", help="comma-separated attack name prefixes")
    args = parser.parse_args()
    chosen = {k: v for k, v in ATTACKS.items()
              if not args.only or any(k.startswith(p) for p in args.only.split(","))}
    rows = []
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        for label, attack in chosen.items():
            cells = []
            for kind in (Ours, Theirs):
                print(f"{kind.name}: {label} ...", file=sys.stderr, flush=True)
                cells.append(run_one(kind, attack, args, Path(tmp)))
            rows.append((label.replace("--write-mb", str(args.write_mb)), *cells))
    print(f"big = DOUBLE[{args.elements}]; peak RSS = VmHWM of the server process; "
          "each cell: RSS at start -> peak RSS (MB), 2nd client after\n")
    print("| attack | catools serve | softIoc | catools serve: attacker got | "
          "softIoc: attacker got |")
    print("|---|---|---|---|---|")
    for label, ours, theirs in rows:
        figures = [f"{before:.0f} -> {peak:.0f}, {after}"
                   for before, peak, _outcome, after in (ours, theirs)]
        print(f"| {label} | {figures[0]} | {figures[1]} | {ours[2]} | {theirs[2]} |")


if __name__ == "__main__":
    main()
