"""Every Channel Access command, declared once in ``COMMAND_TABLE``.

Each row names the command class, its code, who sends it, the transports it may use,
what the four header fields (``data_type``, ``data_count``, ``parameter1``,
``parameter2``) hold for it, and the kind of payload. The classes, their constructors,
encoders, decoders and the ``(sender, code) -> class`` registry are built from the
table (the constructors and codecs as source generated into ``_codecs.py`` by
``_codegen``); ``docs/commands.md`` is rendered from it too (``command_table_markdown``).
"""
from __future__ import annotations

import struct
from collections.abc import Mapping

from ..hints import TYPE_CHECKING
from ._constants import (DEFAULT_PROTOCOL_VERSION, DONT_REPLY, DO_REPLY,
                         EXTENDED_HEADER_SIZE)
from ._dbr import (DBR_TYPES, MAX_DBR_TYPE, SCALAR_DECODERS, DBRMetadata,
                   decode_metadata, decode_values, encode_metadata, encode_values)
from ._errors import LocalProtocolError, RemoteProtocolError
from ._headers import (NUL_PADS, Header, frame_at, pack_header, quoted_header,
                       unpack_header)
from ._records import Record
from ._roles import CLIENT, SERVER, Role
from . import _codecs

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any


class _Required:
    """Marks a constructor argument without a default."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


class Row(Record):
    """One command: name, code, sender, transports, header fields, payload, fields."""

    __slots__ = ()

    name: str
    command: int
    sender: Role
    transports: str                      # "udp", "tcp" or "udp tcp"
    header: tuple[Any, Any, Any, Any]    # data_type, data_count, parameter1, parameter2
    payload: str | None                  # None, name, dbr, mon_info, search, error
    fields: tuple[tuple[str, Any], ...]  # constructor arguments in order, with defaults
    doc: str


_V = DEFAULT_PROTOCOL_VERSION
# Header entries: a field name, an int constant, or "ip:<field>" for an IPv4 address.
COMMAND_TABLE: tuple[Row, ...] = (
    Row("VersionRequest", 0, CLIENT, "udp tcp", ("priority", "version", "sequence_id", 0),
        None, (("priority", 0), ("version", _V), ("sequence_id", 0)),
        "First message of a circuit (priority) and of each search datagram "
        "(priority=1 marks sequence_id valid)."),
    Row("VersionResponse", 0, SERVER, "udp tcp", ("flags", "version", "sequence_id", 0),
        None, (("version", _V), ("flags", 0), ("sequence_id", 0)),
        "Server's minor version; on UDP it prefixes each reply datagram (flags=1)."),
    Row("EventAddRequest", 1, CLIENT, "tcp", ("data_type", "data_count", "sid", "subscriptionid"),
        "mon_info", (("data_type", REQUIRED), ("data_count", REQUIRED), ("sid", REQUIRED),
                     ("subscriptionid", REQUIRED), ("low", 0.0), ("high", 0.0), ("to", 0.0),
                     ("mask", 5)),
        "Subscribe (data_count 0 = dynamic); mask is a combination of DBE_* bits."),
    Row("EventAddResponse", 1, SERVER, "tcp", ("data_type", "data_count", "status", "subscriptionid"),
        "dbr", (("data", REQUIRED), ("metadata", None), ("data_type", REQUIRED),
                ("data_count", None), ("status", 1), ("subscriptionid", REQUIRED)),
        "A subscription update; status is an ECA code."),
    Row("EventCancelRequest", 2, CLIENT, "tcp", ("data_type", "data_count", "sid", "subscriptionid"),
        None, (("data_type", REQUIRED), ("data_count", REQUIRED), ("sid", REQUIRED),
               ("subscriptionid", REQUIRED)),
        "Cancel a subscription."),
    Row("EventCancelResponse", 1, SERVER, "tcp", ("data_type", "data_count", "sid", "subscriptionid"),
        None, (("data_type", REQUIRED), ("data_count", REQUIRED), ("sid", REQUIRED),
               ("subscriptionid", REQUIRED)),
        "Confirms a cancel: an EVENT_ADD with no payload carrying the SID."),
    Row("ReadRequest", 3, CLIENT, "tcp", ("data_type", "data_count", "sid", "ioid"),
        None, (("data_type", REQUIRED), ("data_count", REQUIRED), ("sid", REQUIRED),
               ("ioid", REQUIRED)),
        "Obsolete get without notification."),
    Row("ReadResponse", 3, SERVER, "tcp", ("data_type", "data_count", "cid", "ioid"),
        "dbr", (("data", REQUIRED), ("metadata", None), ("data_type", REQUIRED),
                ("data_count", None), ("cid", REQUIRED), ("ioid", REQUIRED)),
        "Reply to the obsolete READ."),
    Row("WriteRequest", 4, CLIENT, "tcp", ("data_type", "data_count", "sid", "ioid"),
        "dbr", (("data", REQUIRED), ("data_type", REQUIRED), ("data_count", None),
                ("sid", REQUIRED), ("ioid", REQUIRED), ("metadata", None)),
        "Put without completion (libca puts the CID in ioid)."),
    Row("SearchRequest", 6, CLIENT, "udp tcp", ("reply", "version", "cid", "cid"),
        "name", (("name", REQUIRED), ("cid", REQUIRED), ("version", _V),
                 ("reply", DONT_REPLY)),
        "Look for a PV by name; reply=DO_REPLY asks for NOT_FOUND."),
    Row("SearchResponse", 6, SERVER, "udp tcp", ("port", 0, "ip:ip", "cid"),
        "search", (("port", REQUIRED), ("ip", "255.255.255.255"), ("cid", REQUIRED),
                   ("version", _V)),
        "The server's TCP port; ip 255.255.255.255 means the sender. version None = TCP form."),
    Row("EventsOffRequest", 8, CLIENT, "tcp", (0, 0, 0, 0), None, (),
        "Pause subscription updates on this circuit."),
    Row("EventsOnRequest", 9, CLIENT, "tcp", (0, 0, 0, 0), None, (),
        "Resume subscription updates."),
    Row("ReadSyncRequest", 10, CLIENT, "tcp", (0, 0, 0, 0), None, (),
        "Obsolete; echoed by the server."),
    Row("ErrorResponse", 11, SERVER, "udp tcp", (0, 0, "cid", "status"),
        "error", (("original_request", REQUIRED), ("cid", REQUIRED), ("status", REQUIRED),
                  ("error_message", "")),
        "A request failed: the request's header, its channel's CID and an ECA code."),
    Row("ClearChannelRequest", 12, CLIENT, "tcp", (0, 0, "sid", "cid"), None,
        (("sid", REQUIRED), ("cid", REQUIRED)),
        "Close a channel."),
    Row("ClearChannelResponse", 12, SERVER, "tcp", (0, 0, "sid", "cid"), None,
        (("sid", REQUIRED), ("cid", REQUIRED)),
        "Confirms a close."),
    Row("Beacon", 13, SERVER, "udp", ("version", "server_port", "beacon_id", "ip:address"),
        None, (("version", _V), ("server_port", REQUIRED), ("beacon_id", REQUIRED),
               ("address", "0.0.0.0")),
        "RSRV_IS_UP: a server announces itself to the repeater."),
    Row("NotFoundResponse", 14, SERVER, "udp tcp", ("reply_flag", "version", "cid", "cid"),
        None, (("version", _V), ("cid", REQUIRED), ("reply_flag", DO_REPLY)),
        "Answer to a DO_REPLY search for an unknown name."),
    Row("ReadNotifyRequest", 15, CLIENT, "tcp", ("data_type", "data_count", "sid", "ioid"),
        None, (("data_type", REQUIRED), ("data_count", REQUIRED), ("sid", REQUIRED),
               ("ioid", REQUIRED)),
        "Get (data_count 0 = all valid elements)."),
    Row("ReadNotifyResponse", 15, SERVER, "tcp", ("data_type", "data_count", "status", "ioid"),
        "dbr", (("data", REQUIRED), ("metadata", None), ("data_type", REQUIRED),
                ("data_count", None), ("status", 1), ("ioid", REQUIRED)),
        "Reply to a get; status is an ECA code (payload zeroed on failure)."),
    Row("RepeaterConfirmResponse", 17, SERVER, "udp", (0, 0, 0, "ip:repeater_address"),
        None, (("repeater_address", "0.0.0.0"),),
        "The repeater accepted a registration."),
    Row("CreateChanRequest", 18, CLIENT, "tcp", (0, 0, "cid", "version"), "name",
        (("name", REQUIRED), ("cid", REQUIRED), ("version", _V)),
        "Open a channel by name."),
    Row("CreateChanResponse", 18, SERVER, "tcp", ("data_type", "data_count", "cid", "sid"),
        None, (("data_type", REQUIRED), ("data_count", REQUIRED), ("cid", REQUIRED),
               ("sid", REQUIRED)),
        "Channel opened: native type and count, and the server's id."),
    Row("WriteNotifyRequest", 19, CLIENT, "tcp", ("data_type", "data_count", "sid", "ioid"),
        "dbr", (("data", REQUIRED), ("data_type", REQUIRED), ("data_count", None),
                ("sid", REQUIRED), ("ioid", REQUIRED), ("metadata", None)),
        "Put with completion notification."),
    Row("WriteNotifyResponse", 19, SERVER, "tcp", ("data_type", "data_count", "status", "ioid"),
        None, (("data_type", REQUIRED), ("data_count", REQUIRED), ("status", REQUIRED),
               ("ioid", REQUIRED)),
        "The put completed; status is an ECA code."),
    Row("ClientNameRequest", 20, CLIENT, "tcp", (0, 0, 0, 0), "name", (("name", REQUIRED),),
        "The client's user name."),
    Row("HostNameRequest", 21, CLIENT, "tcp", (0, 0, 0, 0), "name", (("name", REQUIRED),),
        "The client's host name."),
    Row("AccessRightsResponse", 22, SERVER, "tcp", (0, 0, "cid", "access_rights"), None,
        (("cid", REQUIRED), ("access_rights", REQUIRED)),
        "Read/write rights of a channel (bits 1 and 2)."),
    Row("EchoRequest", 23, CLIENT, "udp tcp", (0, 0, 0, 0), None, (),
        "Are you there?"),
    Row("EchoResponse", 23, SERVER, "udp tcp", (0, 0, 0, 0), None, (),
        "Yes."),
    Row("RepeaterRegisterRequest", 24, CLIENT, "udp", (0, 0, 0, "ip:client_address"), None,
        (("client_address", "0.0.0.0"),),
        "Register with the repeater (a zero-length datagram means the same)."),
    Row("CreateChFailResponse", 26, SERVER, "tcp", (0, 0, "cid", 0), None,
        (("cid", REQUIRED),),
        "The server cannot open that channel."),
    Row("ServerDisconnResponse", 27, SERVER, "tcp", (0, 0, "cid", 0), None,
        (("cid", REQUIRED),),
        "The server dropped the channel."),
)

_MON_INFO = struct.Struct(">fffHxx")
_SEARCH_VERSION = struct.Struct(">H6x")


def ip_to_int(address: str) -> int:
    """Pack a dotted IPv4 address (no sockets involved)."""
    parts = address.split(".")
    if len(parts) != 4:
        raise ValueError(f"not an IPv4 address: {address!r}")
    value = 0
    for part in parts:
        octet = int(part)
        if not 0 <= octet <= 255:
            raise ValueError(f"not an IPv4 address: {address!r}")
        value = (value << 8) | octet
    return value


_IP_TEXT: dict[int, str] = {}


def int_to_ip(value: int) -> str:
    """Dotted form of a packed IPv4 address."""
    text = _IP_TEXT.get(value)
    if text is None:
        text = f"{value >> 24 & 255}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"
        if len(_IP_TEXT) < 256:     # the few servers a client hears from, bounded
            _IP_TEXT[value] = text
    return text


def _name_bytes(name: str | bytes) -> bytes:
    return name.encode("utf-8", "surrogateescape") if isinstance(name, str) else bytes(name)


def _name_str(raw: bytes) -> str:
    nul = raw.find(b"\0")
    return (raw if nul < 0 else raw[:nul]).decode("utf-8", "surrogateescape")


try:  # the C accessor that namedtuple uses; plain itemgetter properties otherwise
    from _collections import _tuplegetter  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    from operator import itemgetter

    def _tuplegetter(index: int, doc: str) -> Any:  # type: ignore[misc]
        return property(itemgetter(index), doc=doc)

_tnew = tuple.__new__


class Command(tuple):
    """Base of every command: an immutable value (a tuple of its fields and payload)."""

    ID: int
    SENDER: Role
    TRANSPORTS: frozenset[str]
    ROW: Row
    _FIELDS: tuple[str, ...]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def header(self) -> Header:
        """The header fields this command encodes to."""
        return unpack_header(bytes(self)[:EXTENDED_HEADER_SIZE])[0]  # type: ignore[index]

    @property
    def payload(self) -> bytes:
        """The padded payload bytes."""
        return self[-1]

    @property
    def sender_address(self) -> tuple[str, int] | None:
        """Where a command received over UDP came from (None otherwise)."""
        return self.__dict__.get("_sender")

    def __bytes__(self) -> bytes:
        dtype, count, p1, p2 = self._header_fields()
        payload = self[-1]
        return pack_header(self.ID, len(payload), dtype, count, p1, p2) + payload

    def _header_fields(self) -> tuple[int, int, int, int]:  # generated per class
        raise NotImplementedError

    @classmethod
    def _from_wire(cls, dtype: int, count: int, p1: int, p2: int,
                   payload: Any) -> Command:  # generated per class
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Command):
            return NotImplemented
        return type(self) is type(other) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self)))

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self).__name__, bytes(self)))

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name, _ in self.ROW.fields)
        return f"{type(self).__name__}({args})"


def _rebuild(name: str, raw: bytes) -> Command:
    cls = _CLASSES[name]
    return read_datagram(raw, cls.SENDER)[0]


# ---------------------------------------------------------------------------
# Payload codecs
# ---------------------------------------------------------------------------


def _encode_dbr(cls: type[Command], data: Any, metadata: Any, data_type: int,
                data_count: Any = None) -> tuple[int, int, bytes]:
    """Encode a DBR payload; return (data_type, element count, padded payload).

    ``data_count`` None means "as many as ``data`` holds"; any other value must be that
    number: the receiver reads exactly ``data_count`` elements, so a larger one makes a
    message too short for its header and a smaller one silently drops values.
    (Zero-filling a short read, as RSRV does, is for the server to do in ``data``.)
    """
    data_type = int(data_type)
    if not 0 <= data_type <= MAX_DBR_TYPE:
        raise LocalProtocolError(f"invalid DBR type {data_type}")
    row = DBR_TYPES[data_type]
    if isinstance(metadata, Mapping):
        metadata = DBRMetadata(**metadata)
    try:
        raw, count = encode_values(row, data)
    except (TypeError, ValueError, OverflowError) as exc:
        raise LocalProtocolError(f"cannot encode {type(data).__name__} as "
                                 f"DBR_{row.name}: {exc}") from None
    if row.id == 0 and count == 1 and cls.ID in (4, 19):
        # libca sends a single DBR_STRING put as strlen+1, padded (not 40 bytes).
        raw = raw[:raw.index(b"\0") + 1]
    if data_count is not None and int(data_count) != count:
        raise LocalProtocolError(f"{cls.__name__}: data_count {int(data_count)} but the "
                                 f"data holds {count} DBR_{row.name} element"
                                 f"{'' if count == 1 else 's'}")
    body = encode_metadata(row, metadata) + raw
    return data_type, count, body + b"\0" * (-len(body) & 7)


def _decode_dbr(cmd: Any) -> Any:
    """Decode ``cmd``'s payload into its cache (``_metadata``, ``_data``); the data."""
    payload = cmd[-1]
    count = cmd.data_count
    cache = cmd.__dict__
    if count == 1:
        fast = SCALAR_DECODERS[cmd.data_type]
        if fast is not None:
            cache["_metadata"], data = fast(payload)    # (None: a plain type)
            cache["_data"] = data
            return data
    row = DBR_TYPES[cmd.data_type]
    if row.typecode is None and count and len(payload) < row.value_offset + count * 40:
        # a short single string (as libca writes it)
        payload = bytes(payload).ljust(row.value_offset + count * 40, b"\0")
    if "_metadata" not in cache:
        cache["_metadata"] = decode_metadata(row, payload)
    data = cache["_data"] = decode_values(row, payload, count)
    return data


