"""The names of :mod:`typing` that the modules of a one-shot tool use at run time, without
importing typing (~3 ms of a one-PV caget's ~30): those modules import the rest of
typing's names under ``if TYPE_CHECKING:``, for the type checker alone."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Protocol as Protocol
    from typing import cast as cast
else:
    #: A base for structural types: a plain class at run time.
    Protocol = object

    def cast(typ: object, value: object) -> object:
        """``typing.cast``: ``value``, unchanged."""
        return value

__all__ = ["TYPE_CHECKING", "Protocol", "cast"]
