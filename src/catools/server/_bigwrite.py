"""Large writes: received in place, converted a chunk per loop turn.

A WRITE or WRITE_NOTIFY whose payload exceeds DIRECT_BODY, on a connected channel, is
not buffered as a message: once its header is read the server checks its count against
the PV (elements past the PV's count are received and dropped, never decoded), allocates
the value array and receives the values straight into it (``Body``). The array is then
converted to the PV's type by a ``Job``, one chunk per loop turn, so that other clients
are served meanwhile; the client's next requests wait until the write is done. Memory:
the payload once (as the values), plus the converted values if the types differ.
"""
from __future__ import annotations

import sys
from array import array
from typing import TYPE_CHECKING, Any, Iterator

from ..protocol import (CLIENT, CAStatus, ChannelState, CircuitState, WriteNotifyRequest,
                        WriteNotifyResponse)
from ..protocol import DBR_TYPES
from ._connection import _Client
from ._convert import StringSlots
from ._pvdb import PutError

if TYPE_CHECKING:
    from ._server import Server

#: WRITE/WRITE_NOTIFY payloads above this many bytes are received in place.
DIRECT_BODY = 256 << 10
#: Time (s) a job may take in one loop turn before others are served.
JOB_SLICE = 0.02
_SWAP = sys.byteorder == "little"
_SCRATCH = bytearray(64 << 10)
_WRITE, _WRITE_NOTIFY = 4, WriteNotifyRequest.ID


class Body:
    """The payload of one large write, received into its value array."""

    def __init__(self, client: _Client, header: Any, raw_header: bytes, pv: Any) -> None:
        self.header = header
        self.raw_header = raw_header
        self.pv = pv
        row = DBR_TYPES[header.data_type]
        self.row = row
        self.count = 0 if pv.read_only else min(header.data_count, pv.count)
        size = self.count * row.elem_size
        if row.typecode is None:
            self.values: Any = bytearray(size)
            view = memoryview(self.values)
        else:
            self.values = array(row.typecode, bytes(row.elem_size)) * self.count
            view = memoryview(self.values).cast("B")
        # (where to put the bytes or None to drop them, how many)
        self.parts: list[tuple[memoryview | None, int]] = [
            (None, row.value_offset), (view, size),
            (None, header.payload_size - row.value_offset - size)]
        self.filled = 0
        self._advance(0)

    @property
    def done(self) -> bool:
        return not self.parts

    @property
    def wanted(self) -> int:
        """Bytes of the body not received yet."""
        return sum(size for _, size in self.parts) - self.filled

    def _advance(self, n: int) -> None:
        self.filled += n
        while self.parts and self.filled >= self.parts[0][1]:
            self.parts.pop(0)
            self.filled = 0

    def feed(self, data: memoryview) -> int:
        """Take bytes already read; return how many belong to this body."""
        used = 0
        while self.parts and used < len(data):
            target, size = self.parts[0]
            n = min(size - self.filled, len(data) - used)
            if target is not None:
                target[self.filled:self.filled + n] = data[used:used + n]
            used += n
            self._advance(n)
        return used

    def recv(self, sock: Any) -> int:
        """Receive the next part from ``sock`` in place; bytes read (0: end of stream)."""
        self._advance(0)
        if not self.parts:
            return -1
        target, size = self.parts[0]
        want = min(size - self.filled, 1 << 20)
        if target is None:
            n = sock.recv_into(_SCRATCH, min(want, len(_SCRATCH)))
        else:
            n = sock.recv_into(target[self.filled:self.filled + want], want)
        self._advance(n)
        return n

    def data(self) -> Any:
        """The received values: an array (byte-swapped to native order) or the string
        slots."""
        if self.row.typecode is None:
            return StringSlots(self.values, self.count)
        if _SWAP and self.row.elem_size > 1:
            self.values.byteswap()
        return self.values


def start(server: "Server", client: _Client, header: Any, raw_header: bytes) -> bool:
    """Take a large write's payload in place if it is one (see the module doc)."""
    if header.command not in (_WRITE, _WRITE_NOTIFY) or header.payload_size <= DIRECT_BODY \
            or header.data_type > 34 or not header.data_count:
        return False
    circuit = client.circuit
    pv = client.pvs.get(header.parameter1)
    channel = circuit.channels_sid.get(header.parameter1)
    row = DBR_TYPES[header.data_type]
    if pv is None or channel is None or channel.state is not ChannelState.CONNECTED or \
            circuit.states[CLIENT] is not CircuitState.CONNECTED or \
            header.payload_size < row.value_offset + header.data_count * row.elem_size:
        return False          # the circuit reports it, as for any other message
    client.body = Body(client, header, raw_header, pv)
    return True


def finish(server: "Server", client: _Client) -> None:
    """The whole body is in: convert it (as a job) and answer."""
    body, client.body = client.body, None
    if body.pv.read_only:
        _answer(server, client, body, CAStatus.ECA_NOWTACCESS)
        return
    notify = body.header.command == _WRITE_NOTIFY
    client.job = Job(body, body.pv.put_steps(body.header.data_type, body.data(),
                                             notify=notify, owned=True))
    server._jobs.append(client)
    client._update_interest()


class Job:
    """A write's conversion, run a step at a time by the server loop."""

    def __init__(self, body: Body, steps: Iterator[None]) -> None:
        self.body = body
        self.steps = steps


def run(server: "Server", client: _Client, deadline: float, clock: Any) -> bool:
    """Run ``client``'s job until ``deadline``; True when it is finished (answered)."""
    job = client.job
    status = CAStatus.ECA_NORMAL
    try:
        while clock() < deadline:
            next(job.steps)
        return False
    except StopIteration:
        pass
    except PutError as exc:
        status = exc.status
    except (ValueError, TypeError):
        status = CAStatus.ECA_PUTFAIL
    client.job = None
    _answer(server, client, job.body, status)
    return True


def _answer(server: "Server", client: _Client, body: Body, status: int) -> None:
    if client.reserved:
        server._release_input(client)
    header = body.header
    if header.command == _WRITE_NOTIFY:
        # the circuit never saw this request: its reply goes around it too
        client.send(bytes(WriteNotifyResponse(data_type=header.data_type,
                                              data_count=header.data_count,
                                              status=int(status), ioid=header.parameter2)))
    elif status != CAStatus.ECA_NORMAL:
        channel = client.circuit.channels_sid.get(header.parameter1)
        server._error(client, body.raw_header, status, body.pv.name,
                      channel.cid if channel is not None else 0xFFFFFFFF)
    server._process_input(client, b"")
