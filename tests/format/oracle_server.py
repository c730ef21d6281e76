"""Serve the PVs of ``oracle_pvs.SPECS`` with caproto (test-only oracle server).

Run with the loopback environment and a free EPICS_CA_SERVER_PORT.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from caproto import ChannelAlarm, ChannelChar, ChannelDouble, ChannelEnum  # noqa: E402
from caproto import ChannelFloat, ChannelInteger, ChannelShort, ChannelString  # noqa: E402
from caproto.asyncio.server import run  # noqa: E402

from oracle_pvs import SPECS, spec_ts  # noqa: E402

_CLASSES = {"double": ChannelDouble, "float": ChannelFloat, "long": ChannelInteger,
            "short": ChannelShort}
_META = ("units", "precision", "lower_disp_limit", "upper_disp_limit", "lower_alarm_limit",
         "lower_warning_limit", "upper_warning_limit", "upper_alarm_limit",
         "lower_ctrl_limit", "upper_ctrl_limit")


def build() -> dict:
    db = {}
    for name, spec in SPECS.items():
        alarm = ChannelAlarm(status=spec.get("status", 0), severity=spec.get("severity", 0))
        common = dict(value=spec["value"], timestamp=spec_ts(name), alarm=alarm)
        kind = spec["kind"]
        if kind == "enum":
            db[name] = ChannelEnum(enum_strings=spec["strs"], **common)
        elif kind == "string":
            db[name] = ChannelString(**common)
        elif kind == "char":
            common["value"] = bytes(spec["value"]).decode("latin-1")
            db[name] = ChannelChar(max_length=len(spec["value"]), **common)
        else:
            meta = {k: spec[k] for k in _META if k in spec}
            db[name] = _CLASSES[kind](**common, **meta)
    return db


if __name__ == "__main__":
    run(build(), interfaces=["127.0.0.1"])