def _dbr_data(self: Any) -> Any:
    """The values: ``array.array`` for numbers, a list of bytes for strings."""
    data = self.__dict__.get("_data")
    return _decode_dbr(self) if data is None else data


def _dbr_metadata(self: Any) -> DBRMetadata:
    """Status, severity, timestamp, units, limits ... as the DBR type carries them."""
    cache = self.__dict__
    metadata = cache.get("_metadata")
    if metadata is None:
        if "_data" not in cache and self.data_count == 1:   # (one struct call for both)
            _decode_dbr(self)
            metadata = cache.get("_metadata")
        if metadata is None:
            metadata = cache["_metadata"] = decode_metadata(DBR_TYPES[self.data_type],
                                                            self[-1])
    return metadata


def _dbr_size_error(data_type: int, count: int, payload: bytes,
                    error: type[Exception] = RemoteProtocolError) -> None:
    """Raise ``error`` unless ``payload`` holds ``count`` elements of ``data_type`` (a
    single string may be cut short after its NUL, as libca writes it)."""
    if not 0 <= data_type <= MAX_DBR_TYPE:
        raise error(f"invalid DBR type {data_type}")
    row = DBR_TYPES[data_type]
    need = row.value_offset + count * row.elem_size
    if len(payload) < need and not (row.typecode is None and count == 1
                                    and len(payload) >= row.value_offset + 1):
        raise error(f"DBR_{row.name} x{count} needs {need} payload bytes, "
                    f"message has {len(payload)}")


