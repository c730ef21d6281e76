"""Broadcaster: UDP datagrams <-> commands (search, beacons, repeater)."""
from __future__ import annotations

import struct
from collections import deque

from ..hints import TYPE_CHECKING
from ._commands import (Command, SearchRequest, SearchResponse, VersionRequest,
                        VersionResponse, read_datagram)
from ._constants import DEFAULT_PROTOCOL_VERSION, DONT_REPLY, MAX_UDP_SEND
from ._headers import (encode_names, name_payload_size, named_packer, next_free_id, pack_named,
                       padded)
from ._errors import LocalProtocolError, RemoteProtocolError
from ._roles import NEED_DATA, SERVER, Role

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterable, Sequence



def search_datagrams(requests: Iterable[tuple[int, str]], sequence: int,
                     limit: int = MAX_UDP_SEND, max_datagrams: int | None = None,
                     version: int = DEFAULT_PROTOCOL_VERSION
                     ) -> list[tuple[bytes, list[int]]]:
    """:func:`pack_searches` of ``(search id, name)`` pairs."""
    pairs = list(requests)
    return pack_searches([search_id for search_id, _ in pairs], [name for _, name in pairs],
                         sequence, limit, max_datagrams, version)


def pack_searches(ids: Sequence[int], names: Sequence[str], sequence: int,
                  limit: int = MAX_UDP_SEND, max_datagrams: int | None = None,
                  version: int = DEFAULT_PROTOCOL_VERSION) -> list[tuple[bytes, list[int]]]:
    """Pack the SEARCH of each name (under the search id at the same place of ``ids``)
    into datagrams of at most ``limit`` bytes, each a VersionRequest (priority 1, its
    sequence number) and then SearchRequests, as libca batches them.

    Returns ``[(datagram, [search ids...]), ...]``; sequence numbers count up from
    ``sequence``. With ``max_datagrams``, stops once that many are full: their ids say
    how many requests went in. Encodes what ``SearchRequest(name, cid)`` encodes,
    without building the command objects (a many-PV search sends thousands).
    """
    raws = encode_names(names)
    if raws is None:
        bad = next(name for name in names if "\0" in name)
        raise LocalProtocolError(f"PV name {bad!r} contains a NUL byte")
    if not raws:
        return []
    size = name_payload_size(raws)
    if size is not None:
        return _uniform_datagrams(ids, raws, size, sequence, limit, max_datagrams, version)
    out: list[tuple[bytes, list[int]]] = []
    parts: list[bytes] = []
    taken: list[int] = []
    used = limit + 1
    seq = sequence - 1
    code = SearchRequest.ID
    for search_id, raw in zip(ids, raws):
        n = padded(len(raw) + 1)
        if used + n + 16 > limit:
            if taken:
                out.append((b"".join(parts), taken))
                if max_datagrams is not None and len(out) >= max_datagrams:
                    return out
            seq += 1
            parts = [bytes(VersionRequest(priority=1, version=version, sequence_id=seq))]
            taken = []
            used = 16
        parts.append(named_packer(n)(code, n, DONT_REPLY, version, search_id, search_id, raw))
        taken.append(search_id)
        used += n + 16
    if taken:
        out.append((b"".join(parts), taken))
    return out


