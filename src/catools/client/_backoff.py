"""Connect back-off per server address (sans-I/O: the Context passes the time in).

A failed circuit (connect refused, dropped before it was healthy, no reply to the
handshake in time) makes the next connect to that address wait: ``first`` seconds after
one failure, doubling with each further failure up to ``ceiling``. A circuit that was
healthy (receiving for ``HEALTHY_AFTER`` seconds) starts the count again, so an ordinary
IOC restart costs only the first, short wait.
"""
from __future__ import annotations

#: A circuit that received data this long before it went away was healthy: its loss
#: starts a new count (libca's disconnect-governor period, 10 s).
HEALTHY_AFTER = 10.0


class Backoff:
    """Failures and the earliest next connect time of each server address."""

    __slots__ = ("first", "ceiling", "_failures", "_retry_at")

    def __init__(self, first: float, ceiling: float) -> None:
        self.first = first
        self.ceiling = max(first, ceiling)
        self._failures: dict[tuple[str, int], int] = {}
        self._retry_at: dict[tuple[str, int], float] = {}

    def retry_at(self, address: tuple[str, int]) -> float:
        """When a connect to ``address`` may be tried (0.0: at once)."""
        return self._retry_at.get(address, 0.0)

    def failures(self, address: tuple[str, int]) -> int:
        """Consecutive failures of ``address`` (0: none, or it was healthy since)."""
        return self._failures.get(address, 0)

    def failed(self, address: tuple[str, int], now: float,
               established_at: float | None = None) -> float:
        """Count a failure of ``address`` at ``now`` (``established_at``: when its circuit
        first received data, if it did); return the time the next connect may happen."""
        count = self._failures.get(address, 0)
        if established_at is not None and now - established_at >= HEALTHY_AFTER:
            count = 0
        count += 1
        self._failures[address] = count
        delay = min(self.first * 2.0 ** min(count - 1, 30), self.ceiling)
        retry = self._retry_at[address] = now + delay
        return retry

    def reset(self, address: tuple[str, int]) -> None:
        """Forget the failures of ``address`` (e.g. its beacon says it restarted)."""
        self._failures.pop(address, None)
        self._retry_at.pop(address, None)


__all__ = ["Backoff", "HEALTHY_AFTER"]
