"""catools: EPICS Channel Access in pure Python.

The package namespace is the sans-I/O protocol core (``catools.protocol``); importing
it loads no sockets, threads, logging, click or rich. ``catools.get``/``catools.put``
(the blocking client) are loaded on first use.
"""
from typing import Any

from ._version import __version__
from .protocol import *  # noqa: F401,F403
from .protocol import __all__ as _protocol_all

__all__ = ["__version__", "get", "put", *_protocol_all]


def __getattr__(name: str) -> Any:
    # The blocking client is imported only when used, keeping `import catools` pure.
    if name in ("get", "put", "info", "Context"):
        from . import client
        return getattr(client, name)
    raise AttributeError(f"module 'catools' has no attribute {name!r}")