def check_dbr_size(command: Any) -> None:
    """LocalProtocolError unless a DBR-carrying command we send holds the elements its
    header announces (what its receiver checks)."""
    _dbr_size_error(command.data_type, command.data_count, command[-1], LocalProtocolError)


#: (value offset, element size) per DBR type, for the inline size check of decoders.
_DBR_SIZES = tuple((row.value_offset, row.elem_size) for row in DBR_TYPES)


# ---------------------------------------------------------------------------
# Class construction from the table
# ---------------------------------------------------------------------------


#: What the generated functions of ``_codecs`` refer to (they run in its namespace).
vars(_codecs).update({
    "_tnew": _tnew, "ip_to_int": ip_to_int, "int_to_ip": int_to_ip,
    "_name_bytes": _name_bytes, "_name_str": _name_str, "_encode_dbr": _encode_dbr,
    "_MON": _MON_INFO, "_SV": _SEARCH_VERSION, "_SIZES": _DBR_SIZES,
    "_size_error": _dbr_size_error, "_UNSET": getattr(_codecs, "_UNSET", object()),
    "Remote": RemoteProtocolError,
    "Local": LocalProtocolError, "DBRMetadata": DBRMetadata, "Mapping": Mapping,
    "_pad": lambda b: b + b"\0" * (-len(b) & 7),
    "_NULS": NUL_PADS, "_frame_at": frame_at})


