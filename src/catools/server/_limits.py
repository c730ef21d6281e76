"""A served PV's limits: display and control ranges, alarm and warning limits with their
severities (an ai/ao record's HOPR/LOPR, DRVH/DRVL, HIHI/LOLO/HIGH/LOW and HHSV/HSV),
and what follows from them: a value's alarm, a write clamped to the control range, and
the limits of a DBR_GR/DBR_CTRL reply."""
from __future__ import annotations

from typing import Any, Sequence

from ..protocol import AlarmStatus, ChannelType
from ._convert import storage

SEVERITY_NAMES = {"NO_ALARM": 0, "MINOR": 1, "MAJOR": 2, "INVALID": 3}
_FLOATS = (ChannelType.FLOAT, ChannelType.DOUBLE)
_NAN = float("nan")
Pair = tuple[float, float]


def severity(value: int | str) -> int:
    """An alarm severity given as a name (NO_ALARM, MINOR, MAJOR, INVALID) or 0..3."""
    if isinstance(value, str):
        key = value.upper().removesuffix("_ALARM") if value.upper() != "NO_ALARM" else value
        if key.upper() not in SEVERITY_NAMES:
            raise ValueError(f"unknown severity {value!r} (NO_ALARM, MINOR, MAJOR, INVALID)")
        return SEVERITY_NAMES[key.upper()]
    if not 0 <= int(value) <= 3:
        raise ValueError(f"severity {value!r} outside 0..3")
    return int(value)


class Limits:
    """The limits of a PV of ``native`` type (pairs are ``(low, high)``; alarm and
    warning limits may be None: no such alarm)."""

    def __init__(self, native: ChannelType, display: Sequence[float] | None = None,
                 control: Sequence[float] | None = None,
                 alarm: Sequence[float] | None = None,
                 warning: Sequence[float] | None = None,
                 alarm_severity: int | str = 2, warning_severity: int | str = 1,
                 clamp: bool = False) -> None:
        self.native = native
        self.display_limits: Any = tuple(display) if display else (0, 0)
        self.control_limits: Any = tuple(control) if control else self.display_limits
        self.alarm_limits: Any = tuple(alarm) if alarm else None
        self.warning_limits: Any = tuple(warning) if warning else None
        self.alarm_severity = severity(alarm_severity)
        self.warning_severity = severity(warning_severity)
        self.clamp = clamp

    def alarm(self, values: Sequence[Any]) -> tuple[int, int]:
        """``(alarm status, severity)`` of ``values`` (their first element)."""
        if self.native in (ChannelType.STRING, ChannelType.ENUM) or not len(values):
            return 0, 0
        value = values[0]
        if self.alarm_limits and self.alarm_severity:
            lolo, hihi = self.alarm_limits
            if value >= hihi:
                return AlarmStatus.HIHI, self.alarm_severity
            if value <= lolo:
                return AlarmStatus.LOLO, self.alarm_severity
        if self.warning_limits and self.warning_severity:
            low, high = self.warning_limits
            if value >= high:
                return AlarmStatus.HIGH, self.warning_severity
            if value <= low:
                return AlarmStatus.LOW, self.warning_severity
        return 0, 0

    def clamped(self, values: Sequence[Any]) -> Sequence[Any]:
        """``values`` clamped to the control range (with ``clamp``, for numbers)."""
        native = self.native
        if not self.clamp or native in (ChannelType.STRING, ChannelType.ENUM):
            return values
        low, high = self.control_limits
        if low >= high:
            return values
        kind = float if native in _FLOATS else int
        low, high = kind(low), kind(high)
        return storage(native, [min(max(v, low), high) for v in values])

    def metadata(self, numeric: bool) -> dict[str, float]:
        """The limit fields of a DBR_GR/DBR_CTRL reply, by DBRMetadata name."""
        if not numeric:  # like RSRV: no display/control limits, alarm limits NaN for enums
            alarm = _NAN if self.native is ChannelType.ENUM else 0
            return {"upper_disp_limit": 0, "lower_disp_limit": 0,
                    "upper_alarm_limit": alarm, "upper_warning_limit": alarm,
                    "lower_warning_limit": alarm, "lower_alarm_limit": alarm,
                    "upper_ctrl_limit": 0, "lower_ctrl_limit": 0}
        lolo, hihi = self.alarm_limits if self.alarm_limits and self.alarm_severity \
            else (_NAN, _NAN)
        low, high = self.warning_limits if self.warning_limits and self.warning_severity \
            else (_NAN, _NAN)
        return {"upper_disp_limit": self.display_limits[1],
                "lower_disp_limit": self.display_limits[0],
                "upper_alarm_limit": hihi, "upper_warning_limit": high,
                "lower_warning_limit": low, "lower_alarm_limit": lolo,
                "upper_ctrl_limit": self.control_limits[1],
                "lower_ctrl_limit": self.control_limits[0]}


__all__ = ["Limits", "SEVERITY_NAMES", "severity"]
