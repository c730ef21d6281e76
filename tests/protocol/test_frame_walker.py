"""The one frame walker (``frame_at``) and its users: the circuit's ReceiveBuffer, UDP
datagrams (``read_datagram``) and beacon datagrams (``split_messages``).

The oracles below are the loops these users had before they shared the walker, kept
here as the reference their framing must still agree with.
"""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catools import CLIENT, SERVER, RemoteProtocolError, read_datagram
from catools.client.beacons import split_messages
from catools.protocol import REGISTRY, EventAddResponse, EventCancelResponse, Frame, \
    ReceiveBuffer, frame_at, unpack_header
from catools.protocol._headers import quoted_header

SETTINGS = settings(deadline=None, max_examples=300,
                    suppress_health_check=[HealthCheck.too_slow])
_H = struct.Struct(">HHHHII")


def reference_frame(data: bytes, pos: int, extended: bool) -> Frame | None:
    """The header rule, written from the protocol notes (ca-protocol.md §2)."""
    if len(data) - pos < 16:
        return None
    cmd, size, dtype, count, p1, p2 = _H.unpack_from(data, pos)
    start = pos + 16
    if extended and size == 0xFFFF:
        if len(data) - pos < 24:
            return None
        size = int.from_bytes(data[pos + 16:pos + 20], "big")
        count = int.from_bytes(data[pos + 20:pos + 24], "big")
        start = pos + 24
    return cmd, size, dtype, count, p1, p2, start, start + size


def old_read_datagram(data: bytes, sender: object) -> list[object]:
    """read_datagram's loop before the walker."""
    registry = REGISTRY[sender]
    commands: list[object] = []
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 16:
            raise RemoteProtocolError(f"truncated header at byte {pos} of a datagram")
        cmd, psize, dtype, count, p1, p2 = _H.unpack_from(data, pos)
        start = pos + 16
        if psize == 0xFFFF:
            if end - pos < 24:
                raise RemoteProtocolError(f"truncated header at byte {pos} of a datagram")
            psize, count = struct.unpack_from(">II", data, start)
            start = pos + 24
        stop = start + psize
        if stop > end:
            raise RemoteProtocolError(f"datagram truncated: message at byte {pos} "
                                      f"announces {psize} payload bytes")
        cls = registry.get(cmd)
        if cls is None:
            raise RemoteProtocolError(f"unknown command code {cmd} from the "
                                      f"{sender.value.lower()}")  # type: ignore[attr-defined]
        if cls is EventAddResponse and not psize:
            cls = EventCancelResponse
        commands.append(cls._from_wire(dtype, count, p1, p2, data[start:stop]))
        pos = stop
    return commands


def old_split_messages(datagram: bytes) -> tuple[list[tuple[int, ...]], bool]:
    """split_messages' loop before the walker (0xFFFF is a plain size there)."""
    out: list[tuple[int, ...]] = []
    pos, end = 0, len(datagram)
    while pos < end:
        if end - pos < 16:
            return out, True
        cmd, size, dtype, count, p1, p2 = _H.unpack_from(datagram, pos)
        stop = pos + 16 + size
        if stop > end:
            return out, True
        out.append((cmd, dtype, count, p1, p2))
        pos = stop
    return out, False


def outcome(function: object, *args: object) -> object:
    """What a call returns, or the RemoteProtocolError (its text) it raises."""
    try:
        return function(*args)  # type: ignore[operator]
    except RemoteProtocolError as exc:
        return ("RemoteProtocolError", str(exc))


def header(cmd: int, size: int, dtype: int = 0, count: int = 0, p1: int = 0, p2: int = 0,
           *, extended: bool = False) -> bytes:
    if extended:
        return struct.pack(">HHHHIIII", cmd, 0xFFFF, dtype, 0, p1, p2, size, count)
    return _H.pack(cmd, size, dtype, count & 0xFFFF, p1, p2)