def _make_class(row: Row) -> type[Command]:
    """The class of one table row, with its generated constructor and codecs."""
    field_names = [name for name, _ in row.fields]
    items = [n for n in field_names if n not in ("data", "metadata")]
    index = {name: i for i, name in enumerate(items)}
    ns: dict[str, Any] = {"ID": row.command, "SENDER": row.sender,
                          "TRANSPORTS": frozenset(row.transports.split()),
                          "ROW": row, "_FIELDS": tuple(items), "__module__": __name__}
    ns["__doc__"] = (f"{row.name}: {row.doc}\n\nCode {row.command}, sent by the "
                     f"{row.sender.value.lower()} over {row.transports.replace(' ', '/')}.\n"
                     f"Fields: {', '.join(field_names) or '(none)'}.")
    for name, i in index.items():
        ns[name] = _tuplegetter(i, f"The {name} field.")

    if row.payload == "dbr":
        ns["data"] = property(_dbr_data)
        ns["metadata"] = property(_dbr_metadata)
        ns["count"] = _tuplegetter(index["data_count"], "Alias of data_count.")
    if row.payload == "error":
        ns["original_header"] = property(
            lambda self: quoted_header(self.original_request),
            doc="The failed request's header, decoded (never raises: see quoted_header).")
    if row.name == "SearchResponse":
        ns["address"] = property(_search_response_address)

    ns["__new__"] = staticmethod(_codec(row, "__new__"))
    ns["_header_fields"] = _codec(row, "_header_fields")
    ns["_from_wire"] = classmethod(_codec(row, "_from_wire"))
    return type(row.name, (Command,), ns)


