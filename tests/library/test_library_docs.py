"""Every ```python block of docs/library.md runs, as written, against
``catools serve --demo`` (each in a fresh namespace, on the default context): each
blocking example and, after it, its asyncio twin (``catools.aio``, run by
``asyncio.run`` as written)."""
from __future__ import annotations

import re
import subprocess
import time

import pytest

import catools.sync
import epics_env

DOC = epics_env.REPO_ROOT / "docs" / "library.md"
#: the monitor examples run for 10 s as written; here for 1 s
SHORTEN = ("DURATION = 10.0  # seconds", "DURATION = 1.0  # seconds")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    """``catools serve --demo`` on a free port pair, with the loopback settings."""
    port, rport = epics_env.free_port_pair()
    env = epics_env.make_script_env(port, rport)
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(epics_env.scripts_dir() / "catools"), "serve",
                                 "--demo"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while epics_env.udp_search(port, "demo:sine") is None:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the demo server did not answer"
        yield env
    finally:
        epics_env.terminate(proc)
        epics_env.release_port(port)
        epics_env.release_port(rport)


@pytest.fixture
def demo_environ(demo_env, monkeypatch):
    import os
    catools.sync.close()
    for name in [n for n in os.environ if n.startswith("EPICS_")]:
        monkeypatch.delenv(name)
    for name, value in demo_env.items():
        if name.startswith("EPICS_"):
            monkeypatch.setenv(name, value)
    try:
        yield
    finally:
        catools.sync.close()


def _is_aio(block: str) -> bool:
    return "catools.aio" in block


def test_the_doc_has_ten_examples_beside_pyepics():
    python, text = _blocks("python"), _blocks("text")
    assert len(python) >= 24
    assert sum("# pyepics" in block for block in text) >= 10
    assert sum(SHORTEN[0] in block for block in python) == 4


def test_every_example_has_its_asyncio_twin_right_after_it():
    python = _blocks("python")
    assert [_is_aio(block) for block in python] == [False, True] * (len(python) // 2)
    for blocking, twin in zip(python[::2], python[1::2]):
        assert "asyncio.run(main())" in twin and "async def main" in twin, twin
        assert "threading" not in twin
        # the twin calls what its blocking example calls, awaited
        for call in ("get", "put", "info", "monitor", "wait_for", "Context"):
            if f"catools.{call}(" in blocking:
                assert f"catools.aio.{call}(" in twin, (call, twin)


def _ids() -> list[str]:
    return [f"{i + 1}-{'aio' if _is_aio(b) else 'sync'}"
            for i, b in enumerate(_blocks("python"))]


@pytest.mark.parametrize("index", range(len(_blocks("python"))), ids=_ids())
def test_example_runs(demo_environ, index, capsys):
    block = _blocks("python")[index]
    code = block.replace(*SHORTEN)
    exec(compile(code, f"{DOC.name} block {index + 1}", "exec"), {})   # noqa: S102
    assert capsys.readouterr().out.strip()           # every example prints something
