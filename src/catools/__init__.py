"""catools: EPICS Channel Access in pure Python.

The library (``catools.get``, ``put``, ``monitor``, ``info``, ``wait_for``,
``Context``, the exceptions ``CAError``, ``NotFound``, ``Timeout``, ``AccessDenied``,
``Disconnected``, ``RemoteError``) and the sans-I/O protocol core
(``catools.VirtualCircuit`` ...) are both here. Names are resolved on first use:
``import catools`` itself loads no sockets, threads, logging, click or rich (the
command-line tools rely on that); ``catools.get`` imports the library
(``catools.sync``), ``catools.VirtualCircuit`` the core.
"""
from __future__ import annotations

import sys

from ._version import __version__

# No "import typing" here: a tool's plain command line never loads typing (the modules
# it imports take typing's run-time names from catools.hints).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from .errors import AccessDenied, CAError, Disconnected, NotFound, RemoteError, Timeout
    from .protocol import *  # noqa: F403
    from .results import ChannelInfo, Reading, Result
    from .sync import (Connected, ConnectionLost, Context, Monitor, close, get, info,
                       monitor, parse_condition, put, wait_for)

#: Where each library name lives (the rest come from the protocol core).
_LIBRARY = {
    **dict.fromkeys(("get", "put", "info", "monitor", "wait_for", "parse_condition",
                     "Context", "Monitor", "Connected", "ConnectionLost", "close"),
                    "catools.sync"),
    **dict.fromkeys(("CAError", "NotFound", "Timeout", "AccessDenied", "Disconnected",
                     "RemoteError"), "catools.errors"),
    **dict.fromkeys(("Reading", "Result", "ChannelInfo"), "catools.results"),
}


def _module(name: str) -> Any:
    """The module ``name``, imported (``importlib.import_module`` without loading
    importlib: a one-shot tool does not need it)."""
    __import__(name)
    return sys.modules[name]


def __getattr__(name: str) -> Any:
    # (the module by its full name, not "from . import x": that would ask this hook
    # for "x" first)
    module = _LIBRARY.get(name)
    if module is not None:
        value = getattr(_module(module), name)
    else:
        protocol = _module("catools.protocol")
        if name == "__all__":
            value = ["__version__", *_LIBRARY, *protocol.__all__]
        elif name in protocol.__all__:
            value = getattr(protocol, name)
        else:
            raise AttributeError(f"module 'catools' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__getattr__("__all__")})
