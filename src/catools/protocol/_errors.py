"""Exceptions of the protocol core."""
from __future__ import annotations

from ._headers import Header


class CaError(Exception):
    """Base of every catools exception."""


class ProtocolError(CaError):
    """A rule of the protocol was broken (abstract: raise a subclass).

    Fields (constructor keywords; a circuit fills them in for what it received):

    .. attribute:: header

       The header of the offending message, or None (not from the wire, or not framed).

    .. attribute:: recoverable

       The circuit can go on: the message was framed and consumed, and its fault
       concerns that message (or its channel) alone.

    .. attribute:: ignorable

       A reply or update for an unknown IOID or subscription id (late or duplicated),
       which a client may drop.
    """

    header: Header | None = None
    recoverable: bool = False
    ignorable: bool = False

    def __init__(self, *args: object, header: Header | None = None,
                 recoverable: bool = False, ignorable: bool = False) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract; use LocalProtocolError "
                            "or RemoteProtocolError")
        super().__init__(*args)
        self.header = header
        self.recoverable = recoverable
        self.ignorable = ignorable


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol forbids."""


class RemoteProtocolError(ProtocolError):
    """The peer did something the protocol forbids, or sent malformed bytes.

    .. attribute:: status

       What a server answers the offending request: the ECA code of its ERROR, or None
       to close the circuit without one (a circuit in the server role fills it in, with
       ``recoverable``, as RSRV answers; see ``request_error_hint``).
    """

    status: int | None = None

    def __init__(self, *args: object, header: Header | None = None,
                 recoverable: bool = False, ignorable: bool = False,
                 status: int | None = None) -> None:
        super().__init__(*args, header=header, recoverable=recoverable,
                         ignorable=ignorable)
        self.status = status


def eca_code(name: str) -> int:
    """The code of the ECA status called ``name`` (for the ``status`` of an error)."""
    from ._status import ECA_CODES    # (on first use: the table costs start-up time)
    return next(row.code for row in ECA_CODES if row.name == name)


def as_remote(exc: LocalProtocolError, header: Header | None = None) -> RemoteProtocolError:
    """Re-express a rule violation detected on received data as the peer's fault (with
    the received message's ``header``; ``recoverable``/``ignorable`` carried over)."""
    remote = RemoteProtocolError(*exc.args, header=header, recoverable=exc.recoverable,
                                 ignorable=exc.ignorable)
    remote.__cause__ = exc
    return remote
