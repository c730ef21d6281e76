"""A Channel Access server on one thread: selectors, non-blocking sockets, the core.

UDP: answers searches for the PVs it has and sends beacons. TCP: one
``VirtualCircuit(SERVER)`` per client; every message is framed here first so that an
error can quote the failing request's header, as RSRV does. Each client has its own
output queue (_connection); while it owes too much, subscription updates are coalesced
(the latest value is sent once the client catches up, whichever way its output drains),
and above PAUSE_READING no further request of that client is processed (nor read from
its socket) until the queue drains. Large replies are made a chunk at a time as they are
sent (_replies), large writes received in place and converted a chunk per loop turn
(_bigwrite); output made and not sent is bounded for all clients by OUTPUT_BUDGET. When
accept() runs out of descriptors, accepting pauses for ACCEPT_PAUSE s (RSRV sleeps too).

Requests and replies are bounded by :meth:`Server.request_limit`: with
EPICS_CA_AUTO_ARRAY_BYTES=NO it is RSRV's EPICS_CA_MAX_ARRAY_BYTES + 24; with it on
(the default) RSRV would grow its buffers to whatever a client announces, so we take
the larger of that and what the largest PV can use (all its elements as DBR_STRING with
the largest metadata). Larger requests are answered with ERROR ECA_TOLARGE and drained,
larger reads with ERROR ECA_TOLARGE; the client stays connected, as with RSRV.
"""
from __future__ import annotations

import errno
import heapq
import itertools
import selectors
import socket
import sys
import threading
import time
from collections import deque
from typing import Any, Callable, Iterable, Mapping, cast

from ..config import ServerConfig
from ..stream import OutputBudget
from ..protocol import (DEFAULT_PROTOCOL_VERSION, DISCONNECTED, DO_REPLY, NEED_DATA,
                        SERVER, AccessRights, Beacon, Broadcaster, CAStatus,
                        ClearChannelRequest, CreateChanRequest, EchoRequest, EchoResponse,
                        ErrorResponse, EventAddRequest, EventAddResponse, EventCancelRequest,
                        ClientNameRequest, EventsOffRequest, EventsOnRequest, HostNameRequest,
                        LocalProtocolError,
                        NotFoundResponse, ReadNotifyRequest,
                        ReadNotifyResponse, ReadRequest,
                        ReadResponse, ReadSyncRequest, RemoteProtocolError, SearchRequest,
                        SearchResponse, ServerChannel, VersionRequest, VersionResponse,
                        WriteNotifyRequest, WriteRequest)
from ..protocol import DBR_TYPES, data_size
from . import _bigwrite
from ._net import interface_broadcasts, tcp_listener, udp_socket
from ._connection import HIGH_WATER, PAUSE_READING, _Client, _Sub
from ._pvdb import PV, PutError
from ._replies import Cache, send_dbr

_MINOR = DEFAULT_PROTOCOL_VERSION
_NO_CID = 0xFFFFFFFF
_RECV_SIZE = 1 << 16
#: A request body above this size is buffered only under the server-wide input budget.
BIG_REQUEST = 1 << 20
#: Bytes of big requests all clients together may have buffered (at least one request
#: of the largest allowed size); others wait, not read, until there is room.
INPUT_BUDGET = 64 << 20
#: Output bytes made and not yet sent, all clients together, above which a client that
#: still owes output has its requests wait (large replies are made a chunk at a time,
#: so this bounds what replies and updates hold; see the serve section of catools(1)).
OUTPUT_BUDGET = 16 << 20
_BEACON_FIRST_GAP = 0.02
#: accept() errors that mean "no descriptors or memory now": pause accepting this long.
_NO_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
ACCEPT_PAUSE = 1.0


def _largest_reply(count: int) -> int:
    """Bytes of the largest DBR structure of any type with ``count`` elements (padded)."""
    return (max(data_size(row.id, count) for row in DBR_TYPES) + 7) & ~7


