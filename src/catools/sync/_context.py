"""The library's Context: the settings, caches and waits of the calls, over one I/O
thread (``_loop.IOThread``) that runs a client Context's loop for every thread of the
program.

Callers never touch the client Context: they hand a function or an operation to the
I/O thread (:meth:`Context.call`, :meth:`Context.run`) and wait on an Event that the
function, or the operation's ``on_done``, sets.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterable, NamedTuple

from ..config import ClientConfig
from ._args import client_config as _config
from ._book import IN_USE_VIEW, MONITORS_VIEW, ChannelBook
from ._loop import ContextClosed, IOThread

#: Seconds between checks, while a caller waits, that the I/O thread is still alive.
_ALIVE_CHECK = 0.5


class Status(NamedTuple):
    """A snapshot of a :class:`Context` (:meth:`Context.status`)."""

    search_targets: list[tuple[str, int]]
    connected: list[str]
    unconnected: list[str]


class Context:
    """A Channel Access client for all the threads of a program.

    The keyword arguments override the environment's ``EPICS_CA_*`` variables (read
    once, here): ``addr_list`` (``"host[:port] ..."`` or a list of such strings or
    ``(host, port)`` pairs), ``auto_addr_list``, ``name_servers``, ``server_port``,
    ``max_array_bytes``. ``config`` (a ``catools.config.ClientConfig``) replaces the
    environment altogether.

    Channels that connected stay cached for the next call (as pyepics keeps them);
    names that were not found are released. :meth:`release` frees a channel at once.
    A Context made before ``os.fork()`` refuses to work in the child (``CAError``):
    make a new one there (the default context of ``catools.get`` does so by itself).
    """

    def __init__(self, config: ClientConfig | None = None, *,
                 addr_list: Any = None, auto_addr_list: bool | None = None,
                 name_servers: Any = None, server_port: int | None = None,
                 max_array_bytes: int | None = None) -> None:
        self.config: ClientConfig = _config(config, addr_list, auto_addr_list,
                                            name_servers, server_port, max_array_bytes)
        self._pid = os.getpid()
        self.io = IOThread(self.config)
        #: the channels kept between calls (by the I/O thread only)
        self.book = ChannelBook()

    monitors = MONITORS_VIEW
    in_use = IN_USE_VIEW

    @property
    def closed(self) -> bool:
        return self.io.stopping or os.getpid() != self._pid

    def _check(self) -> None:
        if os.getpid() != self._pid:
            raise ContextClosed(
                f"this catools.Context was made in process {self._pid}, before a fork: "
                "make a new Context in the child")
        if self.io.stopping:
            raise ContextClosed("the catools.Context is closed")

    def call(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(client_context)`` on the I/O thread and return what it returns (or
        raise what it raises)."""
        done = threading.Event()
        box: list[Any] = [None, None]

        def run(client: Any) -> None:
            box[0] = fn(client)
            done.set()

        def fail(exc: BaseException) -> None:
            box[1] = exc
            done.set()
        self._check()
        self.io.submit(run, fail)
        self._wait(done)
        if box[1] is not None:
            raise box[1]
        return box[0]

    def run(self, op: Any, then: Callable[[Any, Any], None] | None = None) -> Any:
        """Start a client operation on the I/O thread, wait until it is done, and
        return it. ``then(op, client)`` runs on the I/O thread once it is done."""
        done = threading.Event()
        box: list[Any] = [None]
        io = self.io

        def fail(exc: BaseException) -> None:
            box[0] = exc
            done.set()

        def finished(op: Any) -> None:
            if then is not None:
                try:
                    then(op, io.client)
                except BaseException as exc:
                    box[0] = exc
            done.set()
        self._check()
        io.submit(lambda client: io.start_op(op, finished, fail), fail)
        self._wait(done)
        if box[0] is not None:
            raise box[0]
        return op

    def _wait(self, done: threading.Event) -> None:
        while not done.wait(_ALIVE_CHECK):
            if not self.io.alive() and not done.is_set():
                raise ContextClosed("the catools.Context's I/O thread has stopped")

    def release(self, name: str) -> None:
        """Free the channel of ``name`` (its monitors stop, it is not searched again);
        the next call that names it makes a new one."""
        from ._args import check_name
        check_name(name)
        self._check()
        if self.io.thread is not None:
            self.call(lambda client: self.forget([name], client, force=True))

    def status(self) -> Status:
        """Where the client searches, the names of its connected channels and of
        those it is still searching for."""
        def snapshot(client: Any) -> Status:
            status = client.describe()
            return Status(list(status.search_targets),
                          [pv.name for circuit in status.circuits for pv in circuit.pvs],
                          [pv.name for pv in status.unconnected])
        self._check()
        if self.io.thread is None:
            return Status([], [], [])
        return self.call(snapshot)

    def close(self) -> None:
        """Stop the monitors, clear the channels, close the sockets and stop the I/O
        thread. Calls still waiting fail with CAError. Safe to call twice; in a
        forked child it touches nothing of the parent's."""
        if os.getpid() != self._pid:
            return
        for monitor in list(self.book.monitors):
            monitor.close()
        self.io.stop()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running" if self.io.thread else "idle"
        return f"<catools.Context {state}>"

    # -- on the I/O thread ---------------------------------------------------

    def start_op(self, op: Any, finished: Callable[[Any], None]) -> None:
        """(I/O thread) Start ``op``; ``finished(op)`` once it is done."""
        self.io.start_op(op, finished)

    def stop_op(self, op: Any) -> None:
        """(I/O thread) Step ``op`` no more (a monitor being stopped)."""
        self.io.stop_op(op)

    def settle(self, results: Iterable[Any], client: Any) -> None:
        """(I/O thread) Keep the channels of the names a call reached; release those
        not found (unless a monitor uses them)."""
        missing = self.book.settle(results)
        if missing:
            self.forget(missing, client)

    def forget(self, names: Iterable[str], client: Any, force: bool = False) -> None:
        """(I/O thread) Release the channels of ``names`` that no monitor uses (all of
        them with ``force``)."""
        release = getattr(client, "release", None)
        for name in self.book.drop(names, force):
            if release is not None:
                release(name)


# -- the default Context -----------------------------------------------------

_default: Context | None = None
_default_lock = threading.Lock()


def default_context() -> Context:
    """The Context of calls without ``context=``: made from the environment on first
    use (again in a forked child), closed at exit."""
    global _default
    ctx = _default
    if ctx is not None and not ctx.closed:
        return ctx
    with _default_lock:
        ctx = _default
        if ctx is None or ctx.closed:
            ctx = _default = Context()
        return ctx


def close() -> None:
    """Close the default Context (the next call makes a new one)."""
    global _default
    with _default_lock:
        ctx, _default = _default, None
    if ctx is not None and ctx._pid == os.getpid():
        ctx.close()


def _after_fork_in_child() -> None:
    global _default, _default_lock
    _default = None                 # the parent's: never used (nor closed) here
    _default_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
import atexit  # noqa: E402

atexit.register(close)

__all__ = ["Context", "ContextClosed", "Status", "default_context", "close"]
