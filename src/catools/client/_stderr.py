"""libca's messages on stderr: one-line errors and the CA.Client.Exception block."""
from __future__ import annotations

import sys
import time


def errlog(line: str) -> None:
    """One line on stderr, as libca's errlogPrintf."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def print_ca_exception(message: str, context: str) -> None:
    """libca's CA.Client.Exception block on stderr (ANSI-free)."""
    stamp = time.strftime("%a %b %d %Y %H:%M:%S", time.localtime())
    frac = f"{time.time() % 1:.9f}"[1:]
    sys.stderr.write(
        "CA.Client.Exception...............................................\n"
        f'    Warning: "{message}"\n'
        f'    Context: "{context}"\n'
        f"    Current Time: {stamp}{frac}\n"
        "..................................................................\n")
    sys.stderr.flush()


__all__ = ["errlog", "print_ca_exception"]