class Server:
    """A Channel Access server for a set of :class:`PV` objects.

    ``Server(pvs, config)`` with ``config`` a :class:`~catools.config.ServerConfig`
    (default: RSRV defaults; port 0 picks a free TCP port and the same UDP port).
    ``bind()`` opens the sockets, ``serve_forever()`` runs the loop in this thread until
    ``stop()``; ``start_in_thread()`` runs it in a daemon thread (for tests/embedding).
    """

    def __init__(self, pvs: Iterable[PV] | Mapping[str, PV] = (),
                 config: ServerConfig | None = None) -> None:
        self.config = config if config is not None else ServerConfig()
        self.pvs: dict[str, PV] = {}
        self._largest_pv_bytes = 0
        self._input_held = 0                  # input budget held by big requests
        self._input_queue: deque[_Client] = deque()   # clients waiting for budget
        for pv in (pvs.values() if isinstance(pvs, Mapping) else pvs):
            self.add_pv(pv)
        self.port: int | None = None
        self.addresses: list[tuple[str, int]] = []
        self._selector = selectors.DefaultSelector()
        self._listeners: list[socket.socket] = []
        self._udp: list[socket.socket] = []
        self._clients: set[_Client] = set()
        self._subs_by_pv: dict[PV, set[_Sub]] = {}
        self._posted: deque[tuple[PV, int]] = deque()
        self._dirty: list[_Client] = []       # clients with queued output
        self._jobs: deque[_Client] = deque()  # clients with a large write being converted
        #: output bytes made and not yet sent, all clients (bounded by OUTPUT_BUDGET)
        self.budget = OutputBudget()
        self._timers: list[tuple[float, int, Callable[[], Any]]] = []
        self._timer_seq = itertools.count()
        self._next_sid = 0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = threading.Event()
        self._loop_thread: int | None = None
        self._thread: threading.Thread | None = None
        self._bound = False
        self._beacon_id = 0
        self._beacon_gap = _BEACON_FIRST_GAP
        self._beacon_targets: list[tuple[str, int]] = []
        self._broadcaster = Broadcaster(SERVER)
        self._accept_paused_once = False

    # -- PVs ----------------------------------------------------------------

    def add_pv(self, pv: PV) -> PV:
        """Serve ``pv`` (names must be unique)."""
        if pv.name in self.pvs:
            raise ValueError(f"duplicate PV name {pv.name!r}")
        self.pvs[pv.name] = pv
        self._largest_pv_bytes = max(self._largest_pv_bytes, _largest_reply(pv.count))
        pv.add_listener(self._on_pv_change)
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
                self._listeners.append(listener)
                self.addresses.append((host, port))
            self.port = port
            for host in hosts:
                self._udp.append(udp_socket(host, port))
        except OSError:
            self._close_sockets()
            raise
        for listener in self._listeners:
            self._selector.register(listener, selectors.EVENT_READ, self._on_accept)
        for udp in self._udp:
            self._selector.register(udp, selectors.EVENT_READ, self._on_udp)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        targets = list(self.config.beacon_addr_list)
        if self.config.auto_beacon_addr_list:
            for host in interface_broadcasts(self.config.intf_addr_list):
                if (host, self.config.beacon_port) not in targets:
                    targets.append((host, self.config.beacon_port))
            for udp in self._udp:
                udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self._beacon_targets = targets
        self._bound = True

    def serve_forever(self) -> None:
        """Run the event loop in the calling thread until :meth:`stop`."""
        self.bind()
        self._loop_thread = threading.get_ident()
        self._schedule(0.0, self._send_beacon)
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
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> "Server":
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` in the server thread after ``delay`` seconds."""
        self._schedule(delay, callback)
        if threading.get_ident() != self._loop_thread:
            self._wake()

    def add_periodic(self, interval: float, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` in the server thread every ``interval`` seconds."""
        def tick() -> None:
            try:
                callback()
            finally:
                self._schedule(interval, tick)
        self.call_later(interval, tick)

    @property
    def client_count(self) -> int:
        """Number of connected TCP clients."""
        return len(self._clients)

    # -- loop ---------------------------------------------------------------

    def _schedule(self, delay: float, callback: Callable[[], Any]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_seq),
                                      callback))

    def _wake(self) -> None:
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

    def _run_once(self) -> None:
        timeout = 0.5
        if self._timers:
            timeout = max(0.0, min(timeout, self._timers[0][0] - time.monotonic()))
        if self._posted or self._dirty or self._jobs:
            timeout = 0.0
        for key, events in self._selector.select(timeout):
            handler = key.data
            if isinstance(handler, _Client):
                self._on_client(handler, events)
            else:
                handler(events)
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, callback = heapq.heappop(self._timers)
            try:
                callback()
            except Exception as exc:  # keep serving; report the bug once per call
                print(f"catools serve: error in timer {callback!r}: {exc!r}",
                      file=sys.stderr)
        self._run_jobs()
        self._dispatch_posted()
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
        self._loop_thread = None

    def _close_sockets(self) -> None:
        for sock in (*self._listeners, *self._udp):
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
        self._listeners.clear()
        self._udp.clear()

    # -- monitors -----------------------------------------------------------

    def _on_pv_change(self, pv: PV, mask: int) -> None:
        self._posted.append((pv, mask))
        if threading.get_ident() != self._loop_thread:
            self._wake()

    def _dispatch_posted(self) -> None:
        merged: dict[PV, int] = {}
        while self._posted:
            pv, mask = self._posted.popleft()
            merged[pv] = merged.get(pv, 0) | mask
        for pv, mask in merged.items():
            encoded: Cache = {}                        # one encoding per type and count
            for sub in list(self._subs_by_pv.get(pv, ())):
                if sub.mask & mask:
                    self._post(sub, encoded)

    def _post(self, sub: _Sub, encoded: Cache | None = None) -> None:
        client = sub.client
        if client.closed or client.closing:
            return
        if client.congested:
            client.pending[sub.subid] = sub
            return
        client.pending.pop(sub.subid, None)
        self._send_update(client, sub, encoded)

    def _flush_pending(self, client: _Client) -> None:
        while client.pending and not client.congested:
            subid = next(iter(client.pending))
            self._send_update(client, client.pending.pop(subid))

    def _send_update(self, client: _Client, sub: _Sub, encoded: Cache | None = None
                     ) -> None:
        key = (sub.data_type, sub.count)
        if (encoded is None or key not in encoded) and sub.request is not None and \
                self._too_large(client, sub.request[0], sub.request[1], sub.pv):
            return
        # the same value for another subscriber reuses the encoded payload
        send_dbr(self, client, EventAddResponse, sub.data_type, sub.count, sub.pv,
                 sub.subid, cache=encoded)

    def _remove_sub(self, client: _Client, subid: int) -> None:
        sub = client.subs.pop(subid, None)
        client.pending.pop(subid, None)
        if sub is not None:
            self._subs_by_pv.get(sub.pv, set()).discard(sub)

    # -- beacons and UDP -----------------------------------------------------

    def _send_beacon(self) -> None:
        if self._udp and self._beacon_targets:
            raw = bytes(Beacon(version=_MINOR, server_port=self.port or 0,
                               beacon_id=self._beacon_id, address="0.0.0.0"))
            for target in self._beacon_targets:
                try:
                    self._udp[0].sendto(raw, target)
                except OSError:
                    pass
        self._beacon_id = (self._beacon_id + 1) & 0xFFFFFFFF
        gap = self._beacon_gap
        self._beacon_gap = min(gap * 2, self.config.beacon_period)
        self._schedule(gap, self._send_beacon)

    def _on_udp(self, _events: int) -> None:
        for udp in self._udp:
            while True:
                try:
                    data, address = udp.recvfrom(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # e.g. ICMP port unreachable reported late
                    continue
                if address[0] in self.config.ignore_addr_list:
                    continue
                reply = self._answer_datagram(data, address)
                if reply:
                    try:
                        udp.sendto(reply, address)
                    except OSError:
                        pass

    def _answer_datagram(self, data: bytes, address: Any) -> bytes:
        """Replies to one UDP datagram (b'' when there is nothing to say)."""
        caster = self._broadcaster
        caster.recv(data, address)
        commands = []
        while True:
            try:
                command = caster.next_command()
            except RemoteProtocolError:
                return b""
            if command is NEED_DATA:
                break
            commands.append(command)
        if not commands or not isinstance(commands[0], VersionRequest) \
                or commands[0].version < 4:
            return b""
        version = commands[0]
        replies: list[Any] = []
        for command in commands[1:]:
            if isinstance(command, SearchRequest) and command.name in self.pvs:
                replies.append(SearchResponse(port=self.port or 0, ip="255.255.255.255",
                                              cid=command.cid, version=_MINOR))
            elif isinstance(command, EchoRequest):
                replies.append(EchoResponse())
        if not replies:
            return b""
        if version.version >= 11:
            replies.insert(0, VersionResponse(version=_MINOR, flags=1,
                                              sequence_id=version.sequence_id))
        return caster.send(*replies)

    # -- TCP ----------------------------------------------------------------

    def _on_accept(self, _events: int) -> None:
        for listener in self._listeners:
            while True:
                try:
                    sock, address = listener.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    if exc.errno in _NO_RESOURCES:
                        self._pause_accepting(exc)
                        return
                    break          # e.g. ECONNABORTED: that client is gone
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                client = _Client(self, sock, address)
                self._clients.add(client)
                self._selector.register(sock, selectors.EVENT_READ, client)
                self._send(client, VersionResponse(version=_MINOR))

    def _pause_accepting(self, exc: OSError) -> None:
        """Out of descriptors (or memory): as RSRV, say so once and stop accepting for
        ACCEPT_PAUSE s, instead of spinning on a listener that stays readable."""
        if not self._accept_paused_once:
            print(f"catools serve: cannot accept a client: {exc.strerror}; accepting again "
                  f"every {ACCEPT_PAUSE:g} s", file=sys.stderr)
            self._accept_paused_once = True
        for listener in self._listeners:
            try:
                self._selector.unregister(listener)
            except (KeyError, ValueError):
                pass
        self._schedule(ACCEPT_PAUSE, self._resume_accepting)

    def _resume_accepting(self) -> None:
        for listener in self._listeners:
            try:
                self._selector.register(listener, selectors.EVENT_READ, self._on_accept)
            except (KeyError, ValueError):
                pass                                   # registered already

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
            self._remove_sub(client, subid)
        self._clients.discard(client)
        try:
            self._selector.unregister(client.sock)
        except (KeyError, ValueError):
            pass
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
            print(f"catools serve: dropping {client.address[0]}:{client.address[1]}: "
                  f"{exc}", file=sys.stderr)
            self._drop(client)
            return
        client.send(data)

    def _error(self, client: _Client, header: bytes, status: int, message: str,
               cid: int = _NO_CID) -> None:
        self._send(client, ErrorResponse(original_request=header, cid=cid,
                                         status=int(status), error_message=message[:400]))

    def _on_client(self, client: _Client, events: int) -> None:
        if events & selectors.EVENT_WRITE and not client.closed:
            client.on_writable()
        if events & selectors.EVENT_READ and not client.closed and not client.closing:
            body = client.body
            try:
                if body is not None:       # a large write's values, read in place
                    if not body.recv(client.sock):
                        self._drop(client)
                    elif body.done:
                        self._process_input(client, b"")
                    return
                data = client.sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(client)
                return
            if not data:
                self._drop(client)
                return
            self._process_input(client, data)

    def _process_input(self, client: _Client, data: bytes) -> None:
        try:
            self._on_data(client, data)
        except Exception as exc:  # a bug must cost one client, never the server
            print(f"catools serve: internal error with client "
                  f"{client.address[0]}:{client.address[1]}: {exc!r}", file=sys.stderr)
            self._drop(client)

    def _on_data(self, client: _Client, data: bytes) -> None:
        circuit = client.circuit
        rx = circuit.receive_buffer
        if data:
            rx.feed(data)
        limit = circuit.max_payload_size = self.request_limit
        while not client.closed and not client.closing:
            if client.body is not None:
                body = client.body
                body.feed(memoryview(rx.take(body.wanted)))
                if not body.done:
                    break
                _bigwrite.finish(self, client)
            if client.job is not None:
                break                      # a large write is being converted
            if client.queued >= PAUSE_READING or \
                    (client.queued and self.output_held > OUTPUT_BUDGET):
                client.backlog = True      # flow control: resume when the output drains
                break
            peeked = rx.peek()
            if peeked is None:
                break
            header, hsize = peeked
            if header.payload_size % 8:
                self._error(client, rx.header_bytes(), CAStatus.ECA_INTERNAL,
                            "CAS: Missaligned protocol rejected")
                self._close_after_flush(client)
                return
            if header.payload_size <= limit and len(rx) < hsize + header.payload_size:
                if header.payload_size > BIG_REQUEST and not client.reserved and \
                        not self._reserve_input(client, header.payload_size):
                    client.waiting = True      # read on when others' big requests end
                    self._input_queue.append(client)
                    client._update_interest()
                    break
                if _bigwrite.start(self, client, header, rx.header_bytes()):
                    rx.take(hsize)
                    continue
                break
            if client.reserved:
                self._release_input(client)
            self._on_message(client, header)
        if client.closed or client.closing:
            return
        if len(rx.data) > BIG_REQUEST:
            rx.compact()                   # give a large buffer's memory back
        client._update_interest()

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

    def _cid_of(self, client: _Client, header: Any) -> int:
        """The CID an ERROR about a channel request carries (RSRV: the channel's)."""
        if header.command in (1, 2, 3, 4, 15, 19) and header.parameter1 in client.pvs:
            return self._cid_of_sid(client, header.parameter1)
        return _NO_CID

    def _too_large(self, client: _Client, command: Any, raw_header: bytes, pv: PV,
                   read: bool = False) -> bool:
        """True (after an ERROR ECA_TOLARGE, as RSRV) if the reply to a read or
        subscription of ``command.data_count`` elements would exceed the limit."""
        count = command.data_count or pv.element_count
        limit = self.request_limit
        if data_size(command.data_type, count) <= limit:
            return False
        what = "read" if read else "read (or subscription update)"
        ident = command.ioid if hasattr(command, "ioid") else command.subscriptionid
        self._error(client, raw_header, CAStatus.ECA_TOLARGE,
                    f"server unable to load {what} response into protocol buffer "
                    f'PV="{pv.name}" dbf={command.data_type} count={count} '
                    f"avail={ident} max bytes={limit}", self._cid_of_sid(client, command.sid))
        return True

    def _cid_of_sid(self, client: _Client, sid: int) -> int:
        channel = client.circuit.channels_sid.get(sid)
        return channel.cid if channel is not None else _NO_CID

    def _on_message(self, client: _Client, header: Any) -> None:
        """The next request is all here (or too large: the core drains it)."""
        cmd = header.command
        circuit = client.circuit
        if cmd in (1, 3, 4, 15, 19) and header.data_type > 38 and \
                header.payload_size <= circuit.max_payload_size:
            if cmd in (3, 4, 19):
                self._error(client, circuit.receive_buffer.header_bytes(),
                            CAStatus.ECA_BADTYPE, f"bad DBR type {header.data_type}")
            self._close_after_flush(client)
            return
        try:
            command = circuit.next_command()
        except RemoteProtocolError as exc:
            self._refused(client, circuit.receive_buffer.header_bytes(), exc)
            return
        if command is NEED_DATA or command is DISCONNECTED:
            return
        self._dispatch(client, command, circuit.receive_buffer.header_bytes())

    def _refused(self, client: _Client, raw_header: bytes, exc: RemoteProtocolError) -> None:
        """Answer a request the core refused as the error says (``status``,
        ``recoverable``: RSRV's answers, ca-protocol.md 4.16), in RSRV's words."""
        if exc.status is None:
            self._close_after_flush(client)
            return
        cid = _NO_CID
        if exc.status == CAStatus.ECA_TOLARGE and exc.header is not None:
            cid = self._cid_of(client, exc.header)   # (RSRV keeps the circuit)
        self._error(client, raw_header, exc.status,
                    _answer_text(exc, client.circuit.max_payload_size), cid)
        if exc.status == CAStatus.ECA_DEFUNCT:
            client.circuit.receive_buffer.clear()   # (RSRV drops the rest it has read)
        if not exc.recoverable:
            self._close_after_flush(client)

    # -- requests -----------------------------------------------------------

    def _dispatch(self, client: _Client, command: Any, raw_header: bytes) -> None:
        kind = type(command)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, client, command, raw_header)

    def _on_create(self, client: _Client, command: Any, raw_header: bytes) -> None:
        channel = cast(ServerChannel, client.circuit.channels[command.cid])
        pv = self.pvs.get(command.name)
        if pv is None:
            self._send(client, channel.create_fail())
            return
        sid = self._next_sid
        self._next_sid = (self._next_sid + 1) & 0xFFFFFFFF
        rights = AccessRights.READ if pv.read_only else AccessRights.READ_WRITE
        client.pvs[sid] = pv
        self._send(client, *channel.create(int(pv.native_type), pv.count, sid, rights))

    def _channel(self, client: _Client, sid: int) -> tuple[Any, PV]:
        return client.circuit.channels_sid[sid], client.pvs[sid]

    def _on_read_notify(self, client: _Client, command: Any, raw_header: bytes) -> None:
        channel, pv = self._channel(client, command.sid)
        if self._too_large(client, command, raw_header, pv):
            return
        send_dbr(self, client, ReadNotifyResponse, command.data_type, command.data_count,
                 pv, command.ioid)

    def _on_read(self, client: _Client, command: Any, raw_header: bytes) -> None:
        channel, pv = self._channel(client, command.sid)
        if self._too_large(client, command, raw_header, pv, read=True):
            return
        if command.data_type in (35, 36):   # as RSRV: no PUT_ACKT/ACKS to read
            self._error(client, raw_header, CAStatus.ECA_GETFAIL, pv.name, channel.cid)
            return
        send_dbr(self, client, ReadResponse, command.data_type, command.data_count, pv,
                 command.ioid, p1=channel.cid)

    def _put(self, pv: PV, command: Any, notify: bool = False) -> int:
        if pv.read_only:
            return CAStatus.ECA_NOWTACCESS
        try:
            pv.put(command.data_type, command.data, notify=notify)
        except PutError as exc:
            return exc.status
        except (ValueError, TypeError):
            return CAStatus.ECA_PUTFAIL
        return CAStatus.ECA_NORMAL

    def _on_write(self, client: _Client, command: Any, raw_header: bytes) -> None:
        channel, pv = self._channel(client, command.sid)
        status = self._put(pv, command)
        if status != CAStatus.ECA_NORMAL:
            self._error(client, raw_header, status, pv.name, channel.cid)

    def _on_write_notify(self, client: _Client, command: Any, raw_header: bytes) -> None:
        channel, pv = self._channel(client, command.sid)
        status = self._put(pv, command, notify=True)
        self._send(client, channel.write(command.ioid, command.data_type,
                                         command.data_count, int(status)))

    def _on_event_add(self, client: _Client, command: Any, raw_header: bytes) -> None:
        channel, pv = self._channel(client, command.sid)
        sub = _Sub(client, command.subscriptionid, channel, pv, command.data_type,
                   command.data_count, command.mask, (command, raw_header))
        client.subs[sub.subid] = sub
        self._subs_by_pv.setdefault(pv, set()).add(sub)
        self._send_update(client, sub)

    def _on_event_cancel(self, client: _Client, command: Any, raw_header: bytes) -> None:
        channel = cast(ServerChannel, client.circuit.channels_sid[command.sid])
        self._send(client, channel.unsubscribe(command.subscriptionid))
        self._remove_sub(client, command.subscriptionid)

    def _on_clear(self, client: _Client, command: Any, raw_header: bytes) -> None:
        channel = cast(ServerChannel, client.circuit.channels_sid[command.sid])
        for subid in [s for s, sub in client.subs.items() if sub.channel is channel]:
            self._remove_sub(client, subid)
        client.pvs.pop(command.sid, None)
        self._send(client, channel.clear())

    def _on_echo(self, client: _Client, command: Any, raw_header: bytes) -> None:
        self._send(client, EchoResponse())

    def _on_read_sync(self, client: _Client, command: Any, raw_header: bytes) -> None:
        client.send(raw_header)  # RSRV echoes the header (the core has no server form)

    def _on_events_off(self, client: _Client, command: Any, raw_header: bytes) -> None:
        client.events_off = True

    def _on_events_on(self, client: _Client, command: Any, raw_header: bytes) -> None:
        client.events_off = False
        self._flush_pending(client)

    def _on_search(self, client: _Client, command: Any, raw_header: bytes) -> None:
        if command.name in self.pvs:
            self._send(client, SearchResponse(port=self.port or 0, ip="255.255.255.255",
                                              cid=command.cid, version=None))
        elif command.reply == DO_REPLY:
            self._send(client, NotFoundResponse(version=_MINOR, cid=command.cid,
                                                reply_flag=DO_REPLY))


