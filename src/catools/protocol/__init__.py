"""The sans-I/O Channel Access core: bytes in, commands out; commands in, bytes out.

No sockets, clocks or environment here: the I/O layers (``catools.client``,
``catools.server``) own those and pass in what the core needs.
"""
from __future__ import annotations

from ..hints import TYPE_CHECKING
from ._broadcaster import Broadcaster, pack_searches, search_datagrams, search_replies
from ._channel import ClientChannel, ServerChannel
from ._circuit import DEFAULT_MAX_PAYLOAD, VirtualCircuit, request_error_hint
from ._framing import ReceiveBuffer
from ._commands import (ALL_COMMANDS, COMMAND_TABLE, REGISTRY, AccessRightsResponse, Beacon,
                        ClearChannelRequest, ClearChannelResponse, ClientNameRequest, Command,
                        CreateChanRequest, CreateChanResponse, CreateChFailResponse,
                        EchoRequest, EchoResponse, ErrorResponse, EventAddRequest,
                        EventAddResponse, EventCancelRequest, EventCancelResponse,
                        EventsOffRequest, EventsOnRequest, HostNameRequest, NotFoundResponse,
                        ReadNotifyRequest, ReadNotifyResponse, ReadRequest, ReadResponse,
                        ReadSyncRequest, RepeaterConfirmResponse, RepeaterRegisterRequest,
                        SearchRequest, SearchResponse, ServerDisconnResponse, VersionRequest,
                        VersionResponse, WriteNotifyRequest, WriteNotifyResponse, WriteRequest,
                        command_table_markdown, decode_command, int_to_ip, ip_to_int,
                        read_datagram)
from ._constants import (DBE_ALARM, DBE_ARCHIVE, DBE_LOG, DBE_PROPERTY, DBE_VALUE,
                         DEFAULT_PROTOCOL_VERSION, DO_REPLY, DONT_REPLY, EPICS2UNIX_EPOCH,
                         HEADER_SIZE, LARGE_HEADER_VERSION, MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE,
                         MAX_NAME_LENGTH, MAX_UDP_SEND, MAX_UNITS_SIZE, NAME_CHARS_SAFE,
                         REPEATER_PORT, SERVER_PORT, SEVERITY_NAMES, STATUS_NAMES,
                         AccessRights, SubscriptionType, name_too_long)
from ._dbr import (DBR_TYPES, FAMILIES, FIRST_VALUE, MAX_DBR_TYPE, NATIVE_TYPES, DBRMetadata,
                   DbrType, data_size, dbf_name, dbr_name, dbr_type, decode_dbr, encode_dbr,
                   encode_metadata, native_type, promote)
from ._errors import CaError, LocalProtocolError, ProtocolError, RemoteProtocolError
from ._runs import CreateRun, EventAddRun, ReadNotifyRun, ReplyRun
from ._headers import HEADER, Frame, Header, frame_at, pack_header, unpack_header
from ._roles import (CLIENT, DISCONNECTED, NEED_DATA, SERVER, ChannelState, CircuitState,
                     Role)

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

#: From ``_status``, imported on first use (its table and enums cost start-up time).
_STATUS_NAMES = ("ECA_CODES", "CAStatusCode", "alarm_severity_name", "alarm_status_name",
                 "ca_message", "eca_lookup", "eca_success", "CAStatus", "AlarmStatus",
                 "AlarmSeverity")


def __getattr__(name: str) -> Any:
    # built on first use (enum creation costs start-up time): see _status and _dbr
    if name in _STATUS_NAMES:
        from importlib import import_module
        value = getattr(import_module("catools.protocol._status"), name)
        if name not in ("CAStatus", "AlarmStatus", "AlarmSeverity"):
            globals()[name] = value
        return value
    if name in ("ChannelType", "field_types"):
        from . import _dbr
        return getattr(_dbr, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CA_SERVER_PORT = SERVER_PORT
CA_REPEATER_PORT = REPEATER_PORT

__all__ = [
    "Broadcaster", "pack_searches", "search_datagrams", "search_replies", "VirtualCircuit", "ClientChannel", "ServerChannel",
    "Command",
    "COMMAND_TABLE", "ALL_COMMANDS", "REGISTRY", "decode_command", "read_datagram",
    "command_table_markdown", "ip_to_int", "int_to_ip",
    "AccessRightsResponse", "Beacon", "ClearChannelRequest", "ClearChannelResponse",
    "ClientNameRequest", "CreateChanRequest", "CreateChanResponse", "CreateChFailResponse",
    "EchoRequest", "EchoResponse", "ErrorResponse", "EventAddRequest", "EventAddResponse",
    "EventCancelRequest", "EventCancelResponse", "EventsOffRequest", "EventsOnRequest",
    "HostNameRequest", "NotFoundResponse", "ReadNotifyRequest", "ReadNotifyResponse",
    "ReadRequest", "ReadResponse", "ReadSyncRequest", "RepeaterConfirmResponse",
    "RepeaterRegisterRequest", "SearchRequest", "SearchResponse", "ServerDisconnResponse",
    "VersionRequest", "VersionResponse", "WriteNotifyRequest", "WriteNotifyResponse",
    "WriteRequest",
    "DBE_ALARM", "DBE_ARCHIVE", "DBE_LOG", "DBE_PROPERTY", "DBE_VALUE",
    "DEFAULT_PROTOCOL_VERSION", "DO_REPLY", "DONT_REPLY", "EPICS2UNIX_EPOCH",
    "MAX_ENUM_STATES", "MAX_ENUM_STRING_SIZE", "MAX_STRING_SIZE", "MAX_UDP_SEND",
    "MAX_UNITS_SIZE", "REPEATER_PORT", "SERVER_PORT", "CA_SERVER_PORT", "CA_REPEATER_PORT",
    "AccessRights", "SubscriptionType",
    "DBR_TYPES", "FIRST_VALUE", "ChannelType", "DBRMetadata", "DbrType", "data_size", "dbf_name",
    "dbr_name", "dbr_type", "decode_dbr", "encode_dbr", "field_types", "native_type",
    "promote",
    "CaError", "LocalProtocolError", "ProtocolError", "RemoteProtocolError",
    "Header", "Frame", "frame_at", "pack_header", "unpack_header", "HEADER", "HEADER_SIZE",
    "LARGE_HEADER_VERSION", "encode_metadata",
    "CLIENT", "DISCONNECTED", "NEED_DATA", "SERVER", "ChannelState", "CircuitState", "Role",
    "ECA_CODES", "AlarmSeverity", "AlarmStatus", "CAStatus", "CAStatusCode",
    "alarm_severity_name", "alarm_status_name", "ca_message", "eca_lookup", "eca_success",
    "DEFAULT_MAX_PAYLOAD", "ReceiveBuffer", "EventAddRun", "ReadNotifyRun", "CreateRun",
    "ReplyRun", "request_error_hint",
    "FAMILIES", "MAX_DBR_TYPE", "NATIVE_TYPES", "SEVERITY_NAMES", "STATUS_NAMES",
    "MAX_NAME_LENGTH", "NAME_CHARS_SAFE", "name_too_long",
]
