"""Memory and stall pressure on ``catools serve`` and softIoc, side by side (issue 18).

    python bench/serve_pressure.py [--elements 10000000] [--write-elements 19000000]
                                   [--clients 20] [--only read,write,slow]

Full-size figures of the loads of tests/server/test_server_pressure.py (which runs them
at CI scale), from tests/server/serve_pressure.py:

* read: ``big`` = DOUBLE[--elements] is filled, then read whole as DBR_STRING by one
  client while another reads ``counter`` every 50 ms;
* write: one WRITE_NOTIFY of DOUBLE[--write-elements] (152 MB by default) while another
  client reads ``counter`` every 50 ms;
* slow: --clients clients pipeline 4 reads each of a DOUBLE[100000] as DBR_STRING (4 MB
  replies) and never read.

Each load runs on a fresh server. Reported: VmHWM (reset just before the load) and the
RSS before it, the longest wait of the other client, and the load's duration. Progress
goes to stderr, the markdown table to stdout.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

sys.path.insert(0, str(common.REPO / "tests" / "server"))
import serve_pressure as sp  # noqa: E402


def run(kind, elements: int, load, *args) -> dict:
    with tempfile.TemporaryDirectory(prefix="pressure-") as tmp:
        server = kind(elements, Path(tmp))
        try:
            result = load(server, *args)
            result["alive"] = server.pid is not None
            return result
        except Exception as exc:  # report and go on
            return {"error": repr(exc)}
        finally:
            server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=10_000_000)
    parser.add_argument("--write-elements", type=int, default=19_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--only", default="read,write,slow")
    args = parser.parse_args()
    loads = {
        "read": (f"DOUBLE[{args.elements}] read as DBR_STRING", args.elements,
                 sp.big_string_read, (args.elements,)),
        "write": (f"WRITE_NOTIFY of DOUBLE[{args.write_elements}] "
                  f"({args.write_elements * 8 / 1e6:.0f} MB)", args.write_elements,
                  sp.big_write, (args.write_elements,)),
        "slow": (f"{args.clients} slow clients x 4 reads of DOUBLE[100000] as DBR_STRING",
                 100_000, sp.slow_clients, ("big", args.clients, 4, 0, 100_000)),
    }
    rows = []
    for key in args.only.split(","):
        label, elements, load, load_args = loads[key]
        got = {}
        for kind in (sp.Ours, sp.Theirs):
            print(f"{kind.name}: {label} ...", file=sys.stderr, flush=True)
            got[kind.name] = run(kind, elements, load, *load_args)
            print(f"  {got[kind.name]}", file=sys.stderr, flush=True)
        rows.append((label, got["catools serve"], got["softIoc"]))
    print("| load | figure | catools serve | softIoc |")
    print("|---|---|---|---|")
    for label, ours, theirs in rows:
        for figure, key, fmt in (("RSS before, MB", "before_mb", "{:.0f}"),
                                 ("peak RSS (VmHWM), MB", "peak_mb", "{:.0f}"),
                                 ("other client's longest wait, s", "worst_wait", "{:.2f}"),
                                 ("duration, s", "seconds", "{:.1f}")):
            if key in ours or key in theirs:
                cells = [fmt.format(r[key]) if key in r else r.get("error", "-")
                         for r in (ours, theirs)]
                print(f"| {label} | {figure} | {cells[0]} | {cells[1]} |")
                label = ""


if __name__ == "__main__":
    main()
