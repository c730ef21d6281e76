"""VirtualCircuit.subscribe_many does what ClientChannel.subscribe then send do, one
subscription at a time: same bytes, same ids, same bookkeeping, same errors."""
from __future__ import annotations

import pytest

from catools import EventAddResponse, EventCancelRequest
from catools.protocol import LocalProtocolError

from helpers import drain
from test_batch import _connected_pair, _replies


def _up(n: int):
    pair, chans = _connected_pair(n)
    pair.client.recv(_replies(pair, chans))
    pair.client.next_commands()
    return pair, chans


def test_subscribe_many_equals_subscribe_one_at_a_time():
    pair_a, chans_a = _up(6)
    pair_b, chans_b = _up(6)
    # native type, dynamic count (None); explicit ones; another mask; a long header
    plan = [(None, None, 5), (20, 1, 5), (14, None, 1), (6, 3, 7), (6, 70000, 5),
            (34, 0, 0xFF)]
    ids, wire = pair_a.client.subscribe_many(
        (chan, t, n, m) for chan, (t, n, m) in zip(chans_a, plan))
    requests = [chan.subscribe(t, n, mask=m) for chan, (t, n, m) in zip(chans_b, plan)]
    assert wire == pair_b.client.send(*requests)
    assert ids == [r.subscriptionid for r in requests] and len(set(ids)) == 6
    assert pair_a.client.event_add_commands == pair_b.client.event_add_commands
    assert pair_a.client._ids.sub_channel.keys() == pair_b.client._ids.sub_channel.keys()
    pair_a.server.recv(wire)
    assert drain(pair_a.server) == requests
    # updates reach them, and a cancel repeats the EVENT_ADD's type and count
    update = EventAddResponse(data=[1.5], data_type=20, data_count=1, subscriptionid=ids[1])
    pair_a.client.recv(pair_a.server.send(update))
    assert pair_a.client.next_commands() == [update]
    cancel = chans_a[3].unsubscribe(ids[3])
    assert cancel == EventCancelRequest(data_type=6, data_count=3, sid=chans_a[3].sid,
                                        subscriptionid=ids[3])
    with pytest.raises(LocalProtocolError):     # not this channel's subscription
        chans_a[2].unsubscribe(ids[3])


def test_subscribe_many_keeps_the_rules():
    pair, chans = _connected_pair(2)
    with pytest.raises(LocalProtocolError):      # not connected yet
        pair.client.subscribe_many([(chans[0], None, None, 5)])
    other, other_chans = _up(1)
    with pytest.raises(LocalProtocolError):      # a channel of another circuit
        pair.client.subscribe_many([(other_chans[0], 6, 1, 5)])
    with pytest.raises(LocalProtocolError):      # a mask outside 1..0xff
        other.client.subscribe_many([(other_chans[0], 6, 1, 0)])
    assert pair.client.event_add_commands == {} == other.client.event_add_commands
