"""The server's answers to requests, written once, apart from the loop.

A handler takes the server (its PVs and output), the client's state (``_Client``: its
circuit, channels, subscriptions) and one request the core has checked and applied, with
the request's raw header (an ERROR quotes it), and emits the replies, as RSRV does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, cast

from ..protocol import (DEFAULT_PROTOCOL_VERSION, DO_REPLY, AccessRights, CAStatus,
                        ClearChannelRequest, CreateChanRequest, EchoRequest, EchoResponse,
                        EventAddRequest, EventAddResponse, EventCancelRequest,
                        EventsOffRequest, EventsOnRequest, NotFoundResponse,
                        ReadNotifyRequest, ReadNotifyResponse, ReadRequest, ReadResponse,
                        ReadSyncRequest, SearchRequest, SearchResponse, ServerChannel,
                        WriteNotifyRequest, WriteRequest, data_size)
from ._connection import _Client, _Sub
from ._pvdb import PV, PutError
from ._replies import send_dbr

if TYPE_CHECKING:
    from ._server import Server

_MINOR = DEFAULT_PROTOCOL_VERSION
#: The CID of an ERROR that concerns no channel.
NO_CID = 0xFFFFFFFF
#: Requests whose ERROR carries the CID of the channel they name (RSRV).
_CHANNEL_REQUESTS = frozenset(cls.ID for cls in (
    EventAddRequest, EventCancelRequest, ReadRequest, WriteRequest, ReadNotifyRequest,
    WriteNotifyRequest))
#: DBR_PUT_ACKT / DBR_PUT_ACKS: write-only types, never read (RSRV answers ECA_GETFAIL).
_PUT_ACK_TYPES = (35, 36)


def dispatch(server: "Server", client: _Client, command: Any, raw_header: bytes) -> None:
    """Answer one request (one the server does not answer is ignored, as by RSRV)."""
    handler = HANDLERS.get(type(command))
    if handler is not None:
        handler(server, client, command, raw_header)


def cid_of(client: _Client, header: Any) -> int:
    """The CID an ERROR about a channel request carries (RSRV: the channel's)."""
    if header.command in _CHANNEL_REQUESTS and header.parameter1 in client.pvs:
        return cid_of_sid(client, header.parameter1)
    return NO_CID


def cid_of_sid(client: _Client, sid: int) -> int:
    channel = client.circuit.channels_sid.get(sid)
    return channel.cid if channel is not None else NO_CID


def too_large(server: "Server", client: _Client, command: Any, raw_header: bytes, pv: PV,
              read: bool = False) -> bool:
    """True (after an ERROR ECA_TOLARGE, as RSRV) if the reply to a read or
    subscription of ``command.data_count`` elements would exceed the limit."""
    count = command.data_count or pv.element_count
    limit = server.request_limit
    if data_size(command.data_type, count) <= limit:
        return False
    what = "read" if read else "read (or subscription update)"
    ident = command.ioid if hasattr(command, "ioid") else command.subscriptionid
    server._error(client, raw_header, CAStatus.ECA_TOLARGE,
                  f"server unable to load {what} response into protocol buffer "
                  f'PV="{pv.name}" dbf={command.data_type} count={count} '
                  f"avail={ident} max bytes={limit}", cid_of_sid(client, command.sid))
    return True


def _channel(client: _Client, sid: int) -> tuple[Any, PV]:
    return client.circuit.channels_sid[sid], client.pvs[sid]


def on_create(server: "Server", client: _Client, command: Any, raw_header: bytes) -> None:
    channel = cast(ServerChannel, client.circuit.channels[command.cid])
    pv = server.pvs.get(command.name)
    if pv is None:
        server._send(client, channel.create_fail())
        return
    sid = server.new_sid()
    rights = AccessRights.READ if pv.read_only else AccessRights.READ_WRITE
    client.pvs[sid] = pv
    server._send(client, *channel.create(int(pv.native_type), pv.count, sid, rights))


def on_read_notify(server: "Server", client: _Client, command: Any,
                   raw_header: bytes) -> None:
    channel, pv = _channel(client, command.sid)
    if too_large(server, client, command, raw_header, pv):
        return
    send_dbr(server, client, ReadNotifyResponse, command.data_type, command.data_count,
             pv, command.ioid)


def on_read(server: "Server", client: _Client, command: Any, raw_header: bytes) -> None:
    channel, pv = _channel(client, command.sid)
    if too_large(server, client, command, raw_header, pv, read=True):
        return
    if command.data_type in _PUT_ACK_TYPES:
        server._error(client, raw_header, CAStatus.ECA_GETFAIL, pv.name, channel.cid)
        return
    send_dbr(server, client, ReadResponse, command.data_type, command.data_count, pv,
             command.ioid, p1=channel.cid)


def _put(pv: PV, command: Any, notify: bool = False) -> int:
    if pv.read_only:
        return CAStatus.ECA_NOWTACCESS
    try:
        pv.put(command.data_type, command.data, notify=notify)
    except PutError as exc:
        return exc.status
    except (ValueError, TypeError):
        return CAStatus.ECA_PUTFAIL
    return CAStatus.ECA_NORMAL


def on_write(server: "Server", client: _Client, command: Any, raw_header: bytes) -> None:
    channel, pv = _channel(client, command.sid)
    status = _put(pv, command)
    if status != CAStatus.ECA_NORMAL:
        server._error(client, raw_header, status, pv.name, channel.cid)


def on_write_notify(server: "Server", client: _Client, command: Any,
                    raw_header: bytes) -> None:
    channel, pv = _channel(client, command.sid)
    status = _put(pv, command, notify=True)
    server._send(client, channel.write(command.ioid, command.data_type,
                                       command.data_count, int(status)))


def on_event_add(server: "Server", client: _Client, command: Any,
                 raw_header: bytes) -> None:
    channel, pv = _channel(client, command.sid)
    sub = _Sub(client, command.subscriptionid, channel, pv, command.data_type,
               command.data_count, command.mask, (command, raw_header))
    server.monitors.add(sub)


def on_event_cancel(server: "Server", client: _Client, command: Any,
                    raw_header: bytes) -> None:
    channel = cast(ServerChannel, client.circuit.channels_sid[command.sid])
    server._send(client, channel.unsubscribe(command.subscriptionid))
    server.monitors.remove(client, command.subscriptionid)


def on_clear(server: "Server", client: _Client, command: Any, raw_header: bytes) -> None:
    channel = cast(ServerChannel, client.circuit.channels_sid[command.sid])
    for subid in [s for s, sub in client.subs.items() if sub.channel is channel]:
        server.monitors.remove(client, subid)
    client.pvs.pop(command.sid, None)
    server._send(client, channel.clear())


def on_echo(server: "Server", client: _Client, command: Any, raw_header: bytes) -> None:
    server._send(client, EchoResponse())


def on_read_sync(server: "Server", client: _Client, command: Any,
                 raw_header: bytes) -> None:
    client.send(raw_header)  # RSRV echoes the header (the core has no server form)


def on_events_off(server: "Server", client: _Client, command: Any,
                  raw_header: bytes) -> None:
    client.events_off = True


def on_events_on(server: "Server", client: _Client, command: Any,
                 raw_header: bytes) -> None:
    client.events_off = False
    server.monitors.flush_pending(client)


def on_search(server: "Server", client: _Client, command: Any, raw_header: bytes) -> None:
    if command.name in server.pvs:
        server._send(client, SearchResponse(port=server.port or 0, ip="255.255.255.255",
                                            cid=command.cid, version=None))
    elif command.reply == DO_REPLY:
        server._send(client, NotFoundResponse(version=_MINOR, cid=command.cid,
                                              reply_flag=DO_REPLY))


HANDLERS: dict[type, Callable[["Server", _Client, Any, bytes], None]] = {
    CreateChanRequest: on_create,
    ReadNotifyRequest: on_read_notify,
    ReadRequest: on_read,
    WriteRequest: on_write,
    WriteNotifyRequest: on_write_notify,
    EventAddRequest: on_event_add,
    EventCancelRequest: on_event_cancel,
    ClearChannelRequest: on_clear,
    EchoRequest: on_echo,
    ReadSyncRequest: on_read_sync,
    EventsOffRequest: on_events_off,
    EventsOnRequest: on_events_on,
    SearchRequest: on_search,
}

__all__ = ["HANDLERS", "NO_CID", "dispatch", "cid_of", "cid_of_sid", "too_large"]
