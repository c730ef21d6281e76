"""A Channel Access server on one thread: selectors, non-blocking sockets, the core.

The server is made of parts, each with its own job: the loop and listeners (_loop), the
UDP side, searches and beacons (_udp), each client's state and output (_connection),
what is read from clients up to the requests (_input), the requests' answers (_handlers)
and the subscriptions (_monitors). UDP: answers searches for the PVs it has and sends
beacons. TCP: one ``VirtualCircuit(SERVER)`` per client, which frames what the client
sends, so that an error can quote the failing request's header, as RSRV does. Each
client has its own output queue; while it owes too much, subscription updates are
coalesced (the latest value is sent once the client catches up, whichever way its
output drains), and above PAUSE_READING no further request of that client is processed
(nor read from its socket) until the queue drains. Large replies are made a chunk at a
time as they are sent (_replies), large writes received in place and converted a chunk
per loop turn (_bigwrite); output made and not sent is bounded for all clients by
OUTPUT_BUDGET. When accept() runs out of descriptors, accepting pauses for ACCEPT_PAUSE s
(RSRV sleeps too).

Requests and replies are bounded by :meth:`Server.request_limit`: with
EPICS_CA_AUTO_ARRAY_BYTES=NO it is RSRV's EPICS_CA_MAX_ARRAY_BYTES + 24; with it on
(the default) RSRV would grow its buffers to whatever a client announces, so we take
the larger of that and what the largest PV can use (all its elements as DBR_STRING with
the largest metadata). Larger requests are answered with ERROR ECA_TOLARGE and drained,
larger reads with ERROR ECA_TOLARGE; the client stays connected, as with RSRV.
"""
from __future__ import annotations

import selectors
import socket
import sys
import threading
import time
from collections import deque
from typing import Any, Callable, Iterable, Mapping

from ..config import ServerConfig
from ..netinfo import tcp_listener, udp_socket
from ..protocol import (DBR_TYPES, DEFAULT_PROTOCOL_VERSION, ErrorResponse,
                        LocalProtocolError, VersionResponse, data_size)
from ..stream import OutputBudget
from . import _bigwrite
from ._connection import HIGH_WATER, PAUSE_READING, _Client
from ._handlers import NO_CID
from ._input import BIG_REQUEST, OUTPUT_BUDGET, RequestReader
from ._loop import ACCEPT_PAUSE, Listeners, Loop
from ._monitors import Monitors
from ._pvdb import PV
from ._udp import UdpService

_MINOR = DEFAULT_PROTOCOL_VERSION
#: Bytes of big requests all clients together may have buffered (at least one request
#: of the largest allowed size); others wait, not read, until there is room.
INPUT_BUDGET = 64 << 20


def _largest_reply(count: int) -> int:
    """Bytes of the largest DBR structure of any type with ``count`` elements (padded)."""
    return (max(data_size(row.id, count) for row in DBR_TYPES) + 7) & ~7


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


