"""Client core and server core run whole sessions against each other in memory."""
from __future__ import annotations

import pytest
from helpers import CircuitPair, drain

import catools
from catools import (CLIENT, DISCONNECTED, NEED_DATA, SERVER, Broadcaster, ChannelState,
                     ChannelType, CircuitState, DBRMetadata, LocalProtocolError,
                     RemoteProtocolError)

CS = ChannelState


def test_whole_session():
    pair = CircuitPair()
    c, s = pair.client, pair.server
    assert c.states[CLIENT] is CircuitState.SEND_VERSION_REQUEST
    assert c.states[SERVER] is CircuitState.SEND_VERSION_RESPONSE

    # handshake
    (got,) = pair.client_sends(catools.VersionRequest(priority=0, version=13))
    assert isinstance(got, catools.VersionRequest) and got.version == 13
    assert c.states[CLIENT] is s.states[CLIENT] is CircuitState.CONNECTED
    assert s.states[SERVER] is CircuitState.SEND_VERSION_RESPONSE
    (got,) = pair.server_sends(catools.VersionResponse(version=13))
    assert c.states[SERVER] is s.states[SERVER] is CircuitState.CONNECTED
    assert c.their_version == 13 and c.protocol_version == 13

    got = pair.client_sends(catools.HostNameRequest("host"), catools.ClientNameRequest("me"))
    assert [type(g) for g in got] == [catools.HostNameRequest, catools.ClientNameRequest]
    assert (s.host_name, s.client_name) == ("host", "me")

    # create
    chan = catools.ClientChannel(c, "TST:ai")
    assert chan.state is CS.SEND_CREATE_CHAN_REQUEST
    (req,) = pair.client_sends(chan.create())
    assert (req.name, req.cid) == ("TST:ai", chan.cid)
    assert chan.state is CS.AWAIT_CREATE_CHAN_RESPONSE
    schan = s.channels[chan.cid]
    assert isinstance(schan, catools.ServerChannel) and schan.name == "TST:ai"
    assert schan.state is CS.AWAIT_CREATE_CHAN_RESPONSE
    got = pair.server_sends(*schan.create(ChannelType.DOUBLE, 1, sid=77))
    assert [type(g) for g in got] == [catools.AccessRightsResponse, catools.CreateChanResponse]
    assert chan.state is schan.state is CS.CONNECTED
    assert chan.sid == 77 and chan.native_data_type is ChannelType.DOUBLE
    assert chan.native_data_count == 1
    assert chan.access_rights == catools.AccessRights.READ_WRITE

    # read
    (req,) = pair.client_sends(chan.read(ChannelType.TIME_DOUBLE, 1))
    assert isinstance(req, catools.ReadNotifyRequest) and req.sid == 77
    md = DBRMetadata(status=0, severity=0, timestamp=(1000, 5))
    (resp,) = pair.server_sends(schan.read([3.25], req.ioid, req.data_type, metadata=md))
    assert resp.data.tolist() == [3.25] and resp.metadata.timestamp == (1000, 5)
    assert resp.ioid == req.ioid
    # the IOID is finished: a second reply to it is refused
    with pytest.raises(LocalProtocolError):
        s.send(schan.read([3.25], req.ioid, req.data_type))

    # write with notification
    (req,) = pair.client_sends(chan.write([2.5], notify=True))
    assert isinstance(req, catools.WriteNotifyRequest) and req.data.tolist() == [2.5]
    (resp,) = pair.server_sends(schan.write(req.ioid, req.data_type, req.data_count))
    assert isinstance(resp, catools.WriteNotifyResponse) and resp.status == 1

    # monitors: a TIME_DOUBLE one and a plain DOUBLE one (dynamic count)
    (sub1,) = pair.client_sends(chan.subscribe(ChannelType.TIME_DOUBLE))
    (sub2,) = pair.client_sends(chan.subscribe(ChannelType.DOUBLE))
    assert sub1.data_count == 0 and sub1.mask == 5
    assert set(s.event_add_commands) == {sub1.subscriptionid, sub2.subscriptionid}
    (upd,) = pair.server_sends(schan.subscribe([1.0], sub1.subscriptionid, 20, metadata=md))
    assert isinstance(upd, catools.EventAddResponse) and upd.data.tolist() == [1.0]
    (upd,) = pair.server_sends(schan.subscribe([4.0, 5.0], sub2.subscriptionid, 6))
    assert upd.data.tolist() == [4.0, 5.0]
    # zero-size update (empty array with dynamic count): still an update, not a cancel
    (upd,) = pair.server_sends(schan.subscribe([], sub2.subscriptionid, 6))
    assert type(upd) is catools.EventAddResponse
    assert upd.data_count == 0 and len(upd.data) == 0
    assert sub2.subscriptionid in c.event_add_commands

    # cancel
    (cancel,) = pair.client_sends(chan.unsubscribe(sub2.subscriptionid))
    assert isinstance(cancel, catools.EventCancelRequest)
    (conf,) = pair.server_sends(schan.unsubscribe(sub2.subscriptionid))
    assert type(conf) is catools.EventCancelResponse and conf.sid == 77
    assert conf.data_count == 0  # the original EVENT_ADD count (spec says "must be 0")
    assert sub2.subscriptionid not in c.event_add_commands
    assert sub1.subscriptionid in c.event_add_commands
    with pytest.raises(LocalProtocolError):
        chan.unsubscribe(sub2.subscriptionid)

    # clear (an update in flight is still accepted in MUST_CLOSE)
    (clear,) = pair.client_sends(chan.clear())
    assert chan.state is schan.state is CS.MUST_CLOSE
    got = pair.server_sends(schan.subscribe([2.0], sub1.subscriptionid, 20),
                            schan.clear())
    assert [type(g) for g in got] == [catools.EventAddResponse,
                                      catools.ClearChannelResponse]
    assert chan.state is schan.state is CS.CLOSED
    assert chan.cid not in c.channels and chan.cid not in s.channels
    with pytest.raises(LocalProtocolError):
        chan.read()

    # disconnect
    c.recv(b"")
    assert c.next_command() is DISCONNECTED
    assert c.states[CLIENT] is c.states[SERVER] is CircuitState.DISCONNECTED
    with pytest.raises(LocalProtocolError):
        c.send(catools.EchoRequest())


