"""The exceptions of catools' client and library: one family under :class:`CAError`.

Each names the PV it concerns (``.name``; None when none does) and says what went
wrong in one line (``str(exc)`` is ``"<name>: <message>"``). They also derive from the
built-in exception a Python user would catch: ``Timeout`` is a ``TimeoutError``,
``AccessDenied`` a ``PermissionError``, ``Disconnected`` and ``NotFound`` are
``ConnectionError``s.
"""
from __future__ import annotations

from .protocol import CaError


class CAError(CaError):
    """An operation on PV ``name`` failed."""

    #: The kind of failure, as ``Result.error_kind`` and the ``--json`` records name it.
    kind = "ca_error"

    def __init__(self, name: str | None, message: str) -> None:
        super().__init__(f"{name}: {message}" if name else message)
        self.name = name
        self.message = message

    @property
    def pv(self) -> str | None:
        """The PV's name (the older spelling of ``name``)."""
        return self.name


class NotFound(CAError, ConnectionError):
    """No server answered the search for ``name`` in time."""

    kind = "not_found"

    def __init__(self, name: str, message: str = "not found") -> None:
        super().__init__(name, message)


class Timeout(CAError, TimeoutError):
    """An operation on ``name`` did not complete in time."""

    kind = "no_data"


class Disconnected(CAError, ConnectionError):
    """The circuit of ``name`` went away (or was never there) while it was needed."""

    kind = "disconnected"


class AccessDenied(CAError, PermissionError):
    """The server does not grant the access an operation needs (``write``: the access
    denied was write access)."""

    kind = "no_read_access"

    def __init__(self, name: str | None, message: str, *, write: bool = False) -> None:
        super().__init__(name, message)
        if write:
            self.kind = "no_write_access"


class RemoteError(CAError):
    """The server answered with a failing ECA status (``.status``, a ``CAStatus``), or,
    with ``refused``, the client would not send a request the server could only fail
    (libca's local ECA_TOLARGE and ECA_BADCOUNT)."""

    kind = "ca_error"

    def __init__(self, name: str | None, status: int, context: str = "", *,
                 refused: bool = False) -> None:
        from .protocol import CAStatus, ca_message
        super().__init__(name, ca_message(status) + (f" ({context})" if context else ""))
        self.refused = refused
        try:
            self.status: int = CAStatus(status)
        except ValueError:
            self.status = status


__all__ = ["CAError", "NotFound", "Timeout", "Disconnected", "AccessDenied", "RemoteError"]
