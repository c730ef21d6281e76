"""ERROR's quoted request header: decoded for any bytes a peer may quote (extended,
cut short, empty), never raising anything but RemoteProtocolError (issue 10 item 2)."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

from catools import (SERVER, Broadcaster, EchoResponse, ErrorResponse, Header, NEED_DATA,
                     ReadNotifyRequest, RemoteProtocolError, read_datagram)
from catools.protocol import LocalProtocolError
from helpers import CircuitPair

HDR = struct.Struct(">HHHHII")
EXT_TAIL = struct.Struct(">II")
ECA_GETFAIL = 0x98


def _error(payload: bytes, cid: int = 7, status: int = ECA_GETFAIL) -> bytes:
    """An ERROR message with exactly this payload (no padding added)."""
    return HDR.pack(11, len(payload), 0, 0, cid, status) + payload


def _reading_pair():
    """A client with a 70,000-element read (extended request) and a small read in flight."""
    pair = CircuitPair()
    pair.handshake()
    chan, _ = pair.connect_channel("WF", native_type=4, count=70000)
    big, small = pair.client_sends(chan.read(4, 70000), chan.read(4, 10))
    return pair, big, small


def test_extended_quote_is_widened_and_ends_its_read():
    pair, big, small = _reading_pair()
    quote = bytes(big)
    assert len(quote) == 24 and quote[2:4] == b"\xff\xff"
    pair.client.recv(_error(quote + b"WF\0" + bytes(5)))
    (err,) = pair.client.next_commands()
    assert err.original_header == Header(15, 0, 4, 70000, big.sid, big.ioid)
    assert err.error_message == "WF" and err.status == ECA_GETFAIL
    assert sorted(pair.client._ioids) == [small.ioid]


def test_error_built_from_an_extended_request():
    request = ReadNotifyRequest(4, 70000, 3, 9)
    err = ErrorResponse(original_request=request, cid=1, status=ECA_GETFAIL,
                        error_message="big")
    (got,) = read_datagram(bytes(err), SERVER)
    assert got == err
    assert got.original_header == Header(15, 0, 4, 70000, 3, 9)


def test_quote_cut_short_of_its_extended_tail():
    """A 16-byte quote that has the 0xFFFF marker: the 16-bit fields, no TypeError; the
    quoted IOID is still ended."""
    pair, big, small = _reading_pair()
    quote = bytes(big)[:16]
    pair.client.recv(_error(quote))
    (err,) = pair.client.next_commands()
    header = err.original_header
    assert header == Header(15, 0xFFFF, 4, 0, big.sid, big.ioid)
    assert err.error_message == ""
    assert sorted(pair.client._ioids) == [small.ioid]
    bytes(err), repr(err)


@pytest.mark.parametrize("size", [0, 1, 8, 15])
def test_error_payload_shorter_than_a_header(size):
    """Malformed: the peer's fault, reported as RemoteProtocolError, nothing else."""
    pair, _, _ = _reading_pair()
    pair.client.recv(_error(bytes(size)))
    with pytest.raises(RemoteProtocolError):
        pair.client.next_commands()
    with pytest.raises(RemoteProtocolError):
        read_datagram(_error(bytes(size)), SERVER)


def test_local_error_needs_a_whole_quote():
    with pytest.raises(LocalProtocolError):
        ErrorResponse(original_request=HDR.pack(15, 0xFFFF, 4, 0, 1, 2), cid=1, status=1)
    with pytest.raises(LocalProtocolError):
        ErrorResponse(original_request=b"short", cid=1, status=1)


def _check_error(err: ErrorResponse) -> None:
    header = err.original_header
    assert isinstance(header, Header) and all(isinstance(v, int) for v in header)
    raw = err.original_request
    assert len(raw) in (16, 24)
    assert header[:1] + header[2:3] + header[4:] == \
        (HDR.unpack_from(raw)[0], HDR.unpack_from(raw)[2], *HDR.unpack_from(raw)[4:])
    if len(raw) == 24:
        assert (header.payload_size, header.data_count) == EXT_TAIL.unpack_from(raw, 16)
    assert isinstance(err.error_message, str)
    bytes(err), repr(err)


quotes = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda tail, rest: HDR.pack(15, 0xFFFF, 6, 0, 1, 2) + tail + rest,
              st.binary(max_size=8), st.binary(max_size=24)),
)


@settings(max_examples=300, deadline=None)
@given(quotes)
def test_any_error_payload_over_udp(payload):
    try:
        (err,) = read_datagram(_error(payload), SERVER)
    except RemoteProtocolError:
        assert len(payload) < 16
        return
    _check_error(err)
    b = Broadcaster(SERVER.peer)
    b.recv(_error(payload), ("127.0.0.1", 5064))
    assert b.next_command() == err and b.next_command() is NEED_DATA


@settings(max_examples=200, deadline=None)
@given(quotes, st.booleans())
def test_any_error_payload_on_a_circuit(payload, batched):
    pair, big, small = _reading_pair()
    pair.client.recv(_error(payload) + pair.server.send(EchoResponse()))
    try:
        if batched:
            got = pair.client.next_commands()
            got += pair.client.next_commands()
        else:
            got = [pair.client.next_command(), pair.client.next_command()]
    except RemoteProtocolError:
        assert len(payload) < 16
        return
    err, echo = got
    _check_error(err)
    assert echo == EchoResponse()
    header = err.original_header
    if header.command == 15 and header.parameter2 in (big.ioid, small.ioid):
        assert header.parameter2 not in pair.client._ioids     # the quoted read ended
