"""The asyncio twin's Context: the library's settings and channel cache over a client
Context that the running event loop drives (``_driver``); no threads.

It offers the same I/O-side interface as ``catools.sync.Context`` (``call``,
``start_op``, ``stop_op``, ``settle``, ``forget`` and a ``book``, the same
:class:`catools.sync.ChannelBook`), so the library's monitor logic serves both twins.
"""
from __future__ import annotations

import asyncio
import weakref
from typing import Any, Callable, Iterable

from ..arguments import check_name, client_config
from ..config import ClientConfig
from ..sync import IN_USE_VIEW, MONITORS_VIEW, ChannelBook, ContextClosed, Status
from ._driver import Driver


class Context:
    """A Channel Access client for the coroutines of one asyncio event loop.

    It takes the arguments of ``catools.Context`` (``addr_list``, ``auto_addr_list``,
    ``name_servers``, ``server_port``, ``max_array_bytes``, or a whole ``config``),
    which override the environment's ``EPICS_CA_*`` variables. Its sockets are made
    on first use, in the running loop, and it belongs to that loop. Channels that
    connected stay cached for the next call; names not found are released.
    ``async with`` (or :meth:`close`) closes it.
    """

    def __init__(self, config: ClientConfig | None = None, *,
                 addr_list: Any = None, auto_addr_list: bool | None = None,
                 name_servers: Any = None, server_port: int | None = None,
                 max_array_bytes: int | None = None) -> None:
        self.config: ClientConfig = client_config(config, addr_list, auto_addr_list,
                                                  name_servers, server_port,
                                                  max_array_bytes)
        self._driver: Driver | None = None
        self._closed = False
        #: the channels kept between calls
        self.book = ChannelBook()

    monitors = MONITORS_VIEW
    in_use = IN_USE_VIEW

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def client(self) -> Any:
        """The client Context (``catools.client.Context``) under this one: its
        ``pvs`` and ``describe()`` show the channels and circuits (made on first
        use, in the running loop)."""
        return self._drive().client

    def _drive(self) -> Driver:
        if self._closed:
            raise ContextClosed("the catools.aio.Context is closed")
        loop = asyncio.get_running_loop()
        driver = self._driver
        if driver is None:
            driver = self._driver = Driver(self.config, loop)
        elif driver._loop() is not loop:
            raise ContextClosed("this catools.aio.Context belongs to another event loop")
        return driver

    async def run(self, op: Any) -> Any:
        """Start client operation ``op``, wait until it is done and return it.
        Cancelled, it stops the operation and releases the channels it made (those no
        earlier call or monitor holds)."""
        driver = self._drive()
        done = asyncio.get_running_loop().create_future()

        def finished(op: Any) -> None:
            if not done.done():
                done.set_result(op)

        def fail(exc: BaseException) -> None:
            if not done.done():
                done.set_exception(exc)
        driver.start(op, finished, fail)
        try:
            await done
        except BaseException:
            if not op.done:
                driver.stop(op)
                if not driver.closed:       # (the channels earlier calls kept stay)
                    names = getattr(op, "names", None) or [n for n, _ in op.items]
                    self.forget([name for name in dict.fromkeys(names)
                                 if name not in self.book.known], driver.client)
            raise
        self.settle(op.results, driver.client)
        return op

    # -- the interface the library's monitor uses (as catools.sync.Context's) -----

    def call(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(client_context)``, at once (this is the loop's thread)."""
        driver = self._drive()
        try:
            return fn(driver.client)
        finally:
            driver.poke()

    def start_op(self, op: Any, finished: Callable[[Any], None]) -> None:
        self._drive().start(op, finished)

    def stop_op(self, op: Any) -> None:
        if self._driver is not None:
            self._driver.stop(op)
            self._driver.poke()

    def settle(self, results: Iterable[Any], client: Any) -> None:
        """Keep the channels of the names a call reached; release those not found
        (unless a monitor uses them)."""
        missing = self.book.settle(results)
        if missing:
            self.forget(missing, client)

    def forget(self, names: Iterable[str], client: Any, force: bool = False) -> None:
        """Release the channels of ``names`` that no monitor uses (all of them with
        ``force``)."""
        for name in self.book.drop(names, force):
            client.release(name)
        if self._driver is not None:
            self._driver.poke()         # (CLEAR_CHANNELs to send)

    # -- the caller's side -------------------------------------------------------

    def release(self, name: str) -> None:
        """Free the channel of ``name`` (its monitors stop, it is not searched again)."""
        check_name(name)
        if self._driver is not None and not self._closed:
            self.forget([name], self._driver.client, force=True)

    def status(self) -> Status:
        """Where the client searches, the names of its connected channels and of
        those it is still searching for."""
        if self._driver is None or self._closed:
            return Status([], [], [])
        status = self._driver.client.describe()
        return Status(list(status.search_targets),
                      [pv.name for circuit in status.circuits for pv in circuit.pvs],
                      [pv.name for pv in status.unconnected])

    def close(self) -> None:
        """Close the monitors, clear the channels and close the sockets; calls still
        waiting raise ContextClosed (a CAError). Safe to call twice."""
        if self._closed:
            return
        for monitor in list(self.book.monitors):
            monitor.close()
        self._closed = True
        if self._driver is not None:
            self._driver.close(ContextClosed("the catools.aio.Context was closed"))

    async def __aenter__(self) -> "Context":
        self._drive()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._driver else "idle"
        return f"<catools.aio.Context {state}>"


# -- the default Context: one per event loop ------------------------------------

_defaults: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Context]" = \
    weakref.WeakKeyDictionary()


def default_context() -> Context:
    """The Context of calls without ``context=`` in the running loop: made from the
    environment on first use, closed with the loop (or by :func:`close`)."""
    loop = asyncio.get_running_loop()
    ctx = _defaults.get(loop)
    if ctx is None or ctx.closed:
        ctx = _defaults[loop] = Context()
        ctx._drive()
        # the sockets close when the loop goes (asyncio.run drops it at its end)
        weakref.finalize(loop, ctx.close)
    return ctx


def close() -> None:
    """Close the running loop's default Context (the next call makes a new one)."""
    ctx = _defaults.pop(asyncio.get_running_loop(), None)
    if ctx is not None:
        ctx.close()


__all__ = ["Context", "default_context", "close"]