def test_echo_and_events_on_off_after_handshake():
    pair = CircuitPair()
    pair.handshake()
    got = pair.client_sends(catools.EchoRequest(), catools.EventsOffRequest(),
                            catools.EventsOnRequest(), catools.ReadSyncRequest())
    assert [type(g) for g in got] == [catools.EchoRequest, catools.EventsOffRequest,
                                      catools.EventsOnRequest, catools.ReadSyncRequest]
    assert [type(g) for g in pair.server_sends(catools.EchoResponse())] == [
        catools.EchoResponse]


def test_sending_before_version_request():
    pair = CircuitPair()
    with pytest.raises(LocalProtocolError):
        pair.client.send(catools.HostNameRequest("h"))
    with pytest.raises(LocalProtocolError):
        pair.client.send(catools.CreateChanRequest(name="x", cid=1))
    # and the server refuses the same from the wire, but (as RSRV) keeps the circuit:
    # the error is marked recoverable and carries the offending header to quote
    pair.server.recv(bytes(catools.HostNameRequest("h")) + bytes(catools.VersionRequest()))
    with pytest.raises(RemoteProtocolError) as info:
        pair.server.next_command()
    assert info.value.recoverable
    assert info.value.header.command == catools.HostNameRequest.ID
    assert pair.server.states[CLIENT] is CircuitState.SEND_VERSION_REQUEST
    assert isinstance(pair.server.next_command(), catools.VersionRequest)
    assert pair.server.states[CLIENT] is CircuitState.CONNECTED


