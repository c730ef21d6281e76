"""Runs of channel openings (CreateRun) and of READ_NOTIFY replies (ReadNotifyRun), as
``VirtualCircuit.runs`` gives them: the same replies, in the same order, as one command
at a time, with the same channel states, ids in flight and errors."""
from __future__ import annotations

import struct

from hypothesis import given, settings, strategies as st

import catools
from catools import DBRMetadata, ReadNotifyResponse, RemoteProtocolError
from catools.protocol import CreateRun, ReadNotifyRun

from helpers import CircuitPair, drain

TIME_DOUBLE, TIME_LONG, TIME_STRING = 20, 19, 14
N_CHANNELS = 5
ACCESS, CREATE = 22, 18


def _expand(commands):
    out = []
    for command in commands:
        if isinstance(command, CreateRun):
            assert len(command) >= 1
            out += command.replies()
        elif isinstance(command, ReadNotifyRun):
            assert len(command) >= 2
            replies = command.replies()
            assert [r.ioid for r in replies] == command.ids()
            for i, reply in enumerate(replies):
                assert reply == command.reply(i)
                row = command.rows[i]
                assert row[command.IOID] == reply.ioid and reply.status == command.status
                md = reply.metadata
                assert (row[command.SEVERITY], row[command.SECONDS],
                        row[command.NANOSECONDS]) == (md.severity, *md.timestamp)
                assert list(command.values(i)) == list(reply.data)
                first = command.first_values()[i]
                assert (first.rstrip(b"\0") if isinstance(first, bytes) else first) == \
                    reply.data[0]
            out += replies
        else:
            out.append(command)
    return out


def _take_all(circuit):
    got, error = [], None
    while True:
        try:
            batch = circuit.next_commands()
        except RemoteProtocolError as exc:
            error = exc
            break
        if not batch:
            break
        got += batch
    return got, error


def _one_by_one(circuit):
    try:
        return drain(circuit), None
    except RemoteProtocolError as exc:
        return [], exc


def _same_both_ways(runs, one_by_one, data):
    """``data`` fed to a circuit that takes runs and to one that takes one command at a
    time gives the same replies, or errors of the same kind."""
    runs.recv(data)
    one_by_one.recv(data)
    got_a, error_a = _take_all(runs)
    got_b, error_b = _one_by_one(one_by_one)
    expanded = _expand(got_a)
    if error_b is None:
        assert expanded == got_b and error_a is None
    else:
        assert type(error_a) is type(error_b)


def _frame(command, p1, p2, dtype=0, count=0):
    return struct.pack(">HHHHII", command, 0, dtype, count, p1, p2)


def _creating_pair():
    pair = CircuitPair(ignore_unknown_ids=True)
    pair.handshake()
    chans = [catools.ClientChannel(pair.client, f"PV{i}") for i in range(N_CHANNELS)]
    pair.client_sends(*[chan.create() for chan in chans])
    return pair, chans


OPENING = st.tuples(st.integers(0, N_CHANNELS),       # N_CHANNELS: an unknown cid
                    st.sampled_from(["pair", "pair", "pair", "mismatch", "access",
                                     "create", "bad type"]),
                    st.integers(0, 3), st.sampled_from([0, 1, 3, 5, 6]),
                    st.integers(0, 3))