_NAMES = (HostNameRequest.ID, ClientNameRequest.ID)


def _answer_text(exc: RemoteProtocolError, limit: int) -> str:
    """The message of the ERROR answering ``exc`` (RSRV's texts)."""
    if exc.status == CAStatus.ECA_DEFUNCT:
        return "CAS: Client version 0 too old"
    if exc.status == CAStatus.ECA_TOLARGE:
        return f"CAS: Server unable to load large request message. Max bytes={limit}"
    header = exc.header
    if exc.recoverable and header is not None and header.command in _NAMES:
        what = "host" if header.command == HostNameRequest.ID else "user"
        return f"attempts to use protocol to set {what} name after creating first " \
            "channel ignored by server"
    return str(exc)


_HANDLERS: dict[type, Callable[..., None]] = {
    CreateChanRequest: Server._on_create,
    ReadNotifyRequest: Server._on_read_notify,
    ReadRequest: Server._on_read,
    WriteRequest: Server._on_write,
    WriteNotifyRequest: Server._on_write_notify,
    EventAddRequest: Server._on_event_add,
    EventCancelRequest: Server._on_event_cancel,
    ClearChannelRequest: Server._on_clear,
    EchoRequest: Server._on_echo,
    ReadSyncRequest: Server._on_read_sync,
    EventsOffRequest: Server._on_events_off,
    EventsOnRequest: Server._on_events_on,
    SearchRequest: Server._on_search,
}

__all__ = ["Server", "HIGH_WATER", "PAUSE_READING"]