def _uniform_datagrams(ids: Sequence[int], raws: list[bytes], n: int, sequence: int,
                       limit: int, max_datagrams: int | None, version: int
                       ) -> list[tuple[bytes, list[int]]]:
    """:func:`pack_searches` of names that all pad to ``n`` bytes: as many to a
    datagram as fit (one if none does), each datagram's requests packed in a C loop."""
    per = max((limit - 16) // (16 + n), 1)
    code = SearchRequest.ID
    out: list[tuple[bytes, list[int]]] = []
    seq = sequence - 1
    for start in range(0, len(raws), per):
        if max_datagrams is not None and len(out) >= max_datagrams:
            break
        taken = list(ids[start:start + per])
        seq += 1
        head = bytes(VersionRequest(priority=1, version=version, sequence_id=seq))
        out.append((head + pack_named(code, n, DONT_REPLY, version, taken, taken,
                                      raws[start:start + per]), taken))
    return out


#: A SearchResponse with its 8-byte payload, as ``(port, ip, cid, version)``.
_SEARCH_REPLY = struct.Struct(">4xH2xIIH6x")
_REPLY_CODE = SearchResponse.ID.to_bytes(2, "big") + (8).to_bytes(2, "big")
_VERSION_CODE = VersionResponse.ID.to_bytes(2, "big") + bytes(2)


def search_replies(datagram: bytes) -> list[tuple[int, int, int, int]] | None:
    """``[(port, ip, cid, version), ...]``: the SearchResponses of a datagram that holds
    nothing else (after an optional VersionResponse), as servers answer searches,
    decoded in one struct pass; ``ip`` is packed (0xFFFFFFFF: the sender's address).
    None for any other datagram: a Broadcaster decodes those. What ``read_datagram``
    gives for such a datagram, without a command object per reply (a many-PV search
    gets thousands)."""
    start = 16 if datagram[:4] == _VERSION_CODE else 0
    n, rest = divmod(len(datagram) - start, _SEARCH_REPLY.size)
    if rest:
        return None
    size = _SEARCH_REPLY.size
    for i in range(4):      # command code and payload size of every message, in C
        if datagram[start + i::size] != _REPLY_CODE[i:i + 1] * n:
            return None
    return list(_SEARCH_REPLY.iter_unpack(memoryview(datagram)[start:]))


class Broadcaster:
    """The UDP side of either role.

    ``send(*commands) -> bytes`` makes one datagram; ``recv(datagram, address)`` queues
    one; ``next_command()`` returns its commands one at a time (each with
    ``sender_address``), then ``NEED_DATA``. A malformed datagram raises
    ``RemoteProtocolError`` and the rest of that datagram is dropped; UDP has no
    connection to break, so the broadcaster stays usable.
    """

    def __init__(self, our_role: Role, protocol_version: int = DEFAULT_PROTOCOL_VERSION,
                 max_datagram_size: int = MAX_UDP_SEND) -> None:
        self.our_role = our_role
        self.their_role = our_role.peer
        self.protocol_version = protocol_version
        self.max_datagram_size = max_datagram_size
        #: search id -> name, for searches sent and not answered yet (client role)
        self.unanswered_searches: dict[int, str] = {}
        self._datagrams: deque[tuple[bytes, Any]] = deque()
        self._ready: deque[Command] = deque()
        self._next_search_id = 0

    def new_search_id(self) -> int:
        """A search id not awaiting an answer."""
        self._next_search_id = next_free_id(self._next_search_id, self.unanswered_searches)
        return self._next_search_id

    def send(self, *commands: Command) -> bytes:
        """Check and encode commands into one datagram."""
        versioned = False
        for command in commands:
            if command.SENDER is not self.our_role and not (
                    self.our_role is SERVER and command.ID == 17):
                raise LocalProtocolError(f"a {self.our_role.value.lower()} cannot send "
                                         f"{type(command).__name__}")
            if "udp" not in command.TRANSPORTS:
                raise LocalProtocolError(f"{type(command).__name__} is not sent over UDP")
            if isinstance(command, VersionRequest):
                versioned = True
            elif isinstance(command, SearchRequest) and not versioned:
                raise LocalProtocolError("a SearchRequest must follow a VersionRequest in "
                                         "the same datagram")
        for command in commands:
            if isinstance(command, SearchRequest):
                self.unanswered_searches[command.cid] = command.name
        return b"".join(bytes(command) for command in commands)

    def recv(self, data: bytes, address: Any = None) -> None:
        """Queue one received datagram and where it came from."""
        self._datagrams.append((bytes(data), address))

    def next_commands(self) -> list[Command]:
        """The commands of the next queued datagram (``[]`` when none is queued), with
        the same checks as :meth:`next_command`; a malformed datagram raises
        ``RemoteProtocolError`` and is dropped. Commands already split off by
        ``next_command`` come first."""
        if self._ready:
            commands = list(self._ready)
            self._ready.clear()
        elif not self._datagrams:
            return []
        else:
            data, address = self._datagrams.popleft()
            commands = self._decode(data, address)
        unanswered = self.unanswered_searches
        if unanswered:
            for command in commands:
                if command.__class__ is SearchResponse:
                    unanswered.pop(command.cid, None)
        return commands

    def _decode(self, data: bytes, address: Any) -> list[Command]:
        commands = read_datagram(data, self.their_role)
        if self.our_role is SERVER and commands and any(
                isinstance(c, SearchRequest) for c in commands) and \
                not isinstance(commands[0], VersionRequest):
            raise RemoteProtocolError("search datagram does not start with a "
                                      "VersionRequest")
        for command in commands:
            command.__dict__["_sender"] = address
        return commands

    def next_command(self) -> Any:
        """The next command received, or ``NEED_DATA``."""
        while not self._ready:
            if not self._datagrams:
                return NEED_DATA
            data, address = self._datagrams.popleft()
            self._ready.extend(self._decode(data, address))
        command = self._ready.popleft()
        if isinstance(command, SearchResponse):
            self.unanswered_searches.pop(command.cid, None)
        return command

    def __repr__(self) -> str:
        return f"<Broadcaster our_role={self.our_role.value}>"