class Server:
    """A Channel Access server for a set of :class:`PV` objects.

    ``Server(pvs, config)`` with ``config`` a :class:`~catools.config.ServerConfig`
    (default: RSRV defaults; port 0 picks a free TCP port and the same UDP port).
    ``bind()`` opens the sockets, ``serve_forever()`` runs the loop in this thread until
    ``stop()``; ``start_in_thread()`` runs it in a daemon thread (for tests/embedding).
    ``log(message)`` reports what goes wrong (default: a line on stderr).
    """

    def __init__(self, pvs: Iterable[PV] | Mapping[str, PV] = (),
                 config: ServerConfig | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.config = config if config is not None else ServerConfig()
        #: reports what goes wrong (one line each)
        self.log: Callable[[str], None] = log if log is not None else _stderr
        self.pvs: dict[str, PV] = {}
        self._largest_pv_bytes = 0
        self._input_held = 0                  # input budget held by big requests
        self._input_queue: deque[_Client] = deque()   # clients waiting for budget
        self.port: int | None = None
        self.addresses: list[tuple[str, int]] = []
        self.loop = Loop(self.log)
        self._selector = self.loop.selector
        self.listeners = Listeners(self.loop, self._accepted, self.log)
        self.udp = UdpService(self, self.loop.schedule)
        self.monitors = Monitors(self, self.loop.in_loop, self.loop.wake)
        self.requests = RequestReader(self)
        self._clients: set[_Client] = set()
        self._dirty: list[_Client] = []       # clients with queued output
        self._jobs: deque[_Client] = deque()  # clients with a large write being converted
        #: output bytes made and not yet sent, all clients (bounded by OUTPUT_BUDGET)
        self.budget = OutputBudget()
        self._next_sid = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._bound = False
        for pv in (pvs.values() if isinstance(pvs, Mapping) else pvs):
            self.add_pv(pv)

    # -- PVs ----------------------------------------------------------------

    def add_pv(self, pv: PV) -> PV:
        """Serve ``pv`` (names must be unique)."""
        if pv.name in self.pvs:
            raise ValueError(f"duplicate PV name {pv.name!r}")
        self.pvs[pv.name] = pv
        self._largest_pv_bytes = max(self._largest_pv_bytes, _largest_reply(pv.count))
        pv.add_listener(self.monitors.on_pv_change)
        return pv

    @property
    def output_held(self) -> int:
        """Output bytes made and not yet sent, all clients (bounded by OUTPUT_BUDGET)."""
        return self.budget.held

    @property
    def request_limit(self) -> int:
        """Largest message body taken from, or sent to, a client (see the module doc)."""
        floor = self.config.max_array_bytes + 24
        if not self.config.auto_array_bytes:
            return floor
        return max(floor, self._largest_pv_bytes)

    def __getitem__(self, name: str) -> PV:
        return self.pvs[name]

    def new_sid(self) -> int:
        """A server id for a new channel."""
        sid = self._next_sid
        self._next_sid = (sid + 1) & 0xFFFFFFFF
        return sid

    # -- life cycle ----------------------------------------------------------

    def bind(self) -> None:
        """Open the TCP listeners and UDP sockets (idempotent)."""
        if self._bound:
            return
        hosts = self.config.intf_addr_list or ["0.0.0.0"]
        try:
            port = self.config.port
            for host in hosts:
                listener = tcp_listener(host, port)
                port = listener.getsockname()[1]
                self.listeners.sockets.append(listener)
                self.addresses.append((host, port))
            self.port = port
            for host in hosts:
                self.udp.sockets.append(udp_socket(host, port))
        except OSError:
            self._close_sockets()
            raise
        self.listeners.watch()
        for udp in self.udp.sockets:
            self._selector.register(udp, selectors.EVENT_READ, self.udp.on_readable)
        self.loop.watch_wakeups()
        self.udp.find_beacon_targets()
        self._bound = True

    def serve_forever(self) -> None:
        """Run the event loop in the calling thread until :meth:`stop`."""
        self.bind()
        self.loop.thread = threading.get_ident()
        self.loop.schedule(0.0, self.udp.send_beacon)
        try:
            while not self._stopping.is_set():
                self._run_once()
        finally:
            self._shutdown()

    def start_in_thread(self) -> "Server":
        """Bind, then run :meth:`serve_forever` in a daemon thread; returns self."""
        self.bind()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name=f"catools-server-{self.port}")
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop (from any thread, or a signal handler) and close every socket."""
        self._stopping.set()
        self.loop.wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> "Server":
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` in the server thread after ``delay`` seconds."""
        self.loop.call_later(delay, callback)

    def add_periodic(self, interval: float, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` in the server thread every ``interval`` seconds."""
        def tick() -> None:
            try:
                callback()
            finally:
                self.loop.schedule(interval, tick)
        self.call_later(interval, tick)

    @property
    def client_count(self) -> int:
        """Number of connected TCP clients."""
        return len(self._clients)

    # -- loop ---------------------------------------------------------------

    def _run_once(self) -> None:
        monitors = self.monitors
        busy = bool(monitors.posted or self._dirty or self._jobs)
        for key, events in self.loop.select(busy):
            handler = key.data
            if isinstance(handler, _Client):
                self.requests.on_events(handler, events)
            else:
                handler(events)
        self.loop.run_timers()
        self._run_jobs()
        monitors.dispatch()
        if self._dirty:
            dirty, self._dirty = self._dirty, []
            for client in dirty:
                client.flush()

    def _run_jobs(self) -> None:
        """Give each large write being converted one time slice."""
        for _ in range(len(self._jobs)):
            client = self._jobs.popleft()
            if client.closed or client.job is None:
                continue
            if not _bigwrite.run(self, client, time.monotonic() + _bigwrite.JOB_SLICE,
                                 time.monotonic):
                self._jobs.append(client)

    def _shutdown(self) -> None:
        for client in list(self._clients):
            self._drop(client)
        self._close_sockets()
        self.loop.thread = None

    def _close_sockets(self) -> None:
        for sock in (*self.listeners.sockets, *self.udp.sockets):
            self.loop.forget(sock)
            sock.close()
        self.listeners.sockets.clear()
        self.udp.sockets.clear()

    # -- clients --------------------------------------------------------------

    def _accepted(self, sock: socket.socket, address: Any) -> None:
        client = _Client(self, sock, address)
        self._clients.add(client)
        self._selector.register(sock, selectors.EVENT_READ, client)
        self._send(client, VersionResponse(version=_MINOR))

    def _drop(self, client: _Client) -> None:
        """Forget a client: its subscriptions, its socket."""
        if client.closed:
            return
        client.closed = True
        client.waiting = False
        client.job = client.body = None
        client.stream.closed = True
        client.stream.release()
        if client.reserved:
            self._release_input(client)
        for subid in list(client.subs):
            self.monitors.remove(client, subid)
        self._clients.discard(client)
        self.loop.forget(client.sock)
        client.sock.close()

    def _close_after_flush(self, client: _Client) -> None:
        client.closing = True
        client.circuit.receive_buffer.clear()
        if not client.queued:
            self._drop(client)
        else:
            client._update_interest()

    def _send(self, client: _Client, *commands: Any) -> None:
        try:
            data = client.circuit.send(*commands)
        except (LocalProtocolError, ValueError, OverflowError) as exc:
            self.log(f"catools serve: dropping {client.address[0]}:{client.address[1]}: "
                     f"{exc}")
            self._drop(client)
            return
        client.send(data)

    def _error(self, client: _Client, header: bytes, status: int, message: str,
               cid: int = NO_CID) -> None:
        self._send(client, ErrorResponse(original_request=header, cid=cid,
                                         status=int(status), error_message=message[:400]))

    def _process_input(self, client: _Client, data: bytes) -> None:
        self.requests.process(client, data)

    def _flush_pending(self, client: _Client) -> None:
        self.monitors.flush_pending(client)

    # -- the input budget of big requests ----------------------------------------

    def _reserve_input(self, client: _Client, size: int) -> bool:
        """Take ``size`` bytes of the input budget for ``client``'s big request."""
        budget = max(INPUT_BUDGET, self.request_limit)
        if self._input_held and self._input_held + size > budget:
            return False
        self._input_held += size
        client.reserved = size
        return True

    def _release_input(self, client: _Client) -> None:
        """Give back ``client``'s share of the budget; let waiting clients read on."""
        self._input_held -= client.reserved
        client.reserved = 0
        queue = self._input_queue
        while queue:
            waiter = queue[0]
            if waiter.closed or not waiter.waiting:
                queue.popleft()
                continue
            peeked = waiter.circuit.receive_buffer.peek()
            size = peeked[0].payload_size if peeked is not None else 0
            if not self._reserve_input(waiter, size):
                break
            queue.popleft()
            waiter.waiting = False
            waiter._update_interest()


__all__ = ["Server", "HIGH_WATER", "PAUSE_READING", "ACCEPT_PAUSE", "BIG_REQUEST",
           "INPUT_BUDGET", "OUTPUT_BUDGET"]
