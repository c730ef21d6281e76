"""State machine tables of circuits and channels (and nothing else).

Rule 1: everything that changes a state lives in these tables.
Rule 2: the tables do not know which role we play; both ends track both sides.
"""
from __future__ import annotations

from ._commands import (AccessRightsResponse, ClearChannelRequest, ClearChannelResponse,
                        ClientNameRequest, CreateChanRequest, CreateChanResponse,
                        CreateChFailResponse, EchoRequest, EchoResponse, ErrorResponse,
                        EventAddRequest, EventAddResponse, EventCancelRequest,
                        EventCancelResponse, EventsOffRequest, EventsOnRequest,
                        HostNameRequest, ReadNotifyRequest, ReadNotifyResponse, ReadRequest,
                        ReadResponse, ReadSyncRequest, SearchRequest, SearchResponse,
                        NotFoundResponse, ServerDisconnResponse, VersionRequest,
                        VersionResponse, WriteNotifyRequest, WriteNotifyResponse,
                        WriteRequest)
from ._roles import CLIENT, SERVER, ChannelState, CircuitState, Role

C = CircuitState
S = ChannelState

#: Commands that concern the circuit as a whole, per sender, per state of that sender.
CIRCUIT_TRANSITIONS: dict[Role, dict[CircuitState, dict[type, CircuitState]]] = {
    CLIENT: {
        C.SEND_VERSION_REQUEST: {VersionRequest: C.CONNECTED},
        C.CONNECTED: {
            # libca pipelines CLIENT_NAME/HOST_NAME/CREATE_CHAN before the server's VERSION.
            VersionRequest: C.CONNECTED, HostNameRequest: C.CONNECTED,
            ClientNameRequest: C.CONNECTED, EchoRequest: C.CONNECTED,
            EventsOffRequest: C.CONNECTED, EventsOnRequest: C.CONNECTED,
            ReadSyncRequest: C.CONNECTED,
            # search over TCP (name servers)
            SearchRequest: C.CONNECTED,
        },
    },
    SERVER: {
        # RSRV sends its VERSION on accept, before reading anything.
        C.SEND_VERSION_RESPONSE: {VersionResponse: C.CONNECTED},
        C.CONNECTED: {
            VersionResponse: C.CONNECTED, EchoResponse: C.CONNECTED,
            ErrorResponse: C.CONNECTED, SearchResponse: C.CONNECTED,
            NotFoundResponse: C.CONNECTED,
            # RSRV answers READ_SYNC by echoing it.
            ReadSyncRequest: C.CONNECTED,
        },
    },
}

_IN_FLIGHT: dict[type, ChannelState] = {
    # Replies that may still arrive after a clear was sent.
    ReadNotifyResponse: S.MUST_CLOSE, ReadResponse: S.MUST_CLOSE,
    WriteNotifyResponse: S.MUST_CLOSE, EventAddResponse: S.MUST_CLOSE,
    EventCancelResponse: S.MUST_CLOSE, AccessRightsResponse: S.MUST_CLOSE,
    ErrorResponse: S.MUST_CLOSE,
}

#: ``CHANNEL_TRANSITIONS[state][command class] -> next state``.
CHANNEL_TRANSITIONS: dict[ChannelState, dict[type, ChannelState]] = {
    S.SEND_CREATE_CHAN_REQUEST: {CreateChanRequest: S.AWAIT_CREATE_CHAN_RESPONSE},
    S.AWAIT_CREATE_CHAN_RESPONSE: {
        # RSRV sends ACCESS_RIGHTS before the CREATE_CHAN reply.
        AccessRightsResponse: S.AWAIT_CREATE_CHAN_RESPONSE,
        CreateChanResponse: S.CONNECTED,
        CreateChFailResponse: S.FAILED,
        ServerDisconnResponse: S.DISCONNECTED,
    },
    S.CONNECTED: {
        ReadRequest: S.CONNECTED, ReadResponse: S.CONNECTED,
        ReadNotifyRequest: S.CONNECTED, ReadNotifyResponse: S.CONNECTED,
        WriteRequest: S.CONNECTED,
        WriteNotifyRequest: S.CONNECTED, WriteNotifyResponse: S.CONNECTED,
        EventAddRequest: S.CONNECTED, EventAddResponse: S.CONNECTED,
        EventCancelRequest: S.CONNECTED, EventCancelResponse: S.CONNECTED,
        AccessRightsResponse: S.CONNECTED, ErrorResponse: S.CONNECTED,
        ClearChannelRequest: S.MUST_CLOSE,
        ServerDisconnResponse: S.DISCONNECTED,
    },
    S.MUST_CLOSE: {**_IN_FLIGHT, ClearChannelResponse: S.CLOSED,
                   ServerDisconnResponse: S.CLOSED},
    S.CLOSED: {},
    S.FAILED: {},
    S.DISCONNECTED: {},
    S.ERROR: {},
}

#: Which field of a command names its channel, and in which index of the circuit.
CHANNEL_KEY: dict[type, str] = {
    CreateChanRequest: "cid", CreateChanResponse: "cid", CreateChFailResponse: "cid",
    AccessRightsResponse: "cid", ServerDisconnResponse: "cid",
    ClearChannelRequest: "sid", ClearChannelResponse: "sid",
    ReadRequest: "sid", ReadNotifyRequest: "sid", WriteRequest: "sid",
    WriteNotifyRequest: "sid", EventAddRequest: "sid", EventCancelRequest: "sid",
    ReadResponse: "ioid", ReadNotifyResponse: "ioid", WriteNotifyResponse: "ioid",
    EventAddResponse: "subscriptionid", EventCancelResponse: "subscriptionid",
}


#: For each command class, the channel states it leaves unchanged (derived from the
#: table above); the circuit's fast path for subscription updates uses it.
STAYS = {cls: frozenset(state for state, moves in CHANNEL_TRANSITIONS.items()
                        if moves.get(cls) is state)
         for cls in CHANNEL_KEY}