def test_wrong_role_and_udp_only_commands_are_local_errors():
    pair = CircuitPair()
    with pytest.raises(LocalProtocolError):
        pair.client.send(catools.VersionResponse())
    with pytest.raises(LocalProtocolError):
        pair.server.send(catools.VersionRequest())
    pair.handshake()
    with pytest.raises(LocalProtocolError):
        pair.client.send(catools.RepeaterRegisterRequest())


def test_reply_for_unknown_ioid_is_remote_error_and_circuit_in_error():
    pair = CircuitPair()
    pair.handshake()
    chan, schan = pair.connect_channel()
    bogus = catools.ReadNotifyResponse(data=[1.0], data_type=6, ioid=999)
    pair.client.recv(bytes(bogus))
    with pytest.raises(RemoteProtocolError):
        pair.client.next_command()
    assert pair.client.states[SERVER] is CircuitState.ERROR
    pair.client.recv(bytes(catools.EchoResponse()))
    with pytest.raises(RemoteProtocolError):
        pair.client.next_command()
    # the server cannot send it either
    with pytest.raises(LocalProtocolError):
        pair.server.send(bogus)


def test_reply_of_the_wrong_kind_for_an_ioid():
    pair = CircuitPair()
    pair.handshake()
    chan, schan = pair.connect_channel()
    (req,) = pair.client_sends(chan.read())
    wrong = catools.WriteNotifyResponse(data_type=6, data_count=1, status=1, ioid=req.ioid)
    pair.client.recv(bytes(wrong))
    with pytest.raises(RemoteProtocolError):
        pair.client.next_command()


def test_host_name_after_create_is_local_error():
    pair = CircuitPair()
    pair.handshake()
    pair.connect_channel()
    with pytest.raises(LocalProtocolError):
        pair.client.send(catools.HostNameRequest("late"))
    with pytest.raises(LocalProtocolError):
        pair.client.send(catools.ClientNameRequest("late"))


def test_read_on_unconnected_channel():
    pair = CircuitPair()
    pair.handshake()
    chan = catools.ClientChannel(pair.client, "PV")
    for method in (chan.read, chan.subscribe, chan.clear):
        with pytest.raises(LocalProtocolError):
            method()
    with pytest.raises(LocalProtocolError):
        chan.write([1.0])
    # a request naming a SID that no channel has
    with pytest.raises(LocalProtocolError):
        pair.client.send(catools.ReadNotifyRequest(6, 1, sid=12345, ioid=1))
    pair.client_sends(chan.create())
    assert chan.state is CS.AWAIT_CREATE_CHAN_RESPONSE
    with pytest.raises(LocalProtocolError):
        chan.read()


def test_create_ch_fail():
    pair = CircuitPair()
    pair.handshake()
    chan = catools.ClientChannel(pair.client, "missing")
    pair.client_sends(chan.create())
    schan = pair.server.channels[chan.cid]
    (fail,) = pair.server_sends(schan.create_fail())
    assert isinstance(fail, catools.CreateChFailResponse) and fail.cid == chan.cid
    assert chan.state is schan.state is CS.FAILED
    assert chan.cid not in pair.client.channels
    with pytest.raises(LocalProtocolError):
        chan.read()
    # the CID can be used again
    again = catools.ClientChannel(pair.client, "other", cid=chan.cid)
    pair.client_sends(again.create())
    assert again.state is CS.AWAIT_CREATE_CHAN_RESPONSE


def test_duplicate_cid_is_refused():
    pair = CircuitPair()
    chan = catools.ClientChannel(pair.client, "a")
    with pytest.raises(LocalProtocolError):
        catools.ClientChannel(pair.client, "b", cid=chan.cid)


