"""The client's errors: the names it has always used, for the one family of
:mod:`catools.errors`."""
from __future__ import annotations

from ..errors import AccessDenied, CAError, Disconnected, NotFound, RemoteError, Timeout

ClientError = CAError
ChannelNotFoundError = NotFound
CaTimeoutError = Timeout
DisconnectedError = Disconnected
AccessDeniedError = AccessDenied
CaStatusError = RemoteError

__all__ = ["ClientError", "ChannelNotFoundError", "CaTimeoutError", "DisconnectedError",
           "AccessDeniedError", "CaStatusError"]
