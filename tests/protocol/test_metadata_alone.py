"""A received array's metadata is decoded alone (its values only when asked for: a
formatter that reads the numbers from the payload makes no array of them); a scalar's
come in one call with its value, as before."""
from __future__ import annotations

from array import array

from catools import ReadNotifyResponse
from catools.protocol import DBRMetadata
from helpers import CircuitPair


def _reply(count: int):
    pair = CircuitPair()
    pair.handshake()
    wf, _ = pair.connect_channel("WF", native_type=6, count=count, sid=2)
    (read,) = pair.client_sends(wf.read(20, count))
    md = DBRMetadata(status=3, severity=1, timestamp=(7, 8))
    raw = pair.server.send(ReadNotifyResponse(data=[i * 1.5 for i in range(count)],
                                              data_type=20, ioid=read.ioid, metadata=md))
    pair.client.recv(raw)
    (reply,) = pair.client.next_commands()
    return reply, md


def test_an_array_metadata_is_decoded_without_its_values():
    reply, md = _reply(1000)
    metadata = reply.metadata
    assert "_data" not in reply.__dict__
    assert (metadata.status, metadata.severity, metadata.timestamp) == (3, 1, (7, 8))
    assert reply.data == array("d", [i * 1.5 for i in range(1000)])
    assert reply.metadata is metadata          # (not decoded again with the values)


def test_a_scalar_metadata_comes_with_its_value():
    reply, md = _reply(1)
    assert reply.metadata.timestamp == (7, 8)
    assert reply.__dict__["_data"] == array("d", [0.0])