def _codec(row: Row, which: str) -> Any:
    """One of a row's generated functions: from ``_codecs`` (written by ``_codegen``
    from this table, checked by a test), or compiled now if that file lacks it."""
    function = getattr(_codecs, row.name + which, None)
    if function is None:  # a row added since _codecs.py was generated
        from ._codegen import row_source
        source = row_source(row)[_CODEC_INDEX[which]]
        exec(compile(source, f"<catools command {row.name}>", "exec"),  # noqa: S102
             vars(_codecs))
        function = getattr(_codecs, row.name + which)
    return function


_CODEC_INDEX = {"__new__": 0, "_header_fields": 1, "_from_wire": 2}


def _error_header(original: Any) -> bytes:
    """The header bytes of a failed request given as a Command, bytes or Header."""
    if isinstance(original, Command):
        raw = bytes(original)
    elif isinstance(original, tuple):
        raw = pack_header(*original[:6])
    else:
        raw = bytes(original)
    frame = frame_at(raw)
    if frame is None:
        raise LocalProtocolError("original_request must be a command or a message header")
    return raw[:frame[6]]


vars(_codecs)["_error_header"] = _error_header


def _search_response_address(self: Any) -> tuple[str, int] | None:
    """(host, port) of the server: ``ip`` unless it is the 'use the sender' marker."""
    if self.ip != "255.255.255.255":
        return (self.ip, self.port)
    sender = self.__dict__.get("_sender")
    return (sender[0], self.port) if sender else None


