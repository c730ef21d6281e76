"""Helpers shared by the server tests (a uniquely named module, unlike conftest)."""
from __future__ import annotations

import epics_env

from catools.config import ServerConfig


def loopback_config(env: epics_env.CaEnv, **changes: object) -> ServerConfig:
    """The loopback settings of tests/../shared/loopback.env for this port pair."""
    fields = dict(port=env.port, intf_addr_list=["127.0.0.1"],
                  beacon_addr_list=[("127.0.0.1", env.repeater_port)],
                  auto_beacon_addr_list=False, beacon_port=env.repeater_port)
    fields.update(changes)
    return ServerConfig(**fields)  # type: ignore[arg-type]
