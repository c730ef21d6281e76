"""A DBR-carrying command's data_count must be the number of elements it carries
(issue 10 item 3).

The receiver reads exactly ``data_count`` elements (ca-protocol.md 2.3, 6.4): a larger
count makes a message shorter than its header says (libca and we reject it), a smaller
one silently drops values. So the constructors refuse both (None means "as many as the
data holds"), and ``VirtualCircuit.send`` refuses a command whose payload is shorter
than its header announces, whatever built it. A server that wants RSRV's zero-filled
"short" reads passes the zeros in ``data``.
"""
from __future__ import annotations

import pytest

from catools import (ALL_COMMANDS, SERVER, EventAddResponse, ReadNotifyResponse, ReadResponse,
                     WriteNotifyRequest, WriteRequest, read_datagram)
from catools.protocol import LocalProtocolError
from helpers import CircuitPair

DBR_CLASSES = (EventAddResponse, ReadNotifyResponse, ReadResponse, WriteRequest,
               WriteNotifyRequest)
IDS = {"ioid": 5, "subscriptionid": 6, "sid": 100, "cid": 1, "status": 1}


def test_every_dbr_carrier_is_covered():
    """The table's DBR-carrying commands are these, and all put data_type, data_count
    first (VirtualCircuit.send reads them by position)."""
    assert set(DBR_CLASSES) == {c for c in ALL_COMMANDS if c.ROW.payload == "dbr"}
    for cls in DBR_CLASSES:
        assert cls._FIELDS[:2] == ("data_type", "data_count")


def _make(cls, data, data_type=6, data_count=None):
    ids = {name: value for name, value in IDS.items() if name in cls._FIELDS}
    return cls(data=data, data_type=data_type, data_count=data_count, **ids)


@pytest.mark.parametrize("cls", DBR_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("data_type, data, n", [
    (6, [1.0], 1), (6, [1.0, 2.0, 3.0], 3), (20, [1.0, 2.0], 2), (4, b"abc", 3),
    (0, ["one", "two"], 2), (0, "one", 1), (19, [], 0), (34, [7], 1)])
def test_count_must_match_the_data(cls, data_type, data, n):
    for count in (None, n):
        cmd = _make(cls, data, data_type, count)
        assert cmd.data_count == n
        (got,) = read_datagram(bytes(cmd), cls.SENDER)
        assert got.data_count == n and len(got.data) == n
    for count in (n + 1, n + 2, n - 1, 0 if n else 1, 70000):
        if count < 0 or count == n:
            continue
        with pytest.raises(LocalProtocolError, match="data_count"):
            _make(cls, data, data_type, count)


def test_the_reviewers_case():
    with pytest.raises(LocalProtocolError):
        ReadNotifyResponse(data=[1.0], data_type=6, data_count=3, ioid=1)


def _pair_with_io():
    pair = CircuitPair()
    pair.handshake()
    chan, schan = pair.connect_channel(native_type=6, count=3)
    read, old_read = pair.client_sends(chan.read(6, 3), chan.read(6, 3, notify=False))
    (sub,) = pair.client_sends(chan.subscribe(6, 3))
    return pair, chan, schan, read, old_read, sub


def _forged(cls, dtype, count, p1, p2, payload):
    """A command built around the constructor (as a relay could): fields as decoded."""
    return tuple.__new__(cls, (dtype, count, p1, p2, payload))


@pytest.mark.parametrize("cls", DBR_CLASSES, ids=lambda c: c.__name__)
def test_send_refuses_a_payload_shorter_than_its_count(cls):
    pair, chan, schan, read, old_read, sub = _pair_with_io()
    p1, p2 = {EventAddResponse: (1, sub.subscriptionid), ReadNotifyResponse: (1, read.ioid),
              ReadResponse: (chan.cid, old_read.ioid), WriteRequest: (chan.sid, chan.cid),
              WriteNotifyRequest: (chan.sid, 77)}[cls]
    circuit = pair.server if cls.SENDER is SERVER else pair.client
    before = (dict(circuit._ioids), dict(circuit.event_add_commands))
    with pytest.raises(LocalProtocolError):
        circuit.send(_forged(cls, 6, 3, p1, p2, bytes(8)))
    with pytest.raises(LocalProtocolError):
        circuit.send(_forged(cls, 99, 1, p1, p2, bytes(8)))
    assert (dict(circuit._ioids), dict(circuit.event_add_commands)) == before
    # the same command with the payload its count needs goes out, and decodes
    raw = circuit.send(_forged(cls, 6, 3, p1, p2, bytes(24)))
    (got,) = read_datagram(raw, cls.SENDER)
    assert got.data_count == 3 and list(got.data) == [0.0] * 3


def test_send_accepts_a_single_string_cut_after_its_nul():
    """libca's (and our) WRITE of one DBR_STRING: strlen+1 bytes, padded to 8."""
    pair, chan, *_ = _pair_with_io()
    for notify in (False, True):
        request = chan.write("hi", data_type=0, notify=notify)
        assert len(request.payload) == 8
        raw = pair.client.send(request)
        pair.server.recv(raw)
        assert pair.server.next_command().data[0].rstrip(b"\0") == b"hi"
