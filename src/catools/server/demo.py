"""The ``catools serve --demo`` PVs: a small, lively set to try the tools against."""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from ._pvdb import PV

if TYPE_CHECKING:
    from ._server import Server

SINE_PERIOD = 10.0      # seconds per sine cycle (crosses its alarm limits each cycle)
SINE_RATE = 10.0        # updates per second
WAVEFORM_LENGTH = 1000
MODES = ("Off", "On", "Standby", "Fault")


def demo_pvs(prefix: str = "demo:") -> list[PV]:
    """The eight demo PVs, named ``prefix + name``."""
    p = prefix
    return [
        PV(p + "sine", "double", 0.0, units="V", precision=3,
           display_limits=(-10, 10), control_limits=(-10, 10),
           alarm_limits=(-9, 9), warning_limits=(-7, 7),
           alarm_severity="MAJOR", warning_severity="MINOR", read_only=True,
           class_name="ai"),
        PV(p + "counter", "long", 0, units="counts", display_limits=(0, 1000000),
           class_name="longout"),
        PV(p + "setpoint", "double", 5.0, units="mA", precision=2,
           display_limits=(0, 10), control_limits=(0, 10), clamp=True, class_name="ao"),
        PV(p + "mode", "enum", 0, enum_strings=MODES, class_name="mbbo"),
        PV(p + "message", "string", "Hello, Channel Access", class_name="stringout"),
        PV(p + "long_message", "char",
           "A char array holds text longer than 40 characters: read it with caget -S.",
           count=256, class_name="waveform"),
        PV(p + "waveform", "double", _wave(0.0), count=WAVEFORM_LENGTH, units="V",
           precision=3, display_limits=(-1, 1), class_name="waveform"),
        PV(p + "readonly", "double", 3.14159, units="rad", precision=4,
           read_only=True, class_name="ai"),
    ]


def _wave(phase: float) -> list[float]:
    step = 2 * math.pi / WAVEFORM_LENGTH
    return [math.sin(i * step + phase) for i in range(WAVEFORM_LENGTH)]


def install_demo(server: "Server", prefix: str = "demo:") -> list[PV]:
    """Add the demo PVs to ``server`` and schedule their updates; return them."""
    pvs = [server.add_pv(pv) for pv in demo_pvs(prefix)]
    by_name = {pv.name[len(prefix):]: pv for pv in pvs}
    start = time.monotonic()

    def sine() -> None:
        t = time.monotonic() - start
        by_name["sine"].write(10.0 * math.sin(2 * math.pi * t / SINE_PERIOD))

    def counter() -> None:
        pv = by_name["counter"]
        pv.write((pv.value + 1) & 0x7FFFFFFF)

    def waveform() -> None:
        by_name["waveform"].write(_wave(time.monotonic() - start))

    server.add_periodic(1.0 / SINE_RATE, sine)
    server.add_periodic(1.0, counter)
    server.add_periodic(1.0, waveform)
    return pvs


__all__ = ["demo_pvs", "install_demo", "MODES"]
