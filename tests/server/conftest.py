"""Fixtures: our server in a thread on a private loopback port pair."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

import epics_env
from catools.server import Server, install_demo
from serverhelpers import loopback_config


@pytest.fixture(scope="module")
def module_env() -> Iterator[epics_env.CaEnv]:
    """A port pair with its own caRepeater for the whole module."""
    env = epics_env.CaEnv()
    try:
        yield env
    finally:
        env.close()


@pytest.fixture(scope="module")
def demo(module_env: epics_env.CaEnv) -> Iterator[tuple[Server, epics_env.CaEnv]]:
    """``catools serve --demo`` in a thread: (server, env with .c_tool)."""
    server = Server(config=loopback_config(module_env))
    install_demo(server, "demo:")
    server.start_in_thread()
    try:
        yield server, module_env
    finally:
        server.stop()


def pytest_configure(config: pytest.Config) -> None:
    """Side-by-side figures (ours vs softIoc) at the end of the run."""
    import serve_report
    serve_report.register(config)
