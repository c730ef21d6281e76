"""Hostile datagrams into Broadcaster (both roles) and ``search_replies``: only commands,
NEED_DATA or RemoteProtocolError come out, the broadcaster stays usable,
``next_commands`` agrees with ``next_command``, and ``search_replies`` either declines
(None) or gives exactly what ``read_datagram`` decodes."""
from __future__ import annotations

from fuzzing import touch
from hypothesis import HealthCheck, given, settings, strategies as st

import catools
from catools import (CLIENT, NEED_DATA, SERVER, Broadcaster, ProtocolError, SearchResponse,
                     VersionResponse, ip_to_int, read_datagram, search_replies)
from corefuzz import mutate

SETTINGS = settings(deadline=None, max_examples=150,
                    suppress_health_check=[HealthCheck.too_slow])
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 2**32 - 1)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
names = st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), min_size=1,
                max_size=40)


def search_reply(draw) -> SearchResponse:
    return SearchResponse(port=draw(u16), ip=draw(ipv4), cid=draw(u32),
                          version=draw(st.sampled_from([13, 11, 0, 0xFFFF])))


def _from_server(draw) -> list[bytes]:
    """Datagrams a server, repeater or broken peer sends to a client."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replies", "notfound", "beacon", "confirm", "error"]))
        if kind == "replies":
            parts = [bytes(VersionResponse(version=13, flags=1,
                                           sequence_id=draw(u32)))] if draw(st.booleans()) else []
            parts += [bytes(search_reply(draw)) for _ in range(draw(st.integers(1, 5)))]
        elif kind == "notfound":
            parts = [bytes(catools.NotFoundResponse(cid=draw(u32)))]
        elif kind == "beacon":
            parts = [bytes(catools.Beacon(server_port=draw(u16), beacon_id=draw(u32),
                                          address=draw(ipv4)))]
        elif kind == "confirm":
            parts = [bytes(catools.RepeaterConfirmResponse(repeater_address=draw(ipv4)))]
        else:
            parts = [bytes(catools.ErrorResponse(
                original_request=catools.SearchRequest(draw(names), draw(u32)),
                cid=draw(u32), status=draw(u32), error_message=draw(names)))]
        out.append(parts)
    return _mutated(draw, out)


def _from_client(draw) -> list[bytes]:
    """Datagrams a client sends to a server or repeater."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["search", "register", "echo", "empty"]))
        if kind == "search":
            parts = [bytes(catools.VersionRequest(priority=1, sequence_id=draw(u32)))]
            parts += [bytes(catools.SearchRequest(draw(names), draw(u32),
                                                  reply=draw(st.sampled_from([5, 10]))))
                      for _ in range(draw(st.integers(1, 4)))]
        elif kind == "register":
            parts = [bytes(catools.RepeaterRegisterRequest(client_address=draw(ipv4)))]
        elif kind == "echo":
            parts = [bytes(catools.VersionRequest()), bytes(catools.EchoRequest())]
        else:
            parts = []
        out.append(parts)
    return _mutated(draw, out)


def _mutated(draw, datagrams: list[list[bytes]]) -> list[bytes]:
    out = []
    for parts in datagrams:
        if parts and draw(st.integers(0, 2)) == 0:
            i = draw(st.integers(0, len(parts) - 1))
            parts[i] = mutate(draw, parts[i])
        out.append(b"".join(parts))
    if draw(st.booleans()):
        out.append(draw(st.binary(max_size=120)))
    return out


def _one_at_a_time(role, datagrams):
    b = Broadcaster(role)
    out = []
    for datagram in datagrams:
        b.recv(datagram, ("127.0.0.1", 5064))
        while True:
            try:
                command = b.next_command()
            except ProtocolError as exc:
                out.append(("error", type(exc), str(exc)))
                continue
            if command is NEED_DATA:
                break
            assert command.sender_address == ("127.0.0.1", 5064)
            touch(command)
            out.append(command)
    return out, b


def _batched(role, datagrams):
    b = Broadcaster(role)
    out = []
    for datagram in datagrams:
        b.recv(datagram, ("127.0.0.1", 5064))
        try:
            commands = b.next_commands()
        except ProtocolError as exc:
            out.append(("error", type(exc), str(exc)))
            continue
        out += commands
        assert b.next_commands() == []
    return out, b


def _check(role, datagrams):
    single, b1 = _one_at_a_time(role, datagrams)
    batched, b2 = _batched(role, datagrams)
    assert batched == single
    assert all(isinstance(o, catools.Command) or o[1] is catools.RemoteProtocolError
               for o in single)
    assert b1.unanswered_searches == b2.unanswered_searches


@SETTINGS
@given(st.data())
def test_hostile_datagrams_to_a_client(data):
    _check(CLIENT, _from_server(data.draw))


@SETTINGS
@given(st.data())
def test_hostile_datagrams_to_a_server(data):
    _check(SERVER, _from_client(data.draw))


@SETTINGS
@given(st.sampled_from([CLIENT, SERVER]), st.lists(st.binary(max_size=100), max_size=5))
def test_random_datagrams(role, datagrams):
    _check(role, datagrams)


def _agrees_with_read_datagram(datagram: bytes) -> list | None:
    replies = search_replies(datagram)
    if replies is None:
        return None
    commands = read_datagram(datagram, SERVER)
    if commands and isinstance(commands[0], VersionResponse):
        commands = commands[1:]
    assert all(type(c) is SearchResponse for c in commands)
    assert replies == [(c.port, ip_to_int(c.ip), c.cid, c.version) for c in commands]
    return replies


@SETTINGS
@given(st.data())
def test_search_replies_on_valid_reply_datagrams(data):
    draw = data.draw
    replies = [search_reply(draw) for _ in range(draw(st.integers(1, 40)))]
    prefix = bytes(VersionResponse(version=13, flags=1, sequence_id=draw(u32)))
    for datagram in (b"".join(map(bytes, replies)), prefix + b"".join(map(bytes, replies))):
        got = _agrees_with_read_datagram(datagram)
        assert got is not None and len(got) == len(replies)


@SETTINGS
@given(st.data())
def test_search_replies_on_hostile_datagrams(data):
    """Never raises; declines or agrees with read_datagram."""
    for datagram in _from_server(data.draw):
        _agrees_with_read_datagram(datagram)


@SETTINGS
@given(st.binary(max_size=200))
def test_search_replies_on_random_bytes(datagram):
    _agrees_with_read_datagram(datagram)


def test_search_replies_declines_an_extended_marker():
    """0xFFFF in a reply's size field is the extended-header marker: not a reply."""
    reply = bytearray(bytes(SearchResponse(port=5064, cid=7)))
    reply[2:4] = b"\xff\xff"
    assert search_replies(bytes(reply) + bytes(8)) is None
