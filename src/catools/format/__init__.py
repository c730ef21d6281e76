"""Pure formatting layer: EPICS C tool text, strict JSON, and (lazily) rich colour.

Nothing here does I/O on sockets or imports click/rich; ``catools.format._rich`` is
imported only when colour is wanted.
"""
from __future__ import annotations

from ..hints import TYPE_CHECKING
from ._epics import (
    ERROR_KINDS, Metadata, MonitorChannel, MonitorFormatter, caget_lines, caget_pieces,
    caget_value_lines,
    dbr_details, error_of, format_cainfo, format_caget, format_caget_error, format_caput,
    format_context_status, scalar_formats, unread, write_caget,
)
from ._names import (
    ALARM_SEVERITY_NAMES, ALARM_STATUS_NAMES, DBF_NAMES, DBR_CHAR, DBR_DOUBLE, DBR_LONG,
    DBR_NAMES, DBR_STRING, MAX_STRING_SIZE, bad_name_line,
    dbf_type_to_text, dbr_type_to_text, invalid_names, parse_dbr_type, readable_dbr_type,
    severity_to_text, status_to_text,
)
from ._options import FormatOptions, float_format, parse_timestamp_keys
from ._values import (
    ENCODING, ERRORS, TimestampFormatter, c_float, epics_now, escape_bytes,
    format_long, format_timestamp, join_values, round_to_long, time_diff_seconds,
)

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

__all__ = [
    "ERROR_KINDS", "Metadata", "MonitorChannel", "MonitorFormatter", "caget_lines",
    "caget_value_lines",
    "caget_pieces", "dbr_details", "error_of", "format_cainfo", "format_caget",
    "format_caget_error", "format_caput", "format_context_status", "scalar_formats",
    "unread", "write_caget",
    "caget_json", "caget_json_error", "camonitor_json", "json_record",
    "json_error_record", "json_result", "cainfo_json", "write_json_line", "make_colorizer",
    "ALARM_SEVERITY_NAMES", "ALARM_STATUS_NAMES", "DBF_NAMES", "DBR_CHAR", "DBR_DOUBLE",
    "DBR_LONG", "DBR_NAMES", "DBR_STRING", "MAX_STRING_SIZE",
    "bad_name_line", "dbf_type_to_text", "dbr_type_to_text", "invalid_names",
    "parse_dbr_type", "readable_dbr_type", "severity_to_text", "status_to_text",
    "FormatOptions", "float_format", "parse_timestamp_keys", "JsonRuns", "TextRuns",
    "ENCODING", "ERRORS", "TimestampFormatter", "c_float", "epics_now", "escape_bytes",
    "format_long", "format_timestamp", "join_values", "round_to_long",
    "time_diff_seconds",
]

_JSON_NAMES = ("caget_json", "caget_json_error", "camonitor_json", "json_record",
               "json_error_record", "json_result", "cainfo_json", "write_json_line")


def __getattr__(name: str) -> Any:
    # JSON output is imported only by the commands that print it (json is not free).
    if name in _JSON_NAMES:
        from . import _json
        return getattr(_json, name)
    if name in ("JsonRuns", "TextRuns"):    # (camonitor's run path only)
        from . import _runs
        return getattr(_runs, name)
    if name == "make_colorizer":            # (rich: only for a terminal)
        from ._rich import make_colorizer
        return make_colorizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
