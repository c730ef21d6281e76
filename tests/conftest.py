"""Shared pytest fixtures: real softIoc/caRepeater processes and the real EPICS C tools.

Helpers live in ``tests/epics_env.py`` (importable as ``epics_env``); nothing here imports
catools. Every CA process runs with the loopback variables and a private port pair.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import epics_env  # noqa: E402
from epics_env import ACCESS_ACF, RECORDS_DB, SoftIoc  # noqa: E402

pytest_plugins = ["pytester"]

# Run in the background by a shell (``pytest &``, nohup scripts), pytest starts with
# SIGINT ignored, and every child would inherit SIG_IGN (exec keeps ignored signals),
# so the SIGINT the tests send to camonitor & co would do nothing. A handled signal is
# reset to the default by exec: restore Python's handler once, for all children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

SoftIocFactory = Callable[..., SoftIoc]


def _factory(tmp_dir: Path) -> tuple[SoftIocFactory, list[SoftIoc]]:
    made: list[SoftIoc] = []
    counter = iter(range(1, 1 << 30))

    def make(db: str | os.PathLike | None = None, *, records: str | None = None,
             acf: str | os.PathLike | None = None, macros: Mapping[str, str] | None = None,
             probe_pv: str | None = None, start: bool = True) -> SoftIoc:
        """Create (and by default start) a softIoc on a fresh port pair.

        ``db`` is a .db path (default tests/data/records.db); or give ``records`` as .db
        text, written to a temporary file. ``acf`` is passed as ``-a``, ``macros`` as ``-m``.
        """
        n = next(counter)
        if records is not None:
            if db is not None:
                raise ValueError("give db or records, not both")
            db = tmp_dir / f"ioc{n}.db"
            Path(db).write_text(records)
        ioc = SoftIoc(db, acf_path=acf, macros=macros, probe_pv=probe_pv,
                      log_dir=tmp_dir)
        made.append(ioc)  # registered before start: torn down even if start fails
        if start:
            ioc.start()
        return ioc

    return make, made


def _close_all(made: list[SoftIoc]) -> None:
    errors = []
    for ioc in reversed(made):
        try:
            ioc.close()
        except Exception as exc:  # pragma: no cover - keep closing the others
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def softioc(tmp_path: Path) -> Iterator[SoftIocFactory]:
    """Factory fixture: ``softioc(db=None, *, records=None, acf=None, macros=None,
    probe_pv=None, start=True) -> SoftIoc``. Every IOC made is stopped at teardown."""
    make, made = _factory(tmp_path)
    try:
        yield make
    finally:
        _close_all(made)


@pytest.fixture(scope="module")
def module_softioc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftIocFactory]:
    """Like :func:`softioc`, but the IOCs live until the end of the test module."""
    make, made = _factory(tmp_path_factory.mktemp("module_ioc"))
    try:
        yield make
    finally:
        _close_all(made)


@pytest.fixture(scope="session")
def shared_ioc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftIoc]:
    """One softIoc serving tests/data/records.db with tests/data/access.acf for the
    whole session. Read-only use please: use ``module_ioc``/``softioc`` to write."""
    with SoftIoc(RECORDS_DB, acf_path=ACCESS_ACF,
                 log_dir=tmp_path_factory.mktemp("shared_ioc")) as ioc:
        yield ioc


@pytest.fixture(scope="module")
def module_ioc(module_softioc: SoftIocFactory) -> SoftIoc:
    """A fresh records.db + access.acf softIoc per test module (tests may write to it)."""
    return module_softioc(RECORDS_DB, acf=ACCESS_ACF)


@pytest.fixture(scope="session")
def epics_bin() -> Path:
    """Directory of the real EPICS binaries (softIoc, caRepeater, caget, caput, ...)."""
    return epics_env.epics_bin_dir()


@pytest.fixture(scope="session")
def run_c_tool() -> Callable[..., subprocess.CompletedProcess]:
    """``run_c_tool(name, *args, env=..., timeout=10.0, sigint_after=None, input=None)``:
    run a real C tool; with ``sigint_after`` send SIGINT after that many seconds."""
    return epics_env.run_c_tool


@pytest.fixture
def ca_env() -> Iterator[epics_env.CaEnv]:
    """A port pair with a running caRepeater of its own (for servers other than softIoc):
    ``.port``, ``.repeater_port``, ``.env``, ``.script_env``, ``.repeater_pid``,
    ``.c_tool(name, *args, timeout=10.0, sigint_after=None, input=None, env=None)``."""
    ce = epics_env.CaEnv()
    try:
        yield ce
    finally:
        ce.close()


@pytest.fixture
def port_pair() -> Iterator[tuple[int, int]]:
    """A reserved ``(server_port, repeater_port)`` pair, released at teardown (no
    repeater is started: prefer ``ca_env`` when C tools are involved)."""
    port, rport = epics_env.free_port_pair()
    try:
        yield port, rport
    finally:
        epics_env.release_port(port)
        epics_env.release_port(rport)
