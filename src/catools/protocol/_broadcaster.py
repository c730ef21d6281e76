"""Broadcaster: UDP datagrams <-> commands (search, beacons, repeater)."""
from __future__ import annotations

from collections import deque
from typing import Any

from ._commands import Command, SearchRequest, SearchResponse, VersionRequest, read_datagram
from ._constants import DEFAULT_PROTOCOL_VERSION, MAX_UDP_SEND
from ._errors import LocalProtocolError, RemoteProtocolError
from ._roles import NEED_DATA, SERVER, Role

_U32 = 1 << 32


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
        while True:
            self._next_search_id = (self._next_search_id + 1) % _U32
            if self._next_search_id not in self.unanswered_searches:
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

    def next_command(self) -> Any:
        """The next command received, or ``NEED_DATA``."""
        while not self._ready:
            if not self._datagrams:
                return NEED_DATA
            data, address = self._datagrams.popleft()
            commands = read_datagram(data, self.their_role)
            if self.our_role is SERVER and commands and any(
                    isinstance(c, SearchRequest) for c in commands) and \
                    not isinstance(commands[0], VersionRequest):
                raise RemoteProtocolError("search datagram does not start with a "
                                          "VersionRequest")
            for command in commands:
                command.__dict__["_sender"] = address
            self._ready.extend(commands)
        command = self._ready.popleft()
        if isinstance(command, SearchResponse):
            self.unanswered_searches.pop(command.cid, None)
        return command

    def __repr__(self) -> str:
        return f"<Broadcaster our_role={self.our_role.value}>"
