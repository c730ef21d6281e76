"""Exceptions of the protocol core."""
from __future__ import annotations


class CaError(Exception):
    """Base of every catools exception."""


class ProtocolError(CaError):
    """A rule of the protocol was broken (abstract: raise a subclass)."""

    def __init__(self, *args: object) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract; use LocalProtocolError "
                            "or RemoteProtocolError")
        super().__init__(*args)


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol forbids."""


class RemoteProtocolError(ProtocolError):
    """The peer did something the protocol forbids, or sent malformed bytes."""


def as_remote(exc: LocalProtocolError) -> RemoteProtocolError:
    """Re-express a rule violation detected on received data as the peer's fault."""
    remote = RemoteProtocolError(*exc.args)
    remote.__cause__ = exc
    return remote