def test_server_disconn():
    pair = CircuitPair()
    pair.handshake()
    chan, schan = pair.connect_channel()
    (sub,) = pair.client_sends(chan.subscribe())
    (gone,) = pair.server_sends(schan.disconnect())
    assert isinstance(gone, catools.ServerDisconnResponse)
    assert chan.state is schan.state is CS.DISCONNECTED
    assert sub.subscriptionid not in pair.client.event_add_commands
    with pytest.raises(LocalProtocolError):
        chan.read()


def test_error_response_ends_an_ioid():
    pair = CircuitPair()
    pair.handshake()
    chan, schan = pair.connect_channel()
    (req,) = pair.client_sends(chan.read())
    err = catools.ErrorResponse(original_request=req, cid=chan.cid, status=0x1a,
                                error_message="no read access")
    (got,) = pair.server_sends(err)
    assert isinstance(got, catools.ErrorResponse)
    assert got.original_header.parameter2 == req.ioid
    assert chan.state is CS.CONNECTED
    # the IOID is no longer in flight: a late data reply is a protocol error
    late = catools.ReadNotifyResponse(data=[1.0], data_type=6, ioid=req.ioid)
    pair.client.recv(bytes(late))
    with pytest.raises(RemoteProtocolError):
        pair.client.next_command()


def test_error_response_ends_a_subscription():
    pair = CircuitPair()
    pair.handshake()
    chan, schan = pair.connect_channel()
    (sub,) = pair.client_sends(chan.subscribe())
    pair.server_sends(catools.ErrorResponse(original_request=sub, cid=chan.cid,
                                            status=0x30))
    assert sub.subscriptionid not in pair.client.event_add_commands


def test_event_add_mask_zero_is_local_error():
    pair = CircuitPair()
    pair.handshake()
    chan, _ = pair.connect_channel()
    with pytest.raises(LocalProtocolError):
        pair.client.send(chan.subscribe(mask=0))


def test_recv_empty_means_disconnected():
    pair = CircuitPair()
    pair.handshake()
    chan, _ = pair.connect_channel()
    pair.client.recv(bytes(catools.EchoResponse())[:8])  # half a message, then EOF
    assert pair.client.next_command() is NEED_DATA
    pair.client.recv(b"")
    assert pair.client.next_command() is DISCONNECTED
    assert chan.state is CS.DISCONNECTED
    assert pair.client.states[SERVER] is CircuitState.DISCONNECTED
    with pytest.raises(LocalProtocolError):
        pair.client.send(catools.EchoRequest())


def test_large_array_refused_towards_old_peer():
    pair = CircuitPair()
    pair.client_sends(catools.VersionRequest(priority=0, version=8))
    pair.server_sends(catools.VersionResponse(version=13))
    assert pair.server.protocol_version == 8
    chan = catools.ClientChannel(pair.client, "big")
    (req,) = pair.client_sends(chan.create())
    schan = pair.server.channels[chan.cid]
    with pytest.raises(LocalProtocolError):
        pair.server.send(*schan.create(ChannelType.CHAR, 70000, sid=1))


def test_priority_mismatch_and_range():
    with pytest.raises(LocalProtocolError):
        catools.VirtualCircuit(CLIENT, ("127.0.0.1", 1), priority=100)
    pair = CircuitPair(priority=5)
    with pytest.raises(LocalProtocolError):
        pair.client.send(catools.VersionRequest(priority=6))
    pair.client_sends(catools.VersionRequest(priority=5))
    assert pair.server.priority == 5


def test_broadcaster_search_without_version_is_local_error():
    b = Broadcaster(CLIENT)
    with pytest.raises(LocalProtocolError):
        b.send(catools.SearchRequest(name="x", cid=1))
    with pytest.raises(LocalProtocolError):
        b.send(catools.CreateChanRequest(name="x", cid=1))  # TCP only
    raw = b.send(catools.VersionRequest(priority=0, version=13),
                 catools.SearchRequest(name="x", cid=7))
    assert b.unanswered_searches == {7: "x"}
    assert len(raw) == 16 + 16 + 8


