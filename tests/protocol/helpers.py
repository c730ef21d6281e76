"""A client core and a server core joined in memory (no sockets)."""
from __future__ import annotations

from typing import Any

import catools
from catools import CLIENT, NEED_DATA, SERVER, VirtualCircuit


def drain(circuit: VirtualCircuit) -> list[Any]:
    """Every command buffered in ``circuit`` (stops at NEED_DATA or DISCONNECTED)."""
    out = []
    while True:
        command = circuit.next_command()
        if command is NEED_DATA:
            return out
        out.append(command)
        if command is catools.DISCONNECTED:
            return out


class CircuitPair:
    """``client`` and ``server`` VirtualCircuits whose bytes go straight to each other."""

    def __init__(self, priority: int = 0, **kwargs: Any) -> None:
        self.client = VirtualCircuit(CLIENT, ("127.0.0.1", 5064), priority, **kwargs)
        self.server = VirtualCircuit(SERVER, ("127.0.0.1", 40000), priority, **kwargs)

    def client_sends(self, *commands: Any) -> list[Any]:
        """Encode with the client, feed the server; return what the server parsed."""
        self.server.recv(self.client.send(*commands))
        return drain(self.server)

    def server_sends(self, *commands: Any) -> list[Any]:
        """Encode with the server, feed the client; return what the client parsed."""
        self.client.recv(self.server.send(*commands))
        return drain(self.client)

    def handshake(self, version: int = 13) -> None:
        """VERSION both ways."""
        self.client_sends(catools.VersionRequest(priority=self.client.priority,
                                                 version=version))
        self.server_sends(catools.VersionResponse(version=version))

    def connect_channel(self, name: str = "PV", native_type: int = 6, count: int = 1,
                        sid: int = 100) -> tuple[catools.ClientChannel, Any]:
        """Create a channel on both ends; return (client channel, server channel)."""
        chan = catools.ClientChannel(self.client, name)
        (request,) = self.client_sends(chan.create())
        server_chan = self.server.channels[request.cid]
        self.server_sends(*server_chan.create(native_type, count, sid))
        return chan, server_chan
