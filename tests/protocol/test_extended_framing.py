"""Extended (24-byte) headers in a received stream: ``next_commands`` (with its fast
path) frames them exactly as ``next_command`` one at a time and as ``read_datagram``
does, wherever the stream is split; a 16-bit size of 0xFFFF is the extended-header
marker, never a 65,535-byte payload (issue 10 item 1)."""
from __future__ import annotations

import struct
from typing import Any

from hypothesis import given, settings, strategies as st

from catools import (SERVER, AccessRightsResponse, EchoResponse, EventAddResponse,
                     NEED_DATA, ReadNotifyResponse, read_datagram)
from helpers import CircuitPair

EXT = struct.Struct(">HHHHIIII")


def _session() -> tuple[CircuitPair, Any, bytes, list[int]]:
    """A client circuit with reads and subscriptions in flight, the server's bytes that
    answer them (small fast-path messages around extended ones) and the offset of each
    message in those bytes. Deterministic: every call gives the same ids."""
    pair = CircuitPair()
    pair.handshake()
    ai, s_ai = pair.connect_channel("AI", native_type=6, count=1, sid=1)
    wf, _ = pair.connect_channel("WF", native_type=6, count=20000, sid=2)
    ch, s_ch = pair.connect_channel("CH", native_type=4, count=70000, sid=3)
    (sub_ai,) = pair.client_sends(ai.subscribe(data_type=20, data_count=1))
    (sub_ch,) = pair.client_sends(ch.subscribe(data_type=4, data_count=0))
    reads = pair.client_sends(wf.read(6, 20000), ch.read(4, 0), ch.read(4, 0xFFFF),
                              ch.read(4, 0xFFF8))
    r_wf, r_empty, r_ffff, r_fff8 = [r.ioid for r in reads]

    def update(value: float) -> bytes:
        return pair.server.send(s_ai.subscribe([value], sub_ai.subscriptionid, 20))

    messages = [
        update(1.0),
        # 160,000 payload bytes: extended header
        pair.server.send(ReadNotifyResponse(data=[i * 0.5 for i in range(20000)],
                                            data_type=6, ioid=r_wf)),
        update(2.0),
        # extended header with psize 0 and count 0 (RSRV: dynamic read of an empty array)
        EXT.pack(15, 0xFFFF, 4, 0, 1, r_empty, 0, 0),
        pair.server.send(AccessRightsResponse(cid=ai.cid, access_rights=1)),
        # extended header whose real size and count are 0xFFFF (not a multiple of 8)
        EXT.pack(15, 0xFFFF, 4, 0, 1, r_ffff, 0xFFFF, 0xFFFF) + bytes(range(256)) * 255
        + bytes(255),
        update(3.0),
        # the largest standard-header payload (0xFFF8): the fast path's upper edge
        pair.server.send(ReadNotifyResponse(data=bytes(0xFFF8), data_type=4, ioid=r_fff8)),
        # a 70,000-element update: extended
        pair.server.send(s_ch.subscribe(bytes(i % 251 for i in range(70000)),
                                        sub_ch.subscriptionid, 4)),
        update(4.0),
        pair.server.send(EchoResponse()),
    ]
    offsets = [0]
    for raw in messages:
        offsets.append(offsets[-1] + len(raw))
    return pair, pair.client, b"".join(messages), offsets


def _one_at_a_time(chunks: list[bytes]) -> tuple[list[Any], Any]:
    _, client, _, _ = _session()
    out: list[Any] = []
    for chunk in chunks:
        client.recv(chunk)
        while (command := client.next_command()) is not NEED_DATA:
            out.append(command)
    return out, client


def _batched(chunks: list[bytes]) -> tuple[list[Any], Any]:
    _, client, _, _ = _session()
    out: list[Any] = []
    for chunk in chunks:
        client.recv(chunk)
        out += client.next_commands()
    assert client.next_commands() == []
    return out, client


def _state(client: Any) -> Any:
    return (sorted(client._ioids), sorted(client.event_add_commands), client.buffered,
            {cid: (c.state, int(c.access_rights)) for cid, c in client.channels.items()})


_, _, STREAM, OFFSETS = _session()
EXPECTED = read_datagram(STREAM, SERVER)   # the framing oracle: one message after another


def _check(chunks: list[bytes]) -> None:
    batched, client_b = _batched(chunks)
    single, client_s = _one_at_a_time(chunks)
    assert [type(c) for c in batched] == [type(c) for c in EXPECTED]
    assert batched == EXPECTED
    assert single == EXPECTED
    assert _state(client_b) == _state(client_s)
    assert client_b.buffered == 0


def test_the_stream_holds_what_it_should():
    assert len(EXPECTED) == 11
    wf, empty, ffff, fff8, big = (EXPECTED[i] for i in (1, 3, 5, 7, 8))
    assert (wf.data_count, len(wf.payload)) == (20000, 160000)
    assert wf.data[:3].tolist() == [0.0, 0.5, 1.0] and wf.data[-1] == 9999.5
    assert (empty.data_count, len(empty.payload)) == (0, 0)
    assert (ffff.data_count, len(ffff.payload)) == (0xFFFF, 0xFFFF)
    assert (fff8.data_count, len(fff8.payload)) == (0xFFF8, 0xFFF8)
    assert isinstance(big, EventAddResponse) and big.data_count == 70000
    assert STREAM[OFFSETS[1] + 2:OFFSETS[1] + 4] == b"\xff\xff"


def test_whole_stream_at_once():
    _check([STREAM])


def test_small_message_then_extended_one():
    """The reviewer's case: a reply, then a 20,000-double reply, in one buffer."""
    pair, client, _, _ = _session()
    ids = sorted(client._ioids)
    small = pair.server.send(AccessRightsResponse(cid=1, access_rights=3))
    client.recv(small + STREAM[OFFSETS[1]:OFFSETS[2]])
    got = client.next_commands()
    assert [type(c) for c in got] == [AccessRightsResponse, ReadNotifyResponse]
    assert got[1].data_count == 20000 and len(got[1].data) == 20000
    assert got[1].data[19999] == 9999.5
    assert sorted(client._ioids) == ids[1:]


#: Cuts around each message start: in the 16- and 24-byte headers, and where the old
#: fast path started (65,551 bytes buffered: a 16-byte header and 65,535 bytes).
DELTAS = (-1, 0, 1, 2, 4, 8, 15, 16, 17, 20, 23, 24, 25, 32, 65550, 65551, 65552, 65559,
          65560)


def test_every_split_point_that_matters():
    cuts = sorted({start + d for start in OFFSETS[:-1] for d in DELTAS
                   if 0 < start + d < len(STREAM)})
    assert len(cuts) > 150
    for cut in cuts:
        _check([STREAM[:cut], STREAM[cut:]])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, len(STREAM) - 1), min_size=1, max_size=8))
def test_random_splits(cuts):
    edges = [0, *sorted(set(cuts)), len(STREAM)]
    _check([STREAM[a:b] for a, b in zip(edges, edges[1:])])


def test_byte_at_a_time_across_an_extended_header():
    """Header bytes one by one, then the rest: NEED_DATA until the message is whole."""
    start = OFFSETS[1]
    chunks = [STREAM[:start], *[STREAM[i:i + 1] for i in range(start, start + 24)],
              STREAM[start + 24:]]
    _check(chunks)