def test_broadcaster_rules_on_the_server_side():
    srv = Broadcaster(SERVER)
    srv.recv(bytes(catools.SearchRequest(name="x", cid=1)), ("127.0.0.1", 5))
    with pytest.raises(RemoteProtocolError):
        srv.next_command()
    srv.recv(b"\x00\x06\x00\x08", ("127.0.0.1", 5))  # truncated header
    with pytest.raises(RemoteProtocolError):
        srv.next_command()
    # still usable afterwards
    good = (bytes(catools.VersionRequest(priority=1, version=13, sequence_id=4))
            + bytes(catools.SearchRequest(name="TST:ai", cid=9)))
    srv.recv(good, ("127.0.0.1", 6))
    v = srv.next_command()
    sr = srv.next_command()
    assert isinstance(v, catools.VersionRequest) and v.sequence_id == 4
    assert isinstance(sr, catools.SearchRequest) and sr.name == "TST:ai"
    assert sr.sender_address == ("127.0.0.1", 6)
    assert srv.next_command() is NEED_DATA


def test_broadcaster_client_answers():
    b = Broadcaster(CLIENT)
    b.send(catools.VersionRequest(priority=0, version=13),
           catools.SearchRequest(name="x", cid=3))
    reply = (bytes(catools.VersionResponse(version=13, flags=1, sequence_id=0))
             + bytes(catools.SearchResponse(port=5064, cid=3)))
    b.recv(reply, ("127.0.0.1", 5064))
    assert isinstance(b.next_command(), catools.VersionResponse)
    sr = b.next_command()
    assert sr.address == ("127.0.0.1", 5064)
    assert b.unanswered_searches == {}
    assert b.next_command() is NEED_DATA
    b.recv(b"", ("127.0.0.1", 1))  # a zero-length datagram from a server means nothing
    assert b.next_command() is NEED_DATA
    b.recv(b"\xff" * 16, ("127.0.0.1", 1))
    with pytest.raises(RemoteProtocolError):
        b.next_command()
    b.recv(bytes(catools.RepeaterConfirmResponse("127.0.0.1")), ("127.0.0.1", 1))
    assert isinstance(b.next_command(), catools.RepeaterConfirmResponse)


def test_split_delivery_in_session():
    pair = CircuitPair()
    pair.handshake()
    chan, schan = pair.connect_channel()
    (req,) = pair.client_sends(chan.read(ChannelType.TIME_DOUBLE, 1))
    raw = pair.server.send(schan.read([7.5], req.ioid, 20))
    for byte in raw[:-1]:
        pair.client.recv(bytes([byte]))
        assert pair.client.next_command() is NEED_DATA
    pair.client.recv(raw[-1:])
    (resp,) = drain(pair.client)
    assert resp.data.tolist() == [7.5]


def test_late_host_name_is_a_recoverable_remote_error():
    pair = CircuitPair()
    pair.handshake()
    chan = catools.ClientChannel(pair.client, "PV:late")
    pair.server.recv(pair.client.send(chan.create()))
    assert isinstance(pair.server.next_command(), catools.CreateChanRequest)
    pair.server.recv(bytes(catools.HostNameRequest("late")) + bytes(catools.EchoRequest()))
    with pytest.raises(RemoteProtocolError) as info:
        pair.server.next_command()
    assert info.value.recoverable
    assert pair.server.states[CLIENT] is CircuitState.CONNECTED   # RSRV keeps the circuit
    assert isinstance(pair.server.next_command(), catools.EchoRequest)
    # a non-recoverable violation still ends the circuit
    pair.server.recv(bytes(catools.ReadNotifyRequest(data_type=6, data_count=1, sid=999,
                                                     ioid=1)))
    with pytest.raises(RemoteProtocolError) as info:
        pair.server.next_command()
    assert not info.value.recoverable
    assert pair.server.states[CLIENT] is CircuitState.ERROR
