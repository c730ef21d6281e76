"""Fixtures of the library tests: a softIoc per module and a catools.Context aimed at
it through its arguments (the process environment is never edited, except by
``ioc_environ``, which restores it)."""
from __future__ import annotations

from typing import Iterator

import pytest

import catools


def _context_for(ioc) -> catools.Context:
    """A library Context that finds ``ioc`` only (loopback, its port)."""
    return catools.Context(server_port=ioc.port, addr_list=["127.0.0.1"],
                           auto_addr_list=False)


@pytest.fixture
def context_for():
    """``context_for(ioc)``: a new library Context aimed at ``ioc`` (close it)."""
    return _context_for


@pytest.fixture
def ctx(module_ioc) -> Iterator[catools.Context]:
    """A Context for the module's softIoc (records.db, access.acf), closed after."""
    with _context_for(module_ioc) as context:
        yield context


@pytest.fixture
def ioc_environ(module_ioc, monkeypatch) -> Iterator[dict]:
    """The module IOC's EPICS_* variables in os.environ (restored after), for calls
    on the default context; the default context is closed before and after."""
    import catools.sync
    catools.sync.close()
    import os
    for name in [n for n in os.environ if n.startswith("EPICS_")]:
        monkeypatch.delenv(name)
    for name, value in module_ioc.env.items():
        if name.startswith("EPICS_"):
            monkeypatch.setenv(name, value)
    try:
        yield module_ioc.env
    finally:
        catools.sync.close()
