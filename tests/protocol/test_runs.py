"""Runs of monitor updates (VirtualCircuit.runs): the same updates, in the same
order, as one command at a time, with the same states and errors; and a run's rows
hold what its replies decode to."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from catools import DBRMetadata, EventAddResponse, RemoteProtocolError
from catools.protocol import EventAddRun

from helpers import CircuitPair, drain

TIME_DOUBLE, TIME_LONG, TIME_STRING, TIME_SHORT, TIME_FLOAT = 20, 19, 14, 15, 16
N_SUBS = 4


def _pair():
    pair = CircuitPair()
    pair.handshake()
    subs = []
    for i in range(N_SUBS):
        chan, _ = pair.connect_channel(f"PV{i}", sid=100 + i)
        (request,) = pair.client_sends(chan.subscribe(data_type=TIME_DOUBLE, data_count=1))
        subs.append((chan, request.subscriptionid))
    return pair, subs


def _value(dtype, x):
    if dtype == TIME_STRING:
        return [b"s%d" % x]
    if dtype in (TIME_LONG, TIME_SHORT):
        return [x]
    return [x * 0.25]


UPDATE = st.tuples(st.integers(0, N_SUBS + 1),             # N_SUBS and above: unknown id
                   st.sampled_from([TIME_DOUBLE, TIME_DOUBLE, TIME_LONG, TIME_STRING,
                                    TIME_SHORT, TIME_FLOAT]),
                   st.sampled_from([1, 1, 1, 2]),             # count
                   st.sampled_from([1, 1, 1, 0x8E]),          # ECA status
                   st.integers(-100, 100), st.integers(0, 3), st.integers(0, 1_000_000_000))


def _expand(commands):
    out = []
    for command in commands:
        if isinstance(command, EventAddRun):
            assert len(command) >= 2
            replies = command.replies()
            assert [r.subscriptionid for r in replies] == command.subscription_ids()
            for i, reply in enumerate(replies):
                assert reply.status == command.status
                row = command.rows[i]
                assert row[command.SUBSCRIPTION] == reply.subscriptionid
                md = reply.metadata
                assert (row[command.SEVERITY], row[command.SECONDS],
                        row[command.NANOSECONDS]) == (md.severity, *md.timestamp)
                if command.data_type != TIME_STRING:
                    assert list(row[command.VALUES:]) == list(reply.data)
                assert list(command.values(i)) == list(reply.data)
            out += replies
        else:
            out.append(command)
    return out


@given(st.lists(UPDATE, min_size=1, max_size=60), st.sampled_from([None, 0, 1]))
@settings(max_examples=150, deadline=None)
def test_runs_give_the_updates_of_one_by_one(updates, cancel):
    pair_a, subs_a = _pair()
    pair_b, subs_b = _pair()
    pair_a.client.runs = True
    if cancel is not None:          # a subscription being cancelled: its updates break runs
        for pair, subs in ((pair_a, subs_a), (pair_b, subs_b)):
            chan, subid = subs[cancel]
            pair.client_sends(chan.unsubscribe(subid))
    wire = []
    for index, dtype, count, status, x, severity, nsec in updates:
        subid = subs_a[index][1] if index < N_SUBS else 9999
        md = DBRMetadata(status=0 if severity == 0 else 3, severity=severity,
                         timestamp=(1_000_000 + x * x, nsec))
        wire.append(bytes(EventAddResponse(data=_value(dtype, x) * count, metadata=md,
                                           data_type=dtype, data_count=count,
                                           status=status, subscriptionid=subid)))
    data = b"".join(wire)
    assert [s for _, s in subs_a] == [s for _, s in subs_b]
    pair_a.client.recv(data)
    pair_b.client.recv(data)
    got_a, error_a = [], None
    while True:
        try:
            batch = pair_a.client.next_commands()
        except RemoteProtocolError as exc:
            error_a = exc
            break
        if not batch:
            break
        got_a += batch
    got_b, error_b = [], None
    try:
        got_b = drain(pair_b.client)
    except RemoteProtocolError as exc:
        error_b = exc
    expanded = _expand(got_a)
    if error_b is None:
        assert expanded == got_b
        assert error_a is None
    else:
        assert expanded == got_b or expanded[:len(got_b)] == got_b
        assert type(error_a) is type(error_b)
    for (chan_a, _), (chan_b, _) in zip(subs_a, subs_b):
        assert chan_a.state == chan_b.state


def test_a_long_run_is_one_run():
    pair, subs = _pair()
    pair.client.runs = True
    wire = b"".join(bytes(EventAddResponse(
        data=[i * 1.5], metadata=DBRMetadata(0, 0, (1_000_000, i)), data_type=TIME_DOUBLE,
        data_count=1, subscriptionid=subs[i % N_SUBS][1])) for i in range(1000))
    pair.client.recv(wire)
    got = pair.client.next_commands()
    run = got[-1]       # (the first update may come alone: the circuit is not up yet)
    assert len(got) <= 2 and isinstance(run, EventAddRun) and len(_expand(got)) == 1000
    assert [row[run.VALUES] for row in run.rows] == [i * 1.5 for i in range(1000 - len(run),
                                                                             1000)]
