"""The batch paths (search_datagrams, VirtualCircuit.next_commands, the send fast
path) do exactly what the one-command-at-a-time paths do: same bytes, same commands,
same states, same errors."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from catools import (CLIENT, DISCONNECTED, AccessRightsResponse, ChannelState, ClientChannel,
                     CreateChanResponse, EchoResponse, ReadNotifyResponse, RemoteProtocolError,
                     SearchRequest, VersionRequest, VirtualCircuit, int_to_ip, read_datagram,
                     search_datagrams)
from catools.protocol import LocalProtocolError

from helpers import CircuitPair, drain

NAMES = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
                min_size=1, max_size=60)


@given(st.lists(NAMES, min_size=1, max_size=120), st.integers(1, 2**31))
@settings(max_examples=60, deadline=None)
def test_search_datagrams_encode_as_the_command_classes(names, sequence):
    pairs = list(enumerate(names, 1))
    datagrams = search_datagrams(pairs, sequence)
    seen = []
    for n, (datagram, ids) in enumerate(datagrams):
        assert len(datagram) <= 1024 or len(ids) == 1
        commands = read_datagram(datagram, CLIENT)
        assert commands[0] == VersionRequest(priority=1, version=13, sequence_id=sequence + n)
        expected = [SearchRequest(name=name, cid=cid) for cid, name in pairs
                    if cid in ids]
        assert commands[1:] == expected
        assert datagram == b"".join(bytes(c) for c in [commands[0], *expected])
        seen += ids
    assert seen == [cid for cid, _ in pairs]


def test_search_datagrams_stop_after_max_datagrams():
    pairs = [(i, f"PV:{i:05d}") for i in range(1000)]
    datagrams = search_datagrams(iter(pairs), 1, max_datagrams=3)
    assert len(datagrams) == 3
    assert sum(len(ids) for _, ids in datagrams) < 1000


def test_search_datagrams_refuse_a_nul_in_a_name():
    with pytest.raises(LocalProtocolError):
        search_datagrams([(1, "A\0B")], 1)


def _connected_pair(n: int) -> tuple[CircuitPair, list[ClientChannel]]:
    pair = CircuitPair()
    pair.handshake()
    channels = [ClientChannel(pair.client, f"PV{i}") for i in range(n)]
    pair.client_sends(*[c.create() for c in channels])
    return pair, channels


def _replies(pair: CircuitPair, channels: list[ClientChannel]) -> bytes:
    out = []
    for i, chan in enumerate(channels):
        server_chan = pair.server.channels[chan.cid]
        out += server_chan.create(native_data_type=6, native_data_count=1, sid=100 + i,
                                  access_rights=3)
    return pair.server.send(*out)


def test_next_commands_equal_next_command_for_a_connect_burst():
    pair_a, chans_a = _connected_pair(50)
    pair_b, chans_b = _connected_pair(50)
    data = _replies(pair_a, chans_a)
    assert data == _replies(pair_b, chans_b)
    pair_a.client.recv(data)
    pair_b.client.recv(data)
    batch = pair_a.client.next_commands()
    one_by_one = drain(pair_b.client)
    assert batch == one_by_one
    assert [type(c) for c in batch[:2]] == [AccessRightsResponse, CreateChanResponse]
    for a, b in zip(chans_a, chans_b):
        assert (a.state, a.sid, a.native_data_type, a.native_data_count, a.access_rights) \
            == (b.state, b.sid, b.native_data_type, b.native_data_count, b.access_rights)
        assert a.state is ChannelState.CONNECTED
    assert pair_a.client.next_commands() == []


def test_send_fast_path_and_read_replies_in_a_batch():
    pair, chans = _connected_pair(20)
    pair.client.recv(_replies(pair, chans))
    pair.client.next_commands()
    reads = [c.read(data_type=6, data_count=1) for c in chans]
    wire = pair.client.send(*reads)
    assert wire == b"".join(bytes(r) for r in reads)
    pair.server.recv(wire)
    assert drain(pair.server) == reads
    replies = [ReadNotifyResponse(data=[i + 0.5], data_type=6, data_count=1, status=1,
                                  ioid=r.ioid) for i, r in enumerate(reads)]
    pair.client.recv(pair.server.send(*replies, EchoResponse()))
    got = pair.client.next_commands()
    assert got == [*replies, EchoResponse()]
    assert [c.data[0] for c in got[:-1]] == [i + 0.5 for i in range(20)]
    assert pair.client._ioids == {}
    # a second reply for the same IOID is a protocol error, as one by one
    pair.client.recv(bytes(replies[0]))
    with pytest.raises(RemoteProtocolError):
        pair.client.next_commands()


def test_an_error_after_good_commands_comes_on_the_next_call():
    pair, chans = _connected_pair(3)
    good = _replies(pair, chans)
    bad = bytes(CreateChanResponse(data_type=6, data_count=1, cid=999, sid=7))  # no CID 999
    pair.client.recv(good + bad)
    first = pair.client.next_commands()
    assert len(first) == 6
    with pytest.raises(RemoteProtocolError):
        pair.client.next_commands()


def test_next_commands_ends_with_disconnected():
    pair, chans = _connected_pair(2)
    pair.client.recv(_replies(pair, chans))
    pair.client.recv(b"")
    got = pair.client.next_commands()
    assert got[-1] is DISCONNECTED and len(got) == 5
    assert all(c.state is ChannelState.DISCONNECTED for c in chans)


def test_send_fast_path_keeps_the_rules():
    circuit = VirtualCircuit(CLIENT, ("127.0.0.1", 5064), 0)
    circuit.send(VersionRequest(priority=0, version=13))
    chan = ClientChannel(circuit, "A")
    circuit.send(chan.create())
    with pytest.raises(LocalProtocolError):
        circuit.send(chan.create())          # twice: the channel awaits its reply


@pytest.mark.parametrize("names", [["A", "PV:ÄÖ", "x" * 39, "y" * 40, "z" * 41],
                                   # (one padded size: the batch made in C loops)
                                   [f"REC:{i:05d}" for i in range(50)],
                                   ["a" * 16, "b" * 16, "c" * 16]])
def test_create_channels_equals_one_channel_at_a_time(names):
    pair_a, pair_b = CircuitPair(), CircuitPair()
    pair_a.handshake()
    pair_b.handshake()
    channels, wire = pair_a.client.create_channels(names)
    one = [ClientChannel(pair_b.client, n) for n in names]
    assert wire == pair_b.client.send(*[c.create() for c in one])
    fields = ("name", "cid", "state", "sid", "access_rights", "native_data_count",
              "_native_data_type")
    assert [[getattr(c, f) for f in fields] + [c.circuit is pair_a.client]
            for c in channels] == \
        [[getattr(c, f) for f in fields] + [c.circuit is pair_b.client] for c in one]
    assert pair_a.client.channels.keys() == pair_b.client.channels.keys()
    assert all(c.state is ChannelState.AWAIT_CREATE_CHAN_RESPONSE for c in channels)
    pair_a.server.recv(wire)
    assert [c.name for c in drain(pair_a.server)] == names
    with pytest.raises(LocalProtocolError):
        pair_a.client.create_channels(["bad\0name"])


def test_monitor_updates_in_a_batch():
    pair, chans = _connected_pair(2)
    pair.client.recv(_replies(pair, chans))
    pair.client.next_commands()
    subs = [c.subscribe(data_type=20, data_count=1) for c in chans]
    pair.client_sends(*subs)
    updates = [pair.server.channels[chans[i % 2].cid].subscribe(
        data=[float(i)], subscriptionid=subs[i % 2].subscriptionid, data_type=20,
        metadata={"status": 0, "severity": 0, "timestamp": (i, 0)}) for i in range(10)]
    pair.client.recv(pair.server.send(*updates))
    got = pair.client.next_commands()
    assert got == updates
    assert [u.data[0] for u in got] == [float(i) for i in range(10)]
    assert [u.metadata.timestamp for u in got] == [(i, 0) for i in range(10)]
    # cancel one: its zero-size reply is a cancel confirmation, as one by one
    pair.client_sends(chans[0].unsubscribe(subs[0].subscriptionid))
    confirm = pair.server.channels[chans[0].cid].unsubscribe(subs[0].subscriptionid)
    pair.client.recv(pair.server.send(confirm, updates[1]))
    got = pair.client.next_commands()
    assert [type(c).__name__ for c in got] == ["EventCancelResponse", "EventAddResponse"]


def test_read_notify_many_equals_reads_one_at_a_time():
    pair_a, chans_a = _connected_pair(6)
    pair_b, chans_b = _connected_pair(6)
    for pair, chans in ((pair_a, chans_a), (pair_b, chans_b)):
        pair.client.recv(_replies(pair, chans))
        pair.client.next_commands()
    # native type and count (None), explicit ones, and a large array (long header)
    plan = [(None, None), (20, 1), (0, 1), (6, None), (6, 70000), (34, 2)]
    ioids, wire = pair_a.client.read_notify_many(
        (chan, t, n) for chan, (t, n) in zip(chans_a, plan))
    reads = [chan.read(t, n) for chan, (t, n) in zip(chans_b, plan)]
    assert wire == pair_b.client.send(*reads)
    assert ioids == [r.ioid for r in reads] and len(set(ioids)) == 6
    assert pair_a.client._ioids.keys() == pair_b.client._ioids.keys()
    assert [c.state for c in chans_a] == [c.state for c in chans_b]
    pair_a.server.recv(wire)
    assert drain(pair_a.server) == reads
    # the replies end them as replies to send()'s reads do
    replies = [ReadNotifyResponse(data=[1.5], data_type=6, data_count=1, status=1, ioid=i)
               for i in ioids[:2]]
    pair_a.client.recv(pair_a.server.send(*replies))
    assert pair_a.client.next_commands() == replies
    assert sorted(pair_a.client._ioids) == sorted(ioids[2:])


def test_read_notify_many_keeps_the_rules():
    pair, chans = _connected_pair(2)
    with pytest.raises(LocalProtocolError):      # not connected yet
        pair.client.read_notify_many([(chans[0], None, None)])
    other, other_chans = _connected_pair(1)
    other.client.recv(_replies(other, other_chans))
    other.client.next_commands()
    with pytest.raises(LocalProtocolError):      # a channel of another circuit
        pair.client.read_notify_many([(other_chans[0], 6, 1)])
    assert pair.client._ioids == {}


@given(st.integers(0, 38).filter(lambda t: t not in (35, 36)),
       st.floats(allow_nan=False, allow_infinity=False, width=32)
       | st.integers(-2**15, 2**15 - 1))
def test_first_value_reads_what_the_decoder_reads(data_type, value):
    from catools.protocol import DBR_TYPES, FIRST_VALUE, decode_dbr, encode_dbr
    row = DBR_TYPES[data_type]
    first = FIRST_VALUE[data_type]
    if row.typecode is None:
        assert first is None
        return
    if row.typecode in "bBH" or (row.typecode in "hi" and isinstance(value, float)):
        value = int(abs(value)) % 128
    payload, count = encode_dbr(data_type, [value, 7])
    unpack_from, offset = first
    assert unpack_from(payload, offset)[0] == decode_dbr(data_type, payload, count)[1][0]


REPLIES = st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF),
                             st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFF)),
                   max_size=60)


@given(REPLIES, st.booleans())
@settings(max_examples=80, deadline=None)
def test_search_replies_read_what_read_datagram_reads(replies, versioned):
    from catools import SearchResponse, VersionResponse, ip_to_int, search_replies
    from catools.protocol import SERVER
    commands = [SearchResponse(port=port, ip=int_to_ip(ip), cid=cid, version=version)
                for port, ip, cid, version in replies]
    datagram = b"".join(bytes(c) for c in
                        ([VersionResponse(version=13)] if versioned else []) + commands)
    decoded = [c for c in read_datagram(datagram, SERVER) if isinstance(c, SearchResponse)]
    assert decoded == commands
    assert search_replies(datagram) == [(c.port, ip_to_int(c.ip), c.cid, c.version)
                                        for c in decoded]


@given(REPLIES.filter(bool), st.integers(0, 200), st.binary(min_size=1, max_size=3))
@settings(max_examples=80, deadline=None)
def test_search_replies_leave_any_other_datagram_to_the_broadcaster(replies, at, junk):
    from catools import Beacon, NotFoundResponse, SearchResponse, search_replies
    commands = [bytes(SearchResponse(port=port, ip=int_to_ip(ip), cid=cid, version=v))
                for port, ip, cid, v in replies]
    at %= len(commands) + 1
    for other in (bytes(NotFoundResponse(cid=7, reply_flag=10, version=13)),
                  bytes(Beacon(version=13, server_port=5064, beacon_id=1,
                               address="127.0.0.1"))):
        assert search_replies(b"".join(commands[:at] + [other] + commands[at:])) is None
    whole = b"".join(commands)
    assert search_replies(whole + junk) is None             # a truncated message
    one = min(at, len(commands) - 1) * 24                   # a 24-byte message that is
    for byte in range(4):                                   # no SearchResponse (code or
        wrong = bytearray(whole)                            # payload size differs)
        wrong[one + byte] ^= junk[0] or 1
        assert search_replies(bytes(wrong)) is None


@pytest.mark.parametrize("next_cid", [0, 0xFFFFFFFE])
def test_create_channels_skip_cids_in_use_as_one_channel_at_a_time(next_cid):
    # CIDs 1 and 2 (or 0xFFFFFFFF and 0) are taken; the next ones are found past them
    pairs = CircuitPair(), CircuitPair()
    for pair in pairs:
        pair.handshake()
        pair.client._ids.next_cid = next_cid
        for name in ("OLD:1", "OLD:2"):
            pair.client.send(ClientChannel(pair.client, name).create())
        pair.client._ids.next_cid = next_cid
    names = [f"NEW:{i}" for i in range(5)]
    channels, wire = pairs[0].client.create_channels(names)
    one = [ClientChannel(pairs[1].client, n) for n in names]
    assert wire == pairs[1].client.send(*[c.create() for c in one])
    assert [c.cid for c in channels] == [c.cid for c in one]
    assert len({c.cid for c in channels} | {next_cid + 1, (next_cid + 2) & 0xFFFFFFFF}) == 7
    assert pairs[0].client.channels.keys() == pairs[1].client.channels.keys()


@given(st.lists(st.sampled_from(["PV:A", "PV:B:1", "é:x", "ABCDEFG", "A" * 15, "B" * 16]),
                min_size=1, max_size=200), st.integers(1, 2**31),
       st.sampled_from([None, 1, 2, 5]))
@settings(max_examples=60, deadline=None)
def test_search_datagrams_of_names_of_one_padded_size(names, sequence, most):
    # (names that pad to the same size are packed per datagram in a C loop)
    pairs = list(enumerate(names, 7))
    datagrams = search_datagrams(pairs, sequence, max_datagrams=most)
    seen = []
    for n, (datagram, ids) in enumerate(datagrams):
        assert len(datagram) <= 1024
        commands = read_datagram(datagram, CLIENT)
        assert commands[0] == VersionRequest(priority=1, version=13, sequence_id=sequence + n)
        assert commands[1:] == [SearchRequest(name=name, cid=cid) for cid, name in pairs
                                if cid in ids]
        if n < len(datagrams) - 1:       # (full: one more would not fit)
            assert len(datagram) + 16 + len(bytes(commands[1])) - 16 > 1024
        seen += ids
    assert seen == [cid for cid, _ in pairs][:len(seen)]
    assert len(seen) == len(pairs) or len(datagrams) == most