_CLASSES = {row.name: _make_class(row) for row in COMMAND_TABLE}
if TYPE_CHECKING:   # the classes as type checkers see them (generated from the table)
    from ._classes import (  # noqa: F401
                           AccessRightsResponse, Beacon, ClearChannelRequest,
                           ClearChannelResponse, ClientNameRequest, CreateChFailResponse,
                           CreateChanRequest, CreateChanResponse, EchoRequest, EchoResponse,
                           ErrorResponse, EventAddRequest, EventAddResponse,
                           EventCancelRequest, EventCancelResponse, EventsOffRequest,
                           EventsOnRequest, HostNameRequest, NotFoundResponse,
                           ReadNotifyRequest, ReadNotifyResponse, ReadRequest, ReadResponse,
                           ReadSyncRequest, RepeaterConfirmResponse, RepeaterRegisterRequest,
                           SearchRequest, SearchResponse, ServerDisconnResponse,
                           VersionRequest, VersionResponse, WriteNotifyRequest,
                           WriteNotifyResponse, WriteRequest)
else:
    globals().update(_CLASSES)

ALL_COMMANDS: tuple[type[Command], ...] = tuple(_CLASSES.values())

#: ``REGISTRY[sender][code]`` -> class (code 1 from a server is an EventAddResponse;
#: a payload-less one is taken as an EventCancelResponse by ``decode_command``).
REGISTRY: dict[Role, dict[int, type[Command]]] = {CLIENT: {}, SERVER: {}}
for _cls in ALL_COMMANDS:
    if _cls is EventCancelResponse:
        continue
    REGISTRY[_cls.SENDER][_cls.ID] = _cls


