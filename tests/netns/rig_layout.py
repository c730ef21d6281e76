"""The rig of issue 11: five softIocs on three hosts, and a client host.

Topology (built once per test session by the ``rig`` fixture of conftest.py)::

    switch ns: bridge br0
    h1 198.18.0.1   IOC A (RIGA:*, RIG:dup = 1.5, TCP 5064)   IOC B (RIGB:*, TCP ephemeral)
    h2 198.18.0.2   IOC C (RIGC:*, RIG:dup = 3.5, TCP 5064)   IOC D (RIGD:*, TCP ephemeral)
    h3 198.18.0.3   IOC E (RIGE:*, TCP 5064)
    cl 198.18.0.10  the clients (ours and EPICS base's)

Every namespace runs a C caRepeater on 5065. IOCs sharing a host share UDP port 5064;
the second one on a host gets an ephemeral TCP port (as on a real host).
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from netns_rig import BROADCAST, SERVER_PORT, Host, Ioc, Monitor, Rig, client_env

HERE = Path(__file__).resolve().parent
RIG_DB = HERE / "rig.db"
DUP_DB = HERE / "dup.db"

#: The client setups of the issue.
SETUPS = ("broadcast", "addr_list", "name_servers")
#: The IOCs given as EPICS_CA_NAME_SERVERS in the "name_servers" setup (3 hosts).
NAME_SERVER_IOCS = ("A", "C", "E")


def probe_pv(ioc: Ioc) -> str:
    """The record searched for to know ``ioc`` is up."""
    return f"{ioc.macros['P']}ai"


@dataclass
class RigSetup:
    """The built rig: its client host and IOCs by name (A-E)."""

    rig: Rig
    client: Host
    iocs: dict[str, Ioc]

    def env(self, setup: str) -> dict[str, str]:
        """Client environment of one of :data:`SETUPS`."""
        if setup == "broadcast":
            return client_env(auto=True)
        if setup == "addr_list":
            return client_env(auto=False, addr_list=BROADCAST)
        if setup == "name_servers":
            servers = " ".join(f"{self.iocs[n].host.addr}:{SERVER_PORT}"
                               for n in NAME_SERVER_IOCS)
            return client_env(auto=False, name_servers=servers)
        raise ValueError(setup)

    def start(self, ioc: Ioc) -> float:
        """(Re)start ``ioc``; the monotonic time it first answered a search."""
        return self.rig.start_ioc(ioc, self.client, probe_pv(ioc))

    def tcp_port(self, ioc: Ioc) -> int:
        """The TCP port ``ioc`` names in its search replies."""
        return self.rig.search(self.client, probe_pv(ioc), 5.0)[1]

    def run(self, argv: list[str], setup: str, timeout: float = 30.0
            ) -> subprocess.CompletedProcess:
        """Run a client in the client host with the setup's environment."""
        return self.rig.run(self.client, argv, self.env(setup), timeout)

    def monitor(self, argv: list[str], setup: str) -> Monitor:
        """Start a long-running client (camonitor) in the client host."""
        return self.rig.monitor(self.client, argv, self.env(setup))


def build(rig: Rig) -> RigSetup:
    """Add the hosts, repeaters and IOCs of the layout to ``rig`` and start them."""
    h1, h2, h3 = rig.add_host("h1", 1), rig.add_host("h2", 2), rig.add_host("h3", 3)
    client = rig.add_host("cl", 10)
    for host in (h1, h2, h3, client):
        rig.start_repeater(host)
    layout = [(h1, "A", 1.5, True), (h1, "B", 2.5, False), (h2, "C", 3.5, True),
              (h2, "D", 4.5, False), (h3, "E", 5.5, False)]
    iocs = {}
    for n, (host, name, value, dup) in enumerate(layout, 1):
        dbs = [RIG_DB, DUP_DB] if dup else [RIG_DB]
        iocs[name] = rig.add_ioc(host, name, dbs, {"P": f"RIG{name}:", "V": str(value),
                                                    "N": str(n)})
    setup = RigSetup(rig, client, iocs)
    for ioc in iocs.values():       # in order: A and C get TCP 5064 on their host
        setup.start(ioc)
    return setup
