"""catools: EPICS Channel Access in pure Python.

The package namespace is the sans-I/O protocol core (``catools.protocol``); importing
it loads no sockets, threads, logging, click or rich. ``catools.get``/``catools.put``
(the blocking client) are loaded on first use.
"""
from typing import Any

from . import protocol as _protocol
from ._version import __version__

_LAZY = ("CAStatus", "ChannelType", "field_types", "AlarmStatus", "AlarmSeverity")
globals().update({name: getattr(_protocol, name) for name in _protocol.__all__
                  if name not in _LAZY})

__all__ = ["__version__", "get", "put", "Context", *_protocol.__all__]


def __getattr__(name: str) -> Any:
    # The blocking client is imported only when used, keeping `import catools` pure;
    # CAStatus is built on first use.
    if name in ("get", "put", "Context"):
        from . import client
        return getattr(client, name)
    if name in _LAZY:
        return getattr(_protocol, name)
    raise AttributeError(f"module 'catools' has no attribute {name!r}")
