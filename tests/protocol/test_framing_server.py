"""The core's framing as a server uses it: ECA_TOLARGE drain, peeking at a header,
taking a payload past the framing; and the answer a refused request declares."""
from __future__ import annotations

import struct

import pytest

import catools.protocol as catools
from catools.protocol import (CLIENT, SERVER, CAStatus, CircuitState, ReceiveBuffer,
                              RemoteProtocolError, VirtualCircuit)

HDR = struct.Struct(">HHHHII")
EXT = struct.Struct(">HHHHIIII")


def test_drain_skips_an_oversize_message_buffered_and_still_to_come():
    rx = ReceiveBuffer(drain_oversize=True)
    big = HDR.pack(4, 64, 6, 8, 7, 9)
    rx.feed(big + bytes(20))
    with pytest.raises(RemoteProtocolError) as info:
        rx.frame(32)
    error = info.value
    assert error.recoverable and error.status == CAStatus.ECA_TOLARGE
    assert error.header == catools.Header(4, 64, 6, 8, 7, 9)
    assert rx.header_bytes() == big
    echo = bytes(catools.EchoRequest())
    rx.feed(bytes(44) + echo)             # the payload's rest, then the next message
    frame = rx.frame(32)
    assert frame is not None and frame[0] == catools.EchoRequest.ID
    assert len(rx) == 0


def test_without_drain_an_oversize_message_stays_and_ends_the_circuit():
    rx = ReceiveBuffer()
    rx.feed(HDR.pack(4, 64, 6, 8, 7, 9) + bytes(64))
    with pytest.raises(RemoteProtocolError) as info:
        rx.frame(32)
    assert not info.value.recoverable and info.value.status is None
    assert len(rx) == 80


def test_peek_reads_a_header_without_consuming_it_and_take_consumes_raw_bytes():
    rx = ReceiveBuffer()
    ext = EXT.pack(4, 0xFFFF, 6, 0, 1, 2, 1 << 20, 1 << 17)
    rx.feed(ext[:20])
    assert rx.peek() is None
    rx.feed(ext[20:] + b"abc")
    header, size = rx.peek()
    assert size == 24 and header == catools.Header(4, 1 << 20, 6, 1 << 17, 1, 2)
    assert rx.header_bytes() == ext and len(rx) == 27
    assert rx.take(24) == ext
    assert rx.take(10) == b"abc" and len(rx) == 0


def _server_after_version() -> VirtualCircuit:
    server = VirtualCircuit(SERVER, drain_oversize=True, max_payload_size=64)
    server.recv(bytes(catools.VersionRequest(priority=0, version=13)))
    assert isinstance(server.next_command(), catools.VersionRequest)
    return server


def test_a_drained_request_keeps_the_circuit():
    server = _server_after_version()
    server.recv(HDR.pack(4, 72, 6, 9, 1, 2) + bytes(72) + bytes(catools.EchoRequest()))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_command()
    assert info.value.status == CAStatus.ECA_TOLARGE and info.value.recoverable
    assert server.states[CLIENT] is CircuitState.CONNECTED
    assert isinstance(server.next_command(), catools.EchoRequest)


def test_a_request_before_version_is_answered_defunct_and_kept():
    server = VirtualCircuit(SERVER)
    server.recv(bytes(catools.EchoRequest()))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_command()
    assert info.value.status == CAStatus.ECA_DEFUNCT and info.value.recoverable
    assert server.states[CLIENT] is CircuitState.SEND_VERSION_REQUEST


def test_refused_requests_declare_rsrvs_answers():
    server = _server_after_version()
    server.recv(bytes(catools.EventCancelRequest(data_type=6, data_count=1, sid=5,
                                                 subscriptionid=3)))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_command()
    assert info.value.status == CAStatus.ECA_BADMONID and not info.value.recoverable
    assert server.states[CLIENT] is CircuitState.ERROR
    bad = VirtualCircuit(SERVER)
    bad.recv(bytes(catools.VersionRequest(priority=0, version=1)))
    with pytest.raises(RemoteProtocolError) as info:
        bad.next_command()
    assert info.value.status is None          # a bad VERSION: closed without an answer


def test_a_client_circuit_declares_no_answer():
    client = VirtualCircuit(CLIENT)
    client.recv(HDR.pack(999, 0, 0, 0, 0, 0))
    with pytest.raises(RemoteProtocolError) as info:
        client.next_command()
    assert info.value.status is None
