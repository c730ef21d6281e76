"""Property tests and fuzzing of the protocol core (hypothesis)."""
from __future__ import annotations

import math
import random
import struct

import pytest
from fuzzing import (feed_broadcaster, feed_circuit, fuzz_once, load_frames,
                     replay_mutated, touch)
from helpers import CircuitPair, drain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import catools
from catools import CLIENT, NEED_DATA, SERVER, RemoteProtocolError, read_datagram

SETTINGS = settings(deadline=None, max_examples=300,
                    suppress_health_check=[HealthCheck.too_slow])
FRAMES = load_frames()

u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 0xFFFF)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
text = st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=60)

#: Strategy per constructor argument name.
ARG = {
    "priority": st.integers(0, 99), "version": u16, "sequence_id": u32, "flags": u16,
    "data_type": st.integers(0, 38), "data_count": st.integers(0, 100_000), "sid": u32,
    "subscriptionid": u32, "ioid": u32, "cid": u32, "status": u32,
    "low": st.floats(width=32, allow_nan=False), "high": st.floats(width=32, allow_nan=False),
    "to": st.floats(width=32, allow_nan=False), "mask": u16,
    "name": text, "reply": u16, "port": u16, "ip": ipv4, "error_message": text,
    "server_port": u16, "beacon_id": u32, "address": ipv4, "reply_flag": u16,
    "repeater_address": ipv4, "client_address": ipv4, "access_rights": u32,
    "original_request": st.builds(catools.ReadNotifyRequest, st.integers(0, 38), u16, u32,
                                  u32),
}
SIMPLE_CLASSES = [c for c in catools.ALL_COMMANDS
                  if not {"data", "metadata"} & {n for n, _ in c.ROW.fields}]


def values_for(type_id: int) -> st.SearchStrategy:
    base = catools.dbr_type(type_id).native
    if base == 0:
        return st.lists(st.binary(max_size=39).map(lambda b: b.replace(b"\0", b"")),
                        max_size=5)
    elem = {1: st.integers(-2**15, 2**15 - 1), 2: st.floats(width=32, allow_nan=False),
            3: st.integers(0, 0xFFFF), 4: st.integers(0, 255),
            5: st.integers(-2**31, 2**31 - 1), 6: st.floats(allow_nan=False)}[base]
    return st.lists(elem, max_size=12)


@st.composite
def simple_commands(draw):
    cls = draw(st.sampled_from(SIMPLE_CLASSES))
    kwargs = {name: draw(ARG[name]) for name, _ in cls.ROW.fields}
    return cls(**kwargs)


@st.composite
def dbr_commands(draw):
    type_id = draw(st.integers(0, 38))
    values = draw(values_for(type_id))
    cls = draw(st.sampled_from([catools.ReadNotifyResponse, catools.EventAddResponse,
                                catools.ReadResponse, catools.WriteNotifyRequest]))
    md = catools.DBRMetadata(status=draw(st.integers(0, 21)), severity=draw(st.integers(0, 3)),
                             timestamp=(draw(u32), draw(st.integers(0, 999_999_999))))
    extra = {"ioid": draw(u32)}
    if cls is catools.EventAddResponse:
        extra = {"subscriptionid": draw(u32)}
    elif cls is catools.ReadResponse:
        extra["cid"] = draw(u32)
    elif cls is catools.WriteNotifyRequest:
        extra["sid"] = draw(u32)
    return cls(data=values, metadata=md, data_type=type_id, **extra), values, md


@SETTINGS
@given(simple_commands())
def test_random_command_round_trip(cmd):
    raw = bytes(cmd)
    assert len(raw) % 8 == 0
    (got,) = read_datagram(raw, cmd.SENDER)
    assert got == cmd and bytes(got) == raw
    for name in cmd._FIELDS:
        assert getattr(got, name) == getattr(cmd, name)


@SETTINGS
@given(dbr_commands())
def test_random_dbr_round_trip(case):
    cmd, values, md = case
    raw = bytes(cmd)
    (got,) = read_datagram(raw, cmd.SENDER)
    if type(got) is catools.EventCancelResponse:  # empty EventAddResponse, see roundtrip
        assert not cmd.payload
        return
    assert got == cmd
    decoded = list(got.data)
    if isinstance(values, list) and values and isinstance(values[0], float):
        if catools.dbr_type(cmd.data_type).typecode == "f":
            values = [struct.unpack(">f", struct.pack(">f", v))[0] for v in values]
        assert all(a == b or (math.isinf(a) and math.isinf(b))
                   for a, b in zip(decoded, values))
    else:
        assert decoded == list(values)
    row = catools.dbr_type(cmd.data_type)
    if "status" in row.meta_fields:
        assert (got.metadata.status, got.metadata.severity) == (md.status, md.severity)
    if "secs" in row.meta_fields:
        assert got.metadata.timestamp == md.timestamp