@given(st.lists(OPENING, min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_create_runs_give_the_replies_of_one_by_one(openings):
    pair_a, chans_a = _creating_pair()
    pair_b, chans_b = _creating_pair()
    pair_a.client.runs = True
    cids = [chan.cid for chan in chans_a] + [9999]
    assert cids[:-1] == [chan.cid for chan in chans_b]
    wire = []
    for index, kind, rights, dtype, count in openings:
        cid = cids[index]
        sid = 500 + index
        access = _frame(ACCESS, cid, rights)
        create = _frame(CREATE, cid, sid, 7 if kind == "bad type" else dtype, count)
        if kind == "mismatch":
            create = _frame(CREATE, cids[(index + 1) % len(cids)], sid, dtype, count)
        wire.append({"access": access, "create": create}.get(kind, access + create))
    _same_both_ways(pair_a.client, pair_b.client, b"".join(wire))
    for chan_a, chan_b in zip(chans_a, chans_b):
        assert (chan_a.state, chan_a.sid, chan_a.access_rights, chan_a.native_data_type,
                chan_a.native_data_count) == (chan_b.state, chan_b.sid, chan_b.access_rights,
                                              chan_b.native_data_type,
                                              chan_b.native_data_count)
    assert pair_a.client.channels_sid.keys() == pair_b.client.channels_sid.keys()


def test_a_batch_of_openings_is_one_run():
    pair, chans = _creating_pair()
    pair.client.runs = True
    data = b"".join(_frame(ACCESS, chan.cid, 3) + _frame(CREATE, chan.cid, 700 + i, 6, 1)
                    for i, chan in enumerate(chans))
    pair.client.recv(data)
    got = pair.client.next_commands()
    run = got[-1]       # (the first may come alone: the circuit is not up yet)
    assert len(got) <= 3 and isinstance(run, CreateRun) and len(_expand(got)) == 2 * N_CHANNELS
    assert [chan.sid for chan in chans] == [700 + i for i in range(N_CHANNELS)]
    assert all(chan.state is catools.ChannelState.CONNECTED for chan in chans)


def _reading_pair():
    pair = CircuitPair(ignore_unknown_ids=True)
    pair.handshake()
    chans = [pair.connect_channel(f"PV{i}", sid=100 + i)[0] for i in range(N_CHANNELS)]
    return pair, chans


READ = st.tuples(st.integers(0, 2 * N_CHANNELS),      # beyond the requests: unknown ioid
                 st.sampled_from([TIME_DOUBLE, TIME_DOUBLE, TIME_LONG, TIME_STRING]),
                 st.sampled_from([1, 1, 1, 2]),
                 st.sampled_from([1, 1, 1, 0xA0]),        # ECA status (0xA0: a failure)
                 st.integers(-100, 100), st.integers(0, 3))


def _value(dtype, x):
    return [b"s%d" % x] if dtype == TIME_STRING else [x] if dtype == TIME_LONG \
        else [x * 0.25]


@given(st.lists(READ, min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_read_runs_give_the_replies_of_one_by_one(reads):
    pair_a, chans_a = _reading_pair()
    pair_b, chans_b = _reading_pair()
    pair_a.client.runs = True
    ioids = []
    for pair, chans in ((pair_a, chans_a), (pair_b, chans_b)):
        # (the last channel's IOID is a WRITE_NOTIFY's: a READ_NOTIFY reply may not end it)
        sent = pair.client_sends(*[chan.read(data_type=TIME_DOUBLE) for chan in chans[:-1]],
                                 chans[-1].write([1.0], notify=True))
        ioids.append([request.ioid for request in sent])
    assert ioids[0] == ioids[1]
    wire = []
    for index, dtype, count, status, x, severity in reads:
        ioid = ioids[0][index] if index < N_CHANNELS else 5000 + index
        md = DBRMetadata(status=0 if severity == 0 else 3, severity=severity,
                         timestamp=(1_000_000 + x * x, abs(x)))
        wire.append(bytes(ReadNotifyResponse(data=_value(dtype, x) * count, metadata=md,
                                             data_type=dtype, data_count=count,
                                             status=status, ioid=ioid)))
    _same_both_ways(pair_a.client, pair_b.client, b"".join(wire))
    assert pair_a.client._ioids.keys() == pair_b.client._ioids.keys()
    assert [c.state for c in chans_a] == [c.state for c in chans_b]


def test_a_batch_of_read_replies_is_one_run():
    pair, chans = _reading_pair()
    pair.client.runs = True
    sent = pair.client_sends(*[chan.read(data_type=TIME_DOUBLE) for chan in chans])
    data = b"".join(bytes(ReadNotifyResponse(
        data=[i * 1.5], metadata=DBRMetadata(0, 0, (1_000_000, i)), data_type=TIME_DOUBLE,
        data_count=1, ioid=request.ioid)) for i, request in enumerate(sent))
    pair.client.recv(data)
    got = pair.client.next_commands()
    run = got[-1]
    assert len(got) <= 2 and isinstance(run, ReadNotifyRun) and len(_expand(got)) == N_CHANNELS
    assert [row[run.VALUES] for row in run.rows] == [i * 1.5 for i in range(N_CHANNELS - len(run),
                                                                             N_CHANNELS)]
    assert not pair.client._ioids
