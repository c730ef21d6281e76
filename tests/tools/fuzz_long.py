"""Long fuzzing run of the protocol core (not part of the test run).

    python tests/tools/fuzz_long.py --minutes 10 [--seed N]

Runs the same drivers as tests/protocol/test_hypothesis.py (mutated golden circuits in
both roles, random/mutated raw streams cut into random chunks, mutated UDP datagrams to
Broadcasters) until the time is up. Any exception other than RemoteProtocolError is a bug:
the seed and iteration are printed so that the case can be replayed.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "protocol"))

from fuzzing import fuzz_once, load_frames  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    frames = load_frames()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    deadline = time.monotonic() + args.minutes * 60
    n = 0
    while time.monotonic() < deadline:
        case = seed + n
        try:
            fuzz_once(random.Random(case), frames)
        except Exception:
            traceback.print_exc()
            print(f"FAILED at case seed {case} (replay: fuzz_once(random.Random({case}), "
                  "load_frames()))", file=sys.stderr)
            return 1
        n += 1
    print(f"{n} rounds without an unexpected exception (seeds {seed}..{seed + n - 1})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
