"""The server's UDP side: answers to searches (and echoes) for the PVs it serves, and
beacons, sent ever less often up to EPICS_CAS_BEACON_PERIOD."""
from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, Callable

from ..protocol import (DEFAULT_PROTOCOL_VERSION, NEED_DATA, SERVER, Beacon, Broadcaster,
                        EchoRequest, EchoResponse, RemoteProtocolError, SearchRequest,
                        SearchResponse, VersionRequest, VersionResponse)
from ..netinfo import interface_broadcasts

if TYPE_CHECKING:
    from ._server import Server

_MINOR = DEFAULT_PROTOCOL_VERSION
_BEACON_FIRST_GAP = 0.02
#: The first client minor version whose searches we answer, and the first that is
#: told our version (with the sequence id of its search) first.
_SEARCH_MIN_VERSION, _VERSION_REPLY_MIN = 4, 11


class UdpService:
    """The server's UDP sockets (``sockets``, bound by the server): ``on_readable``
    answers what arrived, ``send_beacon`` sends one beacon and schedules the next."""

    def __init__(self, server: "Server",
                 schedule: Callable[[float, Callable[[], Any]], None]) -> None:
        self.server = server
        self.sockets: list[socket.socket] = []
        self._schedule = schedule
        self._beacon_id = 0
        self._beacon_gap = _BEACON_FIRST_GAP
        self._beacon_targets: list[tuple[str, int]] = []
        self._broadcaster = Broadcaster(SERVER)

    def find_beacon_targets(self) -> None:
        """EPICS_CAS_BEACON_ADDR_LIST, and (when automatic) the interfaces' broadcast
        addresses, to which the sockets may then send."""
        config = self.server.config
        targets = list(config.beacon_addr_list)
        if config.auto_beacon_addr_list:
            for host in interface_broadcasts(config.intf_addr_list):
                if (host, config.beacon_port) not in targets:
                    targets.append((host, config.beacon_port))
            for udp in self.sockets:
                udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self._beacon_targets = targets

    def send_beacon(self) -> None:
        if self.sockets and self._beacon_targets:
            raw = bytes(Beacon(version=_MINOR, server_port=self.server.port or 0,
                               beacon_id=self._beacon_id, address="0.0.0.0"))
            for target in self._beacon_targets:
                try:
                    self.sockets[0].sendto(raw, target)
                except OSError:
                    pass
        self._beacon_id = (self._beacon_id + 1) & 0xFFFFFFFF
        gap = self._beacon_gap
        self._beacon_gap = min(gap * 2, self.server.config.beacon_period)
        self._schedule(gap, self.send_beacon)

    def on_readable(self, _events: int) -> None:
        ignored = self.server.config.ignore_addr_list
        for udp in self.sockets:
            while True:
                try:
                    data, address = udp.recvfrom(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # e.g. ICMP port unreachable reported late
                    continue
                if address[0] in ignored:
                    continue
                reply = self.answer(data, address)
                if reply:
                    try:
                        udp.sendto(reply, address)
                    except OSError:
                        pass

    def answer(self, data: bytes, address: Any) -> bytes:
        """Replies to one UDP datagram (b'' when there is nothing to say)."""
        caster = self._broadcaster
        caster.recv(data, address)
        commands = []
        while True:
            try:
                command = caster.next_command()
            except RemoteProtocolError:
                return b""
            if command is NEED_DATA:
                break
            commands.append(command)
        if not commands or not isinstance(commands[0], VersionRequest) \
                or commands[0].version < _SEARCH_MIN_VERSION:
            return b""
        version = commands[0]
        pvs, port = self.server.pvs, self.server.port or 0
        replies: list[Any] = []
        for command in commands[1:]:
            if isinstance(command, SearchRequest) and command.name in pvs:
                replies.append(SearchResponse(port=port, ip="255.255.255.255",
                                              cid=command.cid, version=_MINOR))
            elif isinstance(command, EchoRequest):
                replies.append(EchoResponse())
        if not replies:
            return b""
        if version.version >= _VERSION_REPLY_MIN:
            replies.insert(0, VersionResponse(version=_MINOR, flags=1,
                                              sequence_id=version.sequence_id))
        return caster.send(*replies)


__all__ = ["UdpService"]