def decode_command(sender: Role, command: int, dtype: int, count: int, p1: int, p2: int,
                   payload: bytes) -> Command:
    """Build the command a ``sender`` meant by these header fields and payload."""
    cls = REGISTRY[sender].get(command)
    if cls is None:
        raise RemoteProtocolError(f"unknown command code {command} from the "
                                  f"{sender.value.lower()}")
    if cls is EventAddResponse and not payload:
        cls = EventCancelResponse
    return cls._from_wire(dtype, count, p1, p2, payload)  # type: ignore[attr-defined]


def read_datagram(data: bytes, sender: Role) -> list[Command]:
    """Decode every command of one UDP datagram (a zero-length one to a repeater is a
    registration)."""
    if not data:
        return [RepeaterRegisterRequest()] if sender is CLIENT else []
    if data.__class__ is not bytes:
        data = bytes(data)
    registry = REGISTRY[sender]
    commands: list[Command] = []
    append = commands.append
    pos = 0
    end = len(data)
    while pos < end:
        frame = frame_at(data, pos)
        if frame is None:
            raise RemoteProtocolError(f"truncated header at byte {pos} of a datagram")
        cmd, psize, dtype, count, p1, p2, start, stop = frame
        if stop > end:
            raise RemoteProtocolError(f"datagram truncated: message at byte {pos} "
                                      f"announces {psize} payload bytes")
        cls = registry.get(cmd)
        if cls is None:
            raise RemoteProtocolError(f"unknown command code {cmd} from the "
                                      f"{sender.value.lower()}")
        if cls is EventAddResponse and not psize:
            cls = EventCancelResponse
        append(cls._from_wire(dtype, count, p1, p2, data[start:stop]))  # type: ignore
        pos = stop
    return commands


def command_table_markdown() -> str:
    """The command table rendered as Markdown (for docs/commands.md)."""
    lines = ["| code | command | sender | transport | data_type | data_count | parameter1 "
             "| parameter2 | payload |", "|---:|---|---|---|---|---|---|---|---|"]
    for row in COMMAND_TABLE:
        cells = [str(h) if isinstance(h, int) else h.replace("ip:", "") + " (IPv4)"
                 if h.startswith("ip:") else h for h in row.header]
        lines.append(f"| {row.command} | {row.name} | {row.sender.value.lower()} | "
                     f"{row.transports.replace(' ', ', ')} | " + " | ".join(cells)
                     + f" | {row.payload or '-'} |")
    return "\n".join(lines) + "\n"


__all__ = ["Command", "COMMAND_TABLE", "ALL_COMMANDS", "REGISTRY", "decode_command",
           "read_datagram", "ip_to_int", "int_to_ip", *_CLASSES]
