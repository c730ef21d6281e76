"""Build readings (catools.results.Reading) from the oracle PV table (what the wire would
carry), and :func:`reading_of` for the unit tests."""

from __future__ import annotations

from array import array

from catools.protocol import DBRMetadata as Metadata
from catools.results import Reading
from catools.format._names import dbr_base_type, dbr_class

from oracle_pvs import SPECS, spec_ts

NATIVE = {"string": 0, "short": 1, "float": 2, "enum": 3, "char": 4, "long": 5, "double": 6}
TYPECODE = {1: "h", 2: "f", 3: "H", 4: "B", 5: "i", 6: "d"}
_GR = ("upper_disp_limit", "lower_disp_limit", "upper_alarm_limit", "upper_warning_limit",
       "lower_warning_limit", "lower_alarm_limit")
_CTRL = ("upper_ctrl_limit", "lower_ctrl_limit")


def values(name: str) -> list:
    v = SPECS[name]["value"]
    return list(v) if isinstance(v, (list, tuple)) else [v]


def reading(name: str, dbr_type: int, count: int | None = None) -> Reading:
    spec = SPECS[name]
    native = NATIVE[spec["kind"]]
    vals = values(name)
    base = dbr_base_type(dbr_type)
    if dbr_type == 38:
        data: object = [b"caproto"]
    elif dbr_type == 37:
        data = [b""]  # caproto sends an empty value for STSACK_STRING
    elif base == 0:
        if spec["kind"] == "enum":
            data = [spec["strs"][i].encode() for i in vals]
        elif spec["kind"] == "string":
            data = [v.encode("latin-1") for v in vals]
        else:
            raise ValueError("conversion to string not modelled")
    else:
        if spec["kind"] == "string":
            raise ValueError("conversion from string not modelled")
        data = array(TYPECODE[base], [int(v) if base in (1, 3, 5) else v
                                          for v in vals])
    if count is not None:
        data = data[:count]
    cls = dbr_class(dbr_type)
    md: dict = {}
    if cls in ("sts", "time", "gr", "ctrl", "stsack"):
        md.update(status=spec.get("status", 0), severity=spec.get("severity", 0))
    if cls == "time":
        md["timestamp"] = spec_ts(name)
    if cls == "stsack":
        md.update(ackt=1, acks=0)
    if cls in ("gr", "ctrl"):
        if base == 3:
            md["enum_strings"] = [s.encode() for s in spec["strs"]]
        elif base != 0:
            md["units"] = spec.get("units", "").encode()
            if base in (2, 6):
                md["precision"] = spec.get("precision", 0)
            for k in _GR + (_CTRL if cls == "ctrl" else ()):
                md[k] = spec.get(k, 0)
    return Reading(name, dbr_type, data, native_type=native, native_count=len(vals),
                   metadata=Metadata(**md))


def reading_of(data_type: int, data, native_type: int = -1, native_count: int = 0,
               count: int = -1, metadata=None) -> Reading:
    """A Reading of these values (no name: the formatters take the name apart)."""
    return Reading("", data_type, data, count, native_type, native_count, metadata)
