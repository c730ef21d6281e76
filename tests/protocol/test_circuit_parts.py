"""The parts a VirtualCircuit is made of, each through its own interface: the errors'
declared fields, the ReceiveBuffer that frames bytes, and the IdTables."""
from __future__ import annotations

import pickle
import struct

import pytest

import catools
from catools import (CLIENT, SERVER, Header, LocalProtocolError, ProtocolError,
                     RemoteProtocolError)
from catools.protocol._errors import as_remote
from catools.protocol._framing import ReceiveBuffer, short_frame_limit
from catools.protocol._ids import IdTables

from helpers import CircuitPair

HDR = struct.Struct(">HHHHII")
EXT = struct.Struct(">HHHHIIII")


# -- errors ---------------------------------------------------------------------------

def test_error_fields_are_declared_with_defaults():
    for cls in (LocalProtocolError, RemoteProtocolError):
        exc = cls("boom")
        assert (exc.header, exc.recoverable, exc.ignorable) == (None, False, False)
        assert exc.args == ("boom",)
    assert set(ProtocolError.__annotations__) == {"header", "recoverable", "ignorable"}
    with pytest.raises(TypeError):
        ProtocolError("abstract")


def test_error_fields_are_constructor_keywords_and_survive_pickling():
    header = Header(1, 16, 6, 1, 7, 9)
    exc = RemoteProtocolError("bad", header=header, recoverable=True, ignorable=True)
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is RemoteProtocolError and again.args == ("bad",)
    assert (again.header, again.recoverable, again.ignorable) == (header, True, True)


def test_as_remote_carries_the_fields_and_takes_the_header():
    local = LocalProtocolError("late", recoverable=True, ignorable=True)
    header = Header(15, 8, 6, 1, 1, 2)
    remote = as_remote(local, header)
    assert isinstance(remote, RemoteProtocolError) and remote.args == ("late",)
    assert (remote.header, remote.recoverable, remote.ignorable) == (header, True, True)
    assert remote.__cause__ is local
    assert as_remote(LocalProtocolError("x")).recoverable is False


def test_an_unknown_ioid_error_from_the_wire_is_declared_ignorable():
    pair = CircuitPair(ignore_unknown_ids=True)
    pair.handshake()
    raw = bytes(catools.ReadNotifyResponse(data=[1.0], data_type=6, ioid=4242))
    pair.client.recv(raw)
    with pytest.raises(RemoteProtocolError) as info:
        pair.client.next_command()
    error = info.value
    assert error.recoverable and error.ignorable
    assert error.header == Header(15, 8, 6, 1, 1, 4242)
    assert pair.client.states[SERVER] is catools.CircuitState.CONNECTED


# -- the receive buffer -----------------------------------------------------------------

def test_frame_waits_for_the_whole_message_and_consumes_nothing_before():
    rx = ReceiveBuffer()
    message = HDR.pack(23, 8, 0, 0, 0, 0) + b"12345678"
    for i, byte in enumerate(message[:-1]):
        rx.feed(message[i:i + 1])
        assert rx.frame(1000) is None
        assert len(rx) == i + 1
    rx.feed(message[-1:])
    frame = rx.frame(1000)
    assert frame is not None
    cmd, psize, dtype, count, p1, p2, start, end = frame
    assert (cmd, psize) == (23, 8) and rx.data[start:end] == b"12345678"
    assert len(rx) == 0 and rx.frame(1000) is None


def test_frame_widens_the_extended_header():
    rx = ReceiveBuffer()
    payload = bytes(range(16))
    rx.feed(EXT.pack(15, 0xFFFF, 6, 0, 5, 6, len(payload), 70000) + payload + b"tail")
    cmd, psize, dtype, count, p1, p2, start, end = rx.frame(1 << 20)
    assert (cmd, psize, dtype, count, p1, p2) == (15, 16, 6, 70000, 5, 6)
    assert (start, end) == (24, 40) and rx.data[start:end] == payload
    assert len(rx) == 4


def test_frame_refuses_an_oversized_payload_at_its_header():
    rx = ReceiveBuffer()
    rx.feed(HDR.pack(1, 0x1000, 6, 1, 0, 0))          # payload not sent at all
    with pytest.raises(RemoteProtocolError, match="exceeds the limit of 100"):
        rx.frame(100)
    assert len(rx) == 16                               # nothing consumed


def test_end_of_stream_and_clear():
    rx = ReceiveBuffer()
    rx.feed(b"abc")
    assert not rx.eof
    rx.feed(b"")
    assert rx.eof and len(rx) == 3
    rx.clear()
    assert len(rx) == 0 and rx.data == b""


def test_short_frame_limit_stays_below_the_extended_marker():
    assert short_frame_limit(1 << 30) == 0xFFFE
    assert short_frame_limit(1000) == 1000


# -- id tables --------------------------------------------------------------------------

def test_ids_are_counters_that_skip_ids_in_use():
    ids = IdTables()
    assert [ids.new_ioid() for _ in range(3)] == [1, 2, 3]
    ids.ioids[5] = (None, catools.ReadNotifyRequest)
    assert ids.new_ioid() == 4 and ids.new_ioid() == 6
    ids.next_subid = 0xFFFFFFFF
    assert ids.new_subscriptionid() == 0                # 32-bit wrap


def test_an_error_ends_the_request_it_quotes_by_its_command_code():
    ids = IdTables()
    for ioid, request in ((1, catools.ReadRequest), (2, catools.ReadNotifyRequest),
                          (3, catools.WriteNotifyRequest)):
        ids.ioids[ioid] = (None, request)
    for code, ioid in ((3, 1), (15, 2), (19, 3)):       # READ, READ_NOTIFY, WRITE_NOTIFY
        ids.end_quoted(Header(code, 0, 6, 1, 9, ioid))
        assert ioid not in ids.ioids
    ids.event_add_commands[7] = object()                # EVENT_ADD (1) ends subscription 7
    ids.sub_channel[7] = object()
    ids.cancelling.add(7)
    ids.end_quoted(Header(1, 16, 6, 1, 9, 7))
    assert (ids.event_add_commands, ids.sub_channel, ids.cancelling) == ({}, {}, set())


def test_a_reply_of_the_wrong_kind_leaves_its_request_in_flight():
    ids = IdTables()
    ids.start_io(4, "channel", catools.ReadNotifyRequest)
    with pytest.raises(LocalProtocolError, match="WriteNotifyResponse answers IOID 4"):
        ids.end_io(4, catools.WriteNotifyResponse)
    assert ids.ioids == {4: ("channel", catools.ReadNotifyRequest)}
    with pytest.raises(LocalProtocolError, match="already in flight"):
        ids.start_io(4, "channel", catools.ReadNotifyRequest)
    ids.end_io(4, catools.ReadNotifyResponse)
    assert ids.ioids == {}


def test_the_circuit_shows_its_parts_under_its_own_names():
    circuit = catools.VirtualCircuit(CLIENT, ("127.0.0.1", 5064), 3)
    assert circuit.priority == 3 and circuit.their_version is None
    assert circuit.states == {CLIENT: catools.CircuitState.SEND_VERSION_REQUEST,
                              SERVER: catools.CircuitState.SEND_VERSION_RESPONSE}
    channel = catools.ClientChannel(circuit, "X")
    assert circuit.channels == {channel.cid: channel}
    assert circuit.new_ioid() == 1 and circuit._ioids == {}
    circuit.recv(b"\0" * 5)
    assert circuit.buffered == 5