#: One message: a header (either form) and its payload, or a header announcing more.
message = st.builds(
    lambda cmd, size, dtype, count, p1, p2, ext, cut: (
        header(cmd, size, dtype, count, p1, p2, extended=ext) + b"\x5a" * size)[:cut],
    st.sampled_from([0, 1, 6, 13, 15, 17, 18, 22, 23, 0xFFFF]), st.integers(0, 300),
    st.integers(0, 40), st.integers(0, 0x1FFFF), st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1), st.booleans(), st.one_of(st.none(), st.integers(0, 330)))
stream = st.lists(message, max_size=8).map(b"".join)
raw = st.one_of(st.binary(max_size=200), stream)


@SETTINGS
@given(raw, st.integers(0, 210), st.booleans())
def test_frame_at_reads_any_bytes_as_the_rule_says(data, pos, extended):
    assert frame_at(data, pos, extended) == reference_frame(data, pos, extended)
    assert frame_at(bytearray(data), pos, extended) == reference_frame(data, pos, extended)
    assert frame_at(memoryview(data), pos, extended) == reference_frame(data, pos, extended)


@SETTINGS
@given(raw)
def test_datagram_walkers_agree_with_their_old_loops(data):
    for sender in (CLIENT, SERVER):
        if data:          # (an empty datagram is a registration, not framed)
            assert outcome(read_datagram, data, sender) == \
                outcome(old_read_datagram, data, sender)
    assert split_messages(data) == old_split_messages(data)


@SETTINGS
@given(raw, st.lists(st.integers(1, 64), max_size=20), st.integers(0, 400),
       st.booleans())
def test_receive_buffer_frames_what_the_rule_frames(data, cuts, limit, drain):
    """Fed in any pieces, a ReceiveBuffer frames the stream as the rule walks it whole:
    the same messages, payloads and raw headers; a payload over the limit raises
    RemoteProtocolError (and nothing else is ever raised)."""
    expected = []
    pos = 0
    while (frame := reference_frame(data, pos, True)) is not None and \
            frame[1] <= limit and frame[7] <= len(data):
        expected.append((frame[:6], data[pos:frame[6]], data[frame[6]:frame[7]]))
        pos = frame[7]
    over = frame is not None and frame[1] > limit
    rx = ReceiveBuffer(drain_oversize=drain)
    got, raised, rest, cuts = [], False, data, list(cuts)
    while True:
        try:
            frame = rx.frame(limit)
        except RemoteProtocolError:
            raised = True
            break
        if frame is not None:
            got.append((frame[:6], rx.header_bytes(), rx.data[frame[6]:frame[7]]))
            continue
        if not rest:
            break
        size = cuts.pop() if cuts else len(rest)
        rx.feed(rest[:size])
        rest = rest[size:]
    assert got == expected
    assert raised == over


def test_a_0xffff_size_is_a_plain_size_in_beacon_datagrams_only():
    """libca's udpiiu.cpp and casw take the 16-bit size as it is (a 0xFFFF size asks
    for more than a datagram holds); read_datagram and circuits read the extended form."""
    beacon = header(13, 0, 13, 5064, 7, 0x7F000001)
    extended = header(0, 0, 0, 13, 1, 2, extended=True)    # VERSION, extended form
    assert split_messages(beacon + extended) == ([(13, 13, 5064, 7, 0x7F000001)], True)
    assert frame_at(extended) == (0, 0, 0, 13, 1, 2, 24, 24)
    assert frame_at(extended, 0, False) == (0, 0xFFFF, 0, 0, 1, 2, 16, 16 + 0xFFFF)
    (version,) = read_datagram(extended, SERVER)
    assert version.version == 13


@pytest.mark.parametrize("raw, size", [(b"", None), (bytes(15), None), (bytes(16), 16),
                                       (header(1, 0xFFFF)[:16] + bytes(7), None),
                                       (header(1, 0, extended=True), 24)])
def test_header_decoders_share_the_walker(raw, size):
    parsed = unpack_header(raw)
    assert (parsed and parsed[1]) == size
    if size:
        assert tuple(parsed[0]) == frame_at(raw)[:6]
        assert quoted_header(raw) == parsed[0]
