"""The server's event loop (a selector, timers, and a socket pair that wakes the loop
from other threads: a PV written there, ``stop()``, ``call_later``) and its listeners."""
from __future__ import annotations

import errno
import heapq
import itertools
import selectors
import socket
import threading
import time
from typing import Any, Callable

#: The longest the loop sleeps with nothing to do (s).
IDLE_WAIT = 0.5
#: accept() errors that mean "no descriptors or memory now": pause accepting this long.
NO_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
ACCEPT_PAUSE = 1.0


class Loop:
    """``select(busy)`` waits for the registered sockets (not at all when ``busy``, at
    most until the next timer); ``run_timers()`` runs the timers due, reporting a
    failing one with ``log`` and going on."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.selector = selectors.DefaultSelector()
        self.thread: int | None = None         # the loop's thread, while it runs
        self._log = log
        self._timers: list[tuple[float, int, Callable[[], Any]]] = []
        self._timer_seq = itertools.count()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    def watch_wakeups(self) -> None:
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)

    def in_loop(self) -> bool:
        """True in the loop's thread."""
        return threading.get_ident() == self.thread

    def schedule(self, delay: float, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` in the loop after ``delay`` seconds (from the loop)."""
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_seq),
                                      callback))

    def call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        """:meth:`schedule` from any thread."""
        self.schedule(delay, callback)
        if not self.in_loop():
            self.wake()

    def wake(self) -> None:
        """Make a wait in progress (or the next one) return at once."""
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass

    def _on_wake(self, _events: int) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def select(self, busy: bool) -> list[tuple[selectors.SelectorKey, int]]:
        timeout = IDLE_WAIT
        if self._timers:
            timeout = max(0.0, min(timeout, self._timers[0][0] - time.monotonic()))
        return self.selector.select(0.0 if busy else timeout)

    def run_timers(self) -> None:
        now = time.monotonic()
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, callback = heapq.heappop(timers)
            try:
                callback()
            except Exception as exc:  # keep serving; report the bug once per call
                self._log(f"catools serve: error in timer {callback!r}: {exc!r}")

    def forget(self, sock: Any) -> None:
        """Stop watching ``sock`` (nothing happens if it is not watched)."""
        try:
            self.selector.unregister(sock)
        except (KeyError, ValueError):
            pass




class Listeners:
    """The TCP listening sockets (``sockets``, bound by the server): ``on_readable``
    accepts every waiting client and hands it to ``accepted(sock, address)``. When
    accept() runs out of descriptors or memory, accepting pauses for ACCEPT_PAUSE s
    (said once with ``log``), as RSRV sleeps, instead of spinning on a listener that
    stays readable."""

    def __init__(self, loop: Loop, accepted: Callable[[socket.socket, Any], None],
                 log: Callable[[str], None]) -> None:
        self.sockets: list[socket.socket] = []
        self._loop = loop
        self._accepted = accepted
        self._log = log
        self._paused_once = False

    def watch(self) -> None:
        for listener in self.sockets:
            try:
                self._loop.selector.register(listener, selectors.EVENT_READ,
                                             self.on_readable)
            except (KeyError, ValueError):
                pass                                   # registered already

    def on_readable(self, _events: int) -> None:
        for listener in self.sockets:
            while True:
                try:
                    sock, address = listener.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    if exc.errno in NO_RESOURCES:
                        self._pause(exc)
                        return
                    break          # e.g. ECONNABORTED: that client is gone
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                self._accepted(sock, address)

    def _pause(self, exc: OSError) -> None:
        if not self._paused_once:
            self._log(f"catools serve: cannot accept a client: {exc.strerror}; accepting "
                      f"again every {ACCEPT_PAUSE:g} s")
            self._paused_once = True
        for listener in self.sockets:
            self._loop.forget(listener)
        self._loop.schedule(ACCEPT_PAUSE, self.watch)


__all__ = ["Loop", "Listeners", "IDLE_WAIT", "ACCEPT_PAUSE", "NO_RESOURCES"]
