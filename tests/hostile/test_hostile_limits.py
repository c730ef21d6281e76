"""Claimed sizes and counts never make the core wait for, or allocate, more than its
payload limit: a header announcing more fails as soon as the header is complete, and
nothing proportional to a claimed size or count is allocated."""
from __future__ import annotations

import tracemalloc

import pytest

from catools import (CLIENT, NEED_DATA, SERVER, CircuitState, ReadNotifyRequest,
                     ReadNotifyResponse, RemoteProtocolError, VirtualCircuit)
from corefuzz import EXT, HDR, Session, check_bound

#: Far below any claimed size used here (which are >= 64 MiB).
SMALL_ALLOCATION = 1 << 20


def _peak(action) -> tuple[object, int]:
    """(what ``action()`` returned or raised, the peak bytes it allocated)."""
    tracemalloc.start()
    try:
        try:
            result: object = action()
        except RemoteProtocolError as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("role", [CLIENT, SERVER])
@pytest.mark.parametrize("claim", [2**31, 2**32 - 1, (64 << 20) + 8])
@pytest.mark.parametrize("batched", [False, True])
def test_huge_claimed_size_fails_at_its_header(role, claim, batched):
    """Default limit (64 MiB): an extended header claiming more is refused once its 24
    bytes are in, byte by byte or at once, with no big allocation."""
    circuit = Session(role).ours                           # past the handshake
    circuit.max_payload_size = 64 << 20
    header = EXT.pack(15 if role is CLIENT else 4, 0xFFFF, 6, 0, 1, 2, claim, 1)
    parse = circuit.next_commands if batched else circuit.next_command
    for i in range(23):
        circuit.recv(header[i:i + 1])
        assert parse() in (NEED_DATA, [])
    circuit.recv(header[23:] + bytes(64))
    result, peak = _peak(parse)
    assert isinstance(result, RemoteProtocolError) and "exceeds the limit" in str(result)
    assert peak < SMALL_ALLOCATION
    assert circuit.states[role.peer] is CircuitState.ERROR
    with pytest.raises(RemoteProtocolError):   # and it stays refused
        parse()


@pytest.mark.parametrize("role", [CLIENT, SERVER])
def test_standard_header_over_a_small_limit(role):
    circuit = VirtualCircuit(role, max_payload_size=1000)
    circuit.recv(HDR.pack(0, 0xFFF8, 0, 13, 0, 0)[:15])
    assert circuit.next_command() is NEED_DATA
    circuit.recv(b"\0")
    with pytest.raises(RemoteProtocolError):
        circuit.next_command()


def test_a_claim_at_the_limit_waits_without_allocating_it():
    """64 MiB announced and allowed: NEED_DATA, and only what arrived is kept."""
    session = Session(CLIENT)
    circuit = session.ours
    circuit.max_payload_size = 64 << 20
    r_ch = session.reads[2]
    header = EXT.pack(15, 0xFFFF, 4, 0, 1, r_ch.ioid, 64 << 20, 64 << 20)

    def feed():
        circuit.recv(header + bytes(1000))
        return circuit.next_commands()

    result, peak = _peak(feed)
    assert result == []
    assert peak < SMALL_ALLOCATION
    assert circuit.buffered == 24 + 1000


def test_a_large_message_streams_in_within_the_bound():
    """A 70,000-element reply in 4 KiB chunks: the circuit holds no more than the
    message, and the reply comes out whole."""
    session = Session(CLIENT)
    circuit = session.ours
    r_ch = session.reads[2]
    raw = bytes(session.s_ch.read(bytes(range(250)) * 280, r_ch.ioid, 4))
    assert raw[2:4] == b"\xff\xff"
    got = []
    for i in range(0, len(raw), 4096):
        circuit.recv(raw[i:i + 4096])
        got += circuit.next_commands()
        check_bound(circuit)
        assert circuit.buffered == (0 if got else i + len(raw[i:i + 4096]))
    (reply,) = got
    assert isinstance(reply, ReadNotifyResponse) and reply.data.tobytes() == bytes(range(250)) * 280


@pytest.mark.parametrize("count", [2**32 - 1, 2**31, 0xFFFF, 70001])
def test_huge_count_with_a_small_payload_allocates_nothing(count):
    """A reply claiming 4 billion elements in 8 bytes: refused, nothing allocated."""
    session = Session(CLIENT)
    circuit = session.ours
    r_ch = session.reads[2]
    raw = EXT.pack(15, 0xFFFF, 6, 0, 1, r_ch.ioid, 8, count) + bytes(8)

    def feed():
        circuit.recv(raw)
        return circuit.next_commands()

    result, peak = _peak(feed)
    assert isinstance(result, RemoteProtocolError) and "payload bytes" in str(result)
    assert peak < SMALL_ALLOCATION


def test_a_request_for_a_huge_count_is_only_a_number():
    """To a server core, READ_NOTIFY for 4 billion elements is a command like any other
    (what to answer is the server's business): the core allocates nothing for it."""
    session = Session(SERVER)
    circuit = session.ours

    def feed():
        circuit.recv(bytes(ReadNotifyRequest(6, 2**32 - 1, 11, 999)))
        return circuit.next_commands()

    result, peak = _peak(feed)
    assert isinstance(result, list) and result[0].data_count == 2**32 - 1
    assert peak < SMALL_ALLOCATION
