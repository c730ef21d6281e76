"""catools: EPICS Channel Access in pure Python.

The package namespace is the sans-I/O protocol core (``catools.protocol``); importing
it loads no sockets, threads, logging, click or rich. Names are resolved on first use:
``import catools`` itself costs nothing (the command-line tools rely on that),
``catools.VirtualCircuit`` imports the core, ``catools.get``/``catools.put`` (the
blocking client) import the client.
"""
from __future__ import annotations

from importlib import import_module

from ._version import __version__

# No "import typing" here: the console scripts import this package before they turn
# the cyclic GC off, and typing is loaded (by click) more cheaply after that.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from .client import Context, get, put
    from .protocol import *  # noqa: F403

_CLIENT_NAMES = ("get", "put", "Context")


def __getattr__(name: str) -> Any:
    # (import_module, not "from . import x": that would ask this hook for "x" first)
    if name in _CLIENT_NAMES:
        value = getattr(import_module("catools.client"), name)
    else:
        protocol = import_module("catools.protocol")
        if name == "__all__":
            value = ["__version__", *_CLIENT_NAMES, *protocol.__all__]
        elif name in protocol.__all__:
            value = getattr(protocol, name)
        else:
            raise AttributeError(f"module 'catools' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__getattr__("__all__")})
