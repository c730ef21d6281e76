"""camonitor's sink keeps no per-PV state for the usual output but the element count of
a PV's last update where it is not the native count: its lines, the disconnected ones'
name padding included, are those of a MonitorChannel kept per PV."""
from __future__ import annotations

import re

import pytest

from catools.cli._output import EpicsText
from catools.format import FormatOptions, MonitorChannel, MonitorFormatter
from catools.protocol import DBRMetadata, EventAddResponse

TIME_DOUBLE = 20
CLIENT_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


class _PV:
    def __init__(self, name: str, native_count: int) -> None:
        self.name, self.native_type, self.native_count = name, 6, native_count


def _update(count: int) -> EventAddResponse:
    return EventAddResponse(data=[1.5] * count, metadata=DBRMetadata(0, 0, (1_000_000, 7)),
                            data_type=TIME_DOUBLE, data_count=count, subscriptionid=1)


def _reference(opts: FormatOptions, events: list) -> list[str]:
    fmt, chans, out = MonitorFormatter(opts), {}, []
    for kind, pv, count in events:
        chan = chans.setdefault(pv.name, MonitorChannel())
        if kind == "connected":
            chan.count = pv.native_count
        elif kind == "update":
            out.append(fmt.update(pv.name, _update(count), chan))
        else:
            out.append(fmt.disconnected(pv.name, chan))
    return out


@pytest.mark.parametrize("native", [1, 5])
@pytest.mark.parametrize("ts", ["absolute", "incremental_by_channel"])
def test_disconnected_lines_pad_the_name_by_the_last_count(native, ts):
    opts = FormatOptions(mode="wide", ts_type=ts)
    pv, other = _PV("ARRAY:PV", native), _PV("SCALAR", 1)
    events = [("connected", pv, 0), ("connected", other, 0), ("disconnected", pv, 0),
              ("connected", pv, 0), ("update", pv, 3), ("update", other, 1),
              ("disconnected", pv, 0), ("disconnected", other, 0), ("connected", pv, 0),
              ("disconnected", pv, 0), ("connected", pv, 0), ("update", pv, 1),
              ("disconnected", pv, 0), ("connected", pv, 0), ("update", pv, native),
              ("disconnected", pv, 0)]
    sink = EpicsText(None)
    handler = sink.events(opts, None)
    for kind, which, count in events:
        handler(which.name, kind, _update(count) if kind == "update" else None, which)
    got = [CLIENT_TIME.sub("T", line) for line in sink.pending]
    assert got == [CLIENT_TIME.sub("T", line) for line in _reference(opts, events)]
