"""Roles, sentinels and state names."""
from __future__ import annotations

import enum


class Role(enum.Enum):
    """Which end of the conversation we are."""

    CLIENT = "CLIENT"
    SERVER = "SERVER"

    # Members are singletons: hash by identity (Enum's own __hash__ is Python code and
    # sits on the parser's hot path through dict lookups).
    __hash__ = object.__hash__

    @property
    def peer(self) -> "Role":
        return Role.SERVER if self is Role.CLIENT else Role.CLIENT

    def __repr__(self) -> str:
        return f"Role.{self.value}"


CLIENT = Role.CLIENT
SERVER = Role.SERVER


class _Sentinel:
    """A named singleton returned instead of a command (compared with ``is``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __reduce__(self) -> str:
        return self.name        # pickled by reference to the module's constant


#: ``next_command()`` needs more bytes before it can return a command.
NEED_DATA = _Sentinel("NEED_DATA")
#: The peer closed the stream (``recv(b'')``).
DISCONNECTED = _Sentinel("DISCONNECTED")


class CircuitState(enum.Enum):
    """State of one side of a virtual circuit."""

    SEND_VERSION_REQUEST = "SEND_VERSION_REQUEST"
    SEND_VERSION_RESPONSE = "SEND_VERSION_RESPONSE"
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"

    __hash__ = object.__hash__


class ChannelState(enum.Enum):
    """State of one channel on a circuit (shared by both roles)."""

    SEND_CREATE_CHAN_REQUEST = "SEND_CREATE_CHAN_REQUEST"
    AWAIT_CREATE_CHAN_RESPONSE = "AWAIT_CREATE_CHAN_RESPONSE"
    CONNECTED = "CONNECTED"
    MUST_CLOSE = "MUST_CLOSE"
    CLOSED = "CLOSED"
    FAILED = "FAILED"
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"

    __hash__ = object.__hash__
