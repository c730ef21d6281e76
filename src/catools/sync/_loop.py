"""The I/O thread of a library Context: it runs a client Context's loop, starts the
work that callers queue for it, and steps the operations in progress after each turn
of the loop. Nothing else ever touches the client Context."""
from __future__ import annotations

import threading
from collections import deque
from time import monotonic
from typing import Any, Callable

from ..client import step_all
from ..errors import CAError

#: ``fail(error)``: how a caller's waiter learns that its work will not run (or failed).
Fail = Callable[[BaseException], None]


class ContextClosed(CAError):
    """The Context was closed (or belongs to the parent of a forked process)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class IOThread:
    """One thread, one client Context; work arrives through :meth:`submit` (a queue
    and a wake-up of the client's poller) from any thread."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.client: Any = None
        #: no more work is taken (close() asked, or the loop ended)
        self.stopping = False
        #: the loop has ended and the client is closed
        self.closed = False
        self._queue: deque[tuple[Callable[[Any], None], Fail]] = deque()
        # -- the I/O thread's own --
        self._active: list[Any] = []            # operations stepped after each turn
        self._waiters: dict[int, Fail] = {}     # id(op) -> fail its caller's wait

    def submit(self, fn: Callable[[Any], None], fail: Fail) -> None:
        """Run ``fn(client)`` on the I/O thread (started on first use); ``fail(error)``
        instead if the loop ends first (or if ``fn`` raises)."""
        with self.lock:
            if self.stopping:
                raise ContextClosed("the catools.Context is closed")
            if self.thread is None:
                self._start()
            self._queue.append((fn, fail))
            # (under the lock: the loop closes the poller, and its pipe, only once
            # ``stopping`` is set, so this never writes to a closed, reused fd)
            self.client.poller.wake()

    def alive(self) -> bool:
        thread = self.thread
        return thread is not None and thread.is_alive()

    def stop(self) -> None:
        """End the loop (work still queued fails with ContextClosed), close the client
        and wait for the thread (unless called from it)."""
        with self.lock:
            if self.stopping:
                return
            self.stopping = True
            thread = self.thread
            if thread is None:
                self.closed = True
                return
            self._queue.append((lambda client: None, lambda exc: None))
            self.client.poller.wake()
        if thread is not threading.current_thread():
            thread.join()

    def _start(self) -> None:
        from ..client import Context as ClientContext
        self.client = ClientContext(self.config)
        self.client.poller.wake()       # (makes its wake-up pipe before any caller uses it)
        self.thread = threading.Thread(target=self._run, name="catools-io", daemon=True)
        self.thread.start()

    # -- on the I/O thread ---------------------------------------------------

    def start_op(self, op: Any, finished: Callable[[Any], None],
                 fail: Fail | None = None) -> None:
        """Start client operation ``op``; ``finished(op)`` once it is done. An error
        goes to ``fail`` (raised when there is none)."""
        key = id(op)
        if fail is not None:
            self._waiters[key] = fail

        def on_done(op: Any) -> None:
            self._waiters.pop(key, None)
            finished(op)
        try:
            op.on_done(on_done)
            now = monotonic()
            op.start(self.client, now)
            if not op.done:
                self._active.append(op)
                op.step(self.client, now)
        except BaseException as exc:
            self._waiters.pop(key, None)
            if op in self._active:
                self._active.remove(op)
            if fail is None:
                raise
            fail(exc)

    def stop_op(self, op: Any) -> None:
        """Step ``op`` no more (a monitor being stopped)."""
        if op in self._active:
            self._active.remove(op)
        self._waiters.pop(id(op), None)

    def _run(self) -> None:
        client = self.client
        queue = self._queue
        try:
            while True:
                while queue:
                    fn, fail = queue.popleft()
                    try:
                        fn(client)
                    except BaseException as exc:
                        fail(exc)
                if self.stopping:
                    break
                now = monotonic()
                due = self._step(now)
                client.process(None if due is None else max(0.0, due - now))
        finally:
            self._shut()

    def _step(self, now: float) -> float | None:
        """Step every operation in progress; the earliest time one is due again."""
        return step_all(self._active, self.client, now, self._waiters)

    def _shut(self) -> None:
        with self.lock:
            self.stopping = True
            pending = list(self._queue)
            self._queue.clear()
            try:
                self.client.close()
            except Exception:       # pragma: no cover - closing is best effort
                pass
            self.closed = True
        error = ContextClosed("the catools.Context was closed")
        waiters = list(self._waiters.values()) + [fail for _, fail in pending]
        self._waiters.clear()
        self._active.clear()
        for fail in waiters:
            fail(error)


__all__ = ["IOThread", "ContextClosed", "Fail"]
