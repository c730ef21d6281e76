"""Hostile TCP streams into VirtualCircuit, both roles: valid traffic with mutations
(truncated, huge claimed sizes, extended headers with huge counts, unknown commands,
bad DBR types, odd counts), random bytes, random splits. See hostile.py for what is
checked."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

import catools
from catools import CLIENT, SERVER, VirtualCircuit
from corefuzz import (MAX_PAYLOAD, Session, allowed, hostile_streams, run_batched,
                     run_one_at_a_time, state)

FAST = settings(deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _compare(role: catools.Role, chunks: list[bytes], eof: bool) -> list:
    single_session, batched_session = Session(role), Session(role)
    single = run_one_at_a_time(single_session.ours, chunks, eof)
    batched = run_batched(batched_session.ours, chunks, eof)
    assert all(allowed(o) for o in single), single
    assert batched == single
    assert state(batched_session.ours) == state(single_session.ours)
    return single


@FAST
@given(hostile_streams(CLIENT))
def test_hostile_server_traffic_to_a_client(case):
    _compare(CLIENT, *case)


@FAST
@given(hostile_streams(SERVER))
def test_hostile_client_traffic_to_a_server(case):
    _compare(SERVER, *case)


@FAST
@given(st.sampled_from([CLIENT, SERVER]), st.lists(st.binary(min_size=1, max_size=64),
                                                    max_size=6), st.booleans())
def test_random_bytes_after_the_handshake(role, chunks, eof):
    _compare(role, chunks, eof)


@settings(deadline=None, max_examples=100)
@given(st.sampled_from([CLIENT, SERVER]), st.binary(max_size=200), st.booleans())
def test_random_bytes_before_the_handshake(role, data, eof):
    """A fresh circuit (no VERSION yet), fed everything at once and byte by byte."""
    outs = []
    for chunks in ([data] if data else [], [data[i:i + 1] for i in range(len(data))]):
        single = run_one_at_a_time(VirtualCircuit(role, max_payload_size=MAX_PAYLOAD),
                                   chunks, eof)
        batched = run_batched(VirtualCircuit(role, max_payload_size=MAX_PAYLOAD), chunks, eof)
        assert all(allowed(o) for o in single)
        assert batched == single
        outs.append(single)
    assert outs[0] == outs[1]          # the split does not change the outcome


def test_the_mutations_reach_the_interesting_outcomes():
    """The strategies are not vacuous: over a fixed set of examples, streams give
    commands, extended messages, errors and disconnects."""
    seen = {"command": 0, "extended": 0, "error": 0, "disconnect": 0}

    @settings(deadline=None, max_examples=200, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(hostile_streams(CLIENT))
    def collect(case):
        chunks, eof = case
        for outcome in _compare(CLIENT, chunks, eof):
            if outcome is catools.DISCONNECTED:
                seen["disconnect"] += 1
            elif type(outcome) is tuple:
                seen["error"] += 1
            else:
                seen["command"] += 1
                if len(outcome.payload) >= 0xFFFF:
                    seen["extended"] += 1

    collect()
    assert all(seen.values()), seen
