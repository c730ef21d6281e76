"""Readiness of the client's sockets: ``select.epoll`` (``select.poll`` where there is
no epoll), as ``selectors.DefaultSelector`` would use it, without importing selectors
and socket (~2 ms of a one-shot tool's start-up) or a Python layer per wait."""
from __future__ import annotations

import select
from ..hints import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

#: Event bits (the same values for epoll and poll).
READ = select.POLLIN
WRITE = select.POLLOUT
_TROUBLE = select.POLLERR | select.POLLHUP


class Poller:
    """Sockets registered with a piece of data each; ``wait`` reports the ready ones."""

    def __init__(self) -> None:
        epoll = getattr(select, "epoll", None)
        self._epoll = epoll() if epoll is not None else None
        self._poll = self._epoll if self._epoll is not None else select.poll()
        self._data: dict[int, Any] = {}
        self._wake_r = self._wake_w = -1          # a pipe, made by the first wake()

    def fileno(self) -> int:
        """The epoll descriptor, readable while a registered socket is ready (an outer
        loop, such as asyncio's, may watch it); -1 where there is no epoll."""
        return self._epoll.fileno() if self._epoll is not None else -1

    def register(self, sock: Any, events: int, data: Any) -> None:
        fd = sock.fileno()
        self._poll.register(fd, events)
        self._data[fd] = data

    def modify(self, sock: Any, events: int) -> None:
        self._poll.modify(sock.fileno(), events)

    def unregister(self, sock: Any) -> None:
        """Forget ``sock`` (before closing it; nothing happens if it is unknown)."""
        fd = sock.fileno()
        if self._data.pop(fd, _MISSING) is not _MISSING:
            try:
                self._poll.unregister(fd)
            except (OSError, ValueError):    # (closed already)
                pass

    def wake(self) -> None:
        """Make a ``wait`` in progress (or the next one) return at once; safe to call
        from any thread (the library's callers wake its I/O thread this way)."""
        if self._wake_w < 0:
            import os
            r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            self._poll.register(r, READ)
            self._wake_r, self._wake_w = r, w
        try:
            import os
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass                # (full: a wake-up is pending already)

    def _drain(self) -> None:
        import os
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def wait(self, timeout: float | None) -> list[tuple[Any, int]]:
        """``[(data, events), ...]`` of the sockets ready within ``timeout`` seconds
        (None: no limit); an error or hang-up counts as readable and writable, so that
        the read or write that follows reports it."""
        if self._epoll is not None:
            ready = self._epoll.poll(-1 if timeout is None else timeout)
        else:
            ready = self._poll.poll(None if timeout is None else timeout * 1000.0)
        data = self._data
        if self._wake_r >= 0 and any(fd == self._wake_r for fd, _ in ready):
            self._drain()
        return [(data[fd], events | (READ | WRITE) if events & _TROUBLE else events)
                for fd, events in ready if fd in data]

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
        self._data.clear()
        if self._wake_w >= 0:
            import os
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1


_MISSING = object()
