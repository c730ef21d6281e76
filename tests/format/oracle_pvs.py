"""PV table shared by the oracle server (served with caproto) and the format tests.

Every PV has fixed values, timestamps and alarm states, so the real C tools print
deterministic text that the tests compare with ``catools.format``.
"""

from __future__ import annotations

import math

T0 = (1100000000, 669834123)  # EPICS seconds, nanoseconds
LIM = dict(lower_disp_limit=-100, upper_disp_limit=100, lower_alarm_limit=-80,
           lower_warning_limit=-60, upper_warning_limit=60, upper_alarm_limit=80,
           lower_ctrl_limit=-90, upper_ctrl_limit=90)

SPECS: dict[str, dict] = {
    "O:dbl": dict(kind="double", value=3.14159265, units="mm", precision=3, **LIM),
    "O:alarm": dict(kind="double", value=95.5, status=3, severity=2, ts=(1100000001, 5)),
    "O:minor": dict(kind="double", value=-61.0, status=6, severity=1),
    "O:ts_clamp": dict(kind="double", value=1.0, ts=(1100000002, 999999600)),
    "O:ts_round": dict(kind="double", value=1.0, ts=(1100000003, 123456500)),
    "O:undef": dict(kind="double", value=0.0, ts=(0, 0), status=17, severity=3),
    "O:nan": dict(kind="double", value=math.nan, lower_alarm_limit=math.nan),
    "O:negnan": dict(kind="double", value=-math.nan),
    "O:inf": dict(kind="double", value=math.inf),
    "O:neginf": dict(kind="double", value=-math.inf),
    "O:big": dict(kind="double", value=1e10),
    "O:half": dict(kind="double", value=2.5),
    "O:neghalf": dict(kind="double", value=-2.5),
    "O:tiny": dict(kind="double", value=-5e-7),
    "O:float": dict(kind="float", value=0.1, units="V", precision=2,
                    lower_disp_limit=0, upper_disp_limit=10.5),
    "O:long": dict(kind="long", value=42, units="counts", upper_disp_limit=1000,
                   lower_ctrl_limit=-5, upper_ctrl_limit=2000000),
    "O:neg": dict(kind="long", value=-5),
    "O:zero": dict(kind="long", value=0),
    "O:short": dict(kind="short", value=-7, units="s", lower_disp_limit=-32768,
                    upper_disp_limit=32767),
    "O:enum": dict(kind="enum", value=1, strs=["Off", "On", "Standby", "Fault State"]),
    "O:str": dict(kind="string", value="hello world"),
    "O:esc": dict(kind="string", value="a\tb\"c'd\\e\x7ff\xe9\n"),
    "O:wfd": dict(kind="double", value=[1.5, 2.25, 3.0, 4000.0, -5e-07, 0.0, 0.0, 1e300,
                                        -0.0, 123456789.0]),
    "O:wfl": dict(kind="long", value=[1, -2, 0, 5, 2147483647, -2147483648, 7, 8]),
    "O:wfc": dict(kind="char", value=list(b"Hello\t\"w'\x01\x00rest\x7f")),
    "O:wfs": dict(kind="string", value=["alpha", "beta gamma", "delta", ""]),
    "O:one": dict(kind="long", value=[9]),
    "O:stat_oob": dict(kind="double", value=1.0, status=21, severity=3),
}


def spec_ts(name: str) -> tuple[int, int]:
    return SPECS[name].get("ts", T0)
