"""A large message is assembled in one buffer as it arrives (ReceiveBuffer, ASSEMBLE):
however the stream is cut, the messages framed, their payloads and the buffered counts
are those of the same stream fed whole; and through a client circuit, a large
READ_NOTIFY reply decodes to the values sent."""
from __future__ import annotations

import struct
from array import array

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catools import EchoResponse, ReadNotifyResponse
from catools.protocol import ReceiveBuffer
from catools.protocol._framing import ASSEMBLE
from helpers import CircuitPair

LIMIT = 1 << 26
_H = struct.Struct(">HHHHII")


def message(cmd: int, payload: bytes, extended: bool) -> bytes:
    if extended:
        return _H.pack(cmd, 0xFFFF, 6, 0, 1, 2) + struct.pack(">II", len(payload), 0) \
            + payload
    return _H.pack(cmd, len(payload), 6, 0, 1, 2) + payload


def take_all(rx: ReceiveBuffer, out: list) -> None:
    while True:
        frame = rx.frame(LIMIT)
        if frame is None:
            return
        cmd, psize, *_, start, end = frame
        out.append((cmd, bytes(rx.data[start:end])))


@st.composite
def streams(draw):
    msgs = []
    for i in range(draw(st.integers(1, 4))):
        big = draw(st.booleans())
        size = draw(st.sampled_from([ASSEMBLE - 24, ASSEMBLE, ASSEMBLE + 8 * 1001])) \
            if big else draw(st.integers(0, 5)) * 8
        payload = (bytes((i * 7 + j) & 0xFF for j in range(251)) * (size // 251 + 1))[:size]
        msgs.append((i, payload, big or draw(st.booleans())))
    raw = b"".join(message(cmd, p, ext) for cmd, p, ext in msgs)
    cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    return msgs, raw, cuts


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_assembled_messages_equal_the_stream_fed_whole(case):
    msgs, raw, cuts = case
    rx = ReceiveBuffer()
    got: list = []
    fed = 0
    for a, b in zip([0, *cuts], [*cuts, len(raw)]):
        if a == b:
            continue
        rx.feed(raw[a:b])
        fed += b - a
        take_all(rx, got)
        consumed = sum(len(message(c, p, e)) for c, p, e in msgs[:len(got)])
        assert len(rx) == fed - consumed
    assert got == [(cmd, p) for cmd, p, _ in msgs]
    assert len(rx) == 0
    rx.feed(b"")
    assert rx.eof and rx.frame(LIMIT) is None


def test_a_large_message_is_assembled_not_joined():
    payload = bytes(range(256)) * (ASSEMBLE // 256 + 1)
    raw = message(6, payload, True) + message(0, b"", False)
    rx = ReceiveBuffer()
    rx.feed(raw[:1000])
    assert rx.frame(LIMIT) is None
    for at in range(1000, len(raw), 1 << 17):
        rx.feed(raw[at:at + (1 << 17)])
    frame = rx.frame(LIMIT)
    assert isinstance(rx.data, memoryview) and rx.data.readonly
    assert bytes(rx.data[frame[6]:frame[7]]) == payload
    assert rx.frame(LIMIT)[0] == 0 and len(rx) == 0


def test_client_circuit_decodes_a_large_reply_fed_in_pieces():
    n = ASSEMBLE // 8 + 3
    values = array("d", (i * 0.25 - 7 for i in range(n)))
    pair = CircuitPair()
    pair.handshake()
    wf, _ = pair.connect_channel("WF", native_type=6, count=n, sid=2)
    (read,) = pair.client_sends(wf.read(6, n))
    raw = pair.server.send(ReadNotifyResponse(data=values, data_type=6, ioid=read.ioid)) \
        + pair.server.send(EchoResponse())
    client = pair.client
    out: list = []
    for at in range(0, len(raw), 100_000):
        client.recv(raw[at:at + 100_000])
        out += client.next_commands()
    reply, echo = out
    assert isinstance(reply, ReadNotifyResponse) and isinstance(echo, EchoResponse)
    assert reply.data == values
