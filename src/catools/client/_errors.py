"""Errors of the blocking client; each names the PV it concerns."""
from __future__ import annotations

from ..protocol import CaError


class ClientError(CaError):
    """A client operation failed for ``pv``."""

    def __init__(self, pv: str | None, message: str) -> None:
        super().__init__(f"{pv}: {message}" if pv else message)
        self.pv = pv
        self.message = message


class ChannelNotFoundError(ClientError):
    """No server answered the search for ``pv`` in time."""

    def __init__(self, pv: str) -> None:
        super().__init__(pv, "not found")


class CaTimeoutError(ClientError):
    """An operation on ``pv`` did not complete in time."""


class DisconnectedError(ClientError):
    """The circuit of ``pv`` went away while an operation was pending."""


class AccessDeniedError(ClientError):
    """The server does not grant the access an operation needs."""


class CaStatusError(ClientError):
    """The server answered with a failing ECA status."""

    def __init__(self, pv: str | None, status: int, context: str = "") -> None:
        from ..protocol import ca_message
        super().__init__(pv, ca_message(status) + (f" ({context})" if context else ""))
        self.status = status