def _session_stream(updates: list[tuple[int, list[float]]]) -> tuple[CircuitPair, bytes]:
    """A client circuit with a channel and subscription, and server bytes for it."""
    pair = CircuitPair()
    pair.handshake()
    chan, schan = pair.connect_channel(count=20)
    (sub,) = pair.client_sends(chan.subscribe(catools.ChannelType.TIME_DOUBLE))
    raw = b"".join(pair.server.send(schan.subscribe(v, sub.subscriptionid, t))
                   for t, v in updates)
    raw += pair.server.send(catools.EchoResponse())
    return pair, raw


def _fresh_client(updates):
    pair, raw = _session_stream(updates)
    return pair.client, raw


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.sampled_from([6, 13, 20, 34]),
                          st.lists(st.floats(allow_nan=False), max_size=3)),
                min_size=1, max_size=3))
def test_every_two_piece_split_gives_the_same_commands(updates):
    client, raw = _fresh_client(updates)
    client.recv(raw)
    whole = drain(client)
    assert len(whole) == len(updates) + 1
    for cut in range(len(raw) + 1):
        fresh, _ = _fresh_client(updates)
        got = []
        for piece in (raw[:cut], raw[cut:]):
            if piece:  # recv(b"") would mean end of stream
                fresh.recv(piece)
                got += drain(fresh)
        assert got == whole, cut
        assert fresh.next_command() is NEED_DATA


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from([CLIENT, SERVER]), st.booleans())
def test_random_bytes_to_circuit(data, role, eof):
    out = feed_circuit(role, [data], eof=eof)
    assert all(o is RemoteProtocolError or o in (NEED_DATA, catools.DISCONNECTED)
               or isinstance(o, catools.Command) for o in out)


@SETTINGS
@given(st.lists(st.binary(max_size=120), max_size=4), st.sampled_from([CLIENT, SERVER]))
def test_random_datagrams_to_broadcaster(datagrams, role):
    feed_broadcaster(role, datagrams)


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_mutated_golden_traffic(seed):
    rng = random.Random(seed)
    fuzz_once(rng, FRAMES)


@SETTINGS
@given(st.integers(0, len(FRAMES) - 1), st.sampled_from([CLIENT, SERVER]),
       st.integers(0, 1000), st.integers(0, 2**32 - 1))
def test_golden_with_one_random_header_field(index, role, which, value):
    """Replace one 32-bit header word of one peer message with any value."""
    count = [0]

    def mutate(raw: bytes) -> bytes:
        count[0] += 1
        if count[0] - 1 != which % 8:
            return raw
        offset = 8 + 4 * (value % 2)
        return raw[:offset] + struct.pack(">I", value) + raw[offset + 4:]

    replay_mutated(FRAMES[index], role, mutate)


@pytest.mark.parametrize("role", [CLIENT, SERVER])
def test_oversized_header_fails_before_payload(role):
    circuit = catools.VirtualCircuit(role, max_payload_size=1000)
    circuit.recv(struct.pack(">HHHHII", 15, 1008, 6, 126, 1, 1))
    with pytest.raises(RemoteProtocolError):
        circuit.next_command()
    from catools import CircuitState
    assert circuit.states[role.peer] is CircuitState.ERROR
    # extended header announcing a gigabyte: refused after its 24 header bytes
    circuit = catools.VirtualCircuit(role, max_payload_size=1000)
    circuit.recv(struct.pack(">HHHHIIII", 15, 0xFFFF, 6, 0, 1, 1, 10**9, 125_000_000))
    with pytest.raises(RemoteProtocolError):
        circuit.next_command()
    # exactly at the limit is fine (waits for data)
    circuit = catools.VirtualCircuit(role, max_payload_size=1000)
    circuit.recv(struct.pack(">HHHHII", 0, 1000, 0, 13, 0, 0))
    assert circuit.next_command() is NEED_DATA


def test_touch_decodes_dbr_payloads():
    cmd = catools.ReadNotifyResponse(data=[1.0], data_type=20, ioid=1)
    (got,) = read_datagram(bytes(cmd), SERVER)
    touch(got)
    assert "_data" in got.__dict__
