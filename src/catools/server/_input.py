"""What the server reads from its clients, up to the request handlers.

Bytes go into the client circuit's receive buffer (the core frames them: a request too
large is drained there and answered ECA_TOLARGE). Before taking a request the server
peeks at its header: a misaligned size ends the circuit, a big body waits for the
server-wide input budget, a large write is received in place (_bigwrite); and no request
is taken while the client owes too much output (flow control). A request the core
refuses is answered as the error declares (``status``, ``recoverable``).
"""
from __future__ import annotations

import selectors
from typing import TYPE_CHECKING, Any

from ..protocol import (DISCONNECTED, NEED_DATA, CAStatus, ClientNameRequest, EventAddRequest,
                        HostNameRequest, ReadNotifyRequest, ReadRequest, RemoteProtocolError,
                        WriteNotifyRequest, WriteRequest)
from . import _bigwrite
from ._connection import PAUSE_READING, _Client
from ._handlers import NO_CID, cid_of, dispatch

if TYPE_CHECKING:
    from ._server import Server

_RECV_SIZE = 1 << 16
#: A request body above this size is buffered only under the server-wide input budget.
BIG_REQUEST = 1 << 20
#: Output bytes made and not yet sent, all clients together, above which a client that
#: still owes output has its requests wait (large replies are made a chunk at a time,
#: so this bounds what replies and updates hold; see the serve section of catools(1)).
OUTPUT_BUDGET = 16 << 20
#: Requests that name a DBR type: one past DBR_CLASS_NAME ends the circuit (RSRV), with
#: an ERROR ECA_BADTYPE for those in _BADTYPE_ANSWERED.
_TYPED = frozenset(cls.ID for cls in (EventAddRequest, ReadRequest, WriteRequest,
                                      ReadNotifyRequest, WriteNotifyRequest))
_BADTYPE_ANSWERED = frozenset(cls.ID for cls in (ReadRequest, WriteRequest,
                                                 WriteNotifyRequest))
_LAST_DBR_TYPE = 38
_NAMES = (HostNameRequest.ID, ClientNameRequest.ID)


class RequestReader:
    """Reads each client's socket and takes its requests, one at a time, to the
    handlers (``on_events`` from the loop; ``process(client, b'')`` resumes a client
    whose requests waited)."""

    def __init__(self, server: "Server") -> None:
        self.server = server

    def on_events(self, client: _Client, events: int) -> None:
        server = self.server
        if events & selectors.EVENT_WRITE and not client.closed:
            client.on_writable()
        if events & selectors.EVENT_READ and not client.closed and not client.closing:
            body = client.body
            try:
                if body is not None:       # a large write's values, read in place
                    if not body.recv(client.sock):
                        server._drop(client)
                    elif body.done:
                        self.process(client, b"")
                    return
                data = client.sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                server._drop(client)
                return
            if not data:
                server._drop(client)
                return
            self.process(client, data)

    def process(self, client: _Client, data: bytes) -> None:
        """Take ``data`` and every request of ``client`` that may be taken now."""
        try:
            self._on_data(client, data)
        except Exception as exc:  # a bug must cost one client, never the server
            self.server.log(f"catools serve: internal error with client "
                            f"{client.address[0]}:{client.address[1]}: {exc!r}")
            self.server._drop(client)

    def _on_data(self, client: _Client, data: bytes) -> None:
        server = self.server
        circuit = client.circuit
        rx = circuit.receive_buffer
        if data:
            rx.feed(data)
        limit = circuit.max_payload_size = server.request_limit
        while not client.closed and not client.closing:
            if client.body is not None:
                body = client.body
                body.feed(memoryview(rx.take(body.wanted)))
                if not body.done:
                    break
                _bigwrite.finish(server, client)
            if client.job is not None:
                break                      # a large write is being converted
            if client.queued >= PAUSE_READING or \
                    (client.queued and server.output_held > OUTPUT_BUDGET):
                client.backlog = True      # flow control: resume when the output drains
                break
            peeked = rx.peek()
            if peeked is None:
                break
            header, hsize = peeked
            if header.payload_size % 8:
                server._error(client, rx.header_bytes(), CAStatus.ECA_INTERNAL,
                              "CAS: Missaligned protocol rejected")
                server._close_after_flush(client)
                return
            if header.payload_size <= limit and len(rx) < hsize + header.payload_size:
                if header.payload_size > BIG_REQUEST and not client.reserved and \
                        not server._reserve_input(client, header.payload_size):
                    client.waiting = True      # read on when others' big requests end
                    server._input_queue.append(client)
                    client._update_interest()
                    break
                if _bigwrite.start(server, client, header, rx.header_bytes()):
                    rx.take(hsize)
                    continue
                break
            if client.reserved:
                server._release_input(client)
            self._on_message(client, header)
        if client.closed or client.closing:
            return
        if len(rx.data) > BIG_REQUEST:
            rx.compact()                   # give a large buffer's memory back
        client._update_interest()

    def _on_message(self, client: _Client, header: Any) -> None:
        """The next request is all here (or too large: the core drains it)."""
        cmd = header.command
        circuit = client.circuit
        if cmd in _TYPED and header.data_type > _LAST_DBR_TYPE and \
                header.payload_size <= circuit.max_payload_size:
            if cmd in _BADTYPE_ANSWERED:
                self.server._error(client, circuit.receive_buffer.header_bytes(),
                                   CAStatus.ECA_BADTYPE, f"bad DBR type {header.data_type}")
            self.server._close_after_flush(client)
            return
        try:
            command = circuit.next_command()
        except RemoteProtocolError as exc:
            self._refused(client, circuit.receive_buffer.header_bytes(), exc)
            return
        if command is NEED_DATA or command is DISCONNECTED:
            return
        dispatch(self.server, client, command, circuit.receive_buffer.header_bytes())

    def _refused(self, client: _Client, raw_header: bytes, exc: RemoteProtocolError) -> None:
        """Answer a request the core refused as the error says (``status``,
        ``recoverable``: RSRV's answers, ca-protocol.md 4.16), in RSRV's words."""
        server = self.server
        if exc.status is None:
            server._close_after_flush(client)
            return
        cid = NO_CID
        if exc.status == CAStatus.ECA_TOLARGE and exc.header is not None:
            cid = cid_of(client, exc.header)     # (RSRV keeps the circuit)
        server._error(client, raw_header, exc.status,
                      answer_text(exc, client.circuit.max_payload_size), cid)
        if exc.status == CAStatus.ECA_DEFUNCT:
            client.circuit.receive_buffer.clear()   # (RSRV drops the rest it has read)
        if not exc.recoverable:
            server._close_after_flush(client)


def answer_text(exc: RemoteProtocolError, limit: int) -> str:
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


__all__ = ["RequestReader", "answer_text", "BIG_REQUEST", "OUTPUT_BUDGET"]
