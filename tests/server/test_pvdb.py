"""The PV model: conversions between native types and DBR types, alarms, posting."""
from __future__ import annotations

import math

import pytest

from catools.protocol import DBE_ALARM, DBE_VALUE, CAStatus, ChannelType as T
from catools.server import PV, PutError, epics_timestamp


def test_number_to_string_uses_precision():
    pv = PV("a", "double", 3.14159, precision=3)
    assert pv.read(T.STRING, 1)[0] == [b"3.142"]
    assert PV("b", "double", 12345678.9, precision=2).read(T.STRING, 1)[0] == [b"1.23e+07"]
    assert PV("c", "long", -42).read(T.STRING, 1)[0] == [b"-42"]


def test_enum_conversions():
    pv = PV("m", "enum", "On", enum_strings=["Off", "On"])
    assert pv.value == 1
    assert pv.read(T.STRING, 1)[0] == [b"On"]
    assert pv.read(T.DOUBLE, 1)[0] == [1.0]
    md = pv.read(T.CTRL_ENUM, 1)[1]
    assert md.enum_strings == [b"Off", b"On"]
    pv.put(T.STRING, [b"Off"])
    assert pv.value == 0
    pv.put(T.STRING, [b"1"])
    assert pv.value == 1
    with pytest.raises(PutError):
        pv.put(T.STRING, [b"Maybe"])
    with pytest.raises(PutError):
        pv.put(T.STRING, [b"5"])
    # a number is stored as an mbbo stores it (see test_write_parity.py): undefined
    # states read empty, from 16 on "Illegal Value"
    pv.put(T.SHORT, [5])
    assert pv.value == 5 and pv.read(T.STRING, 1)[0] == [b""]
    pv.put(T.DOUBLE, [70000.0])
    assert pv.value == 4464 and pv.read(T.STRING, 1)[0] == [b"Illegal Value"]


def test_counts_dynamic_and_zero_fill():
    pv = PV("w", "long", [1, 2, 3], count=10)
    assert pv.read(T.LONG, 0)[0] == [1, 2, 3]
    assert pv.read(T.LONG, 5)[0] == [1, 2, 3, 0, 0]
    assert pv.read(T.DOUBLE, 2)[0] == [1.0, 2.0]
    pv.put(T.DOUBLE, [7.9, -1.2])
    assert pv.value == [7, -1] and pv.element_count == 2


def test_string_and_char_arrays():
    pv = PV("s", "char", "hello", count=16)
    assert pv.read(T.CHAR, 0)[0] == list(b"hello\0")
    pv.put(T.CHAR, list(b"bye\0"))
    assert pv.value == "bye"
    s = PV("t", "string", "12.5")
    assert s.read(T.DOUBLE, 1)[0] == [12.5]
    assert PV("u", "string", "abc").read(T.LONG, 1) [0] == [0]
    with pytest.raises(PutError):
        PV("v", "double").put(T.STRING, [b"not a number"])


def test_alarm_limits_and_posting():
    pv = PV("a", "double", 0.0, alarm_limits=(-10, 10), warning_limits=(-5, 5))
    posted = []
    pv.add_listener(lambda p, mask: posted.append(mask))
    pv.write(6.0)
    assert (pv.snapshot.status, pv.snapshot.severity) == (4, 1)   # HIGH MINOR
    pv.write(7.0)
    pv.write(-11.0)
    assert (pv.snapshot.status, pv.snapshot.severity) == (5, 2)   # LOLO MAJOR
    assert [bool(m & DBE_ALARM) for m in posted] == [True, False, True]
    assert all(m & DBE_VALUE for m in posted)
    md = pv.read(T.CTRL_LONG, 1)[1]
    assert (md.lower_alarm_limit, md.upper_warning_limit) == (-10, 5)
    assert math.isnan(PV("b", "double").read(T.CTRL_DOUBLE, 1)[1].upper_alarm_limit)


def test_clamp_and_special_types():
    pv = PV("sp", "double", 5.0, control_limits=(0, 10), clamp=True)
    pv.put(T.DOUBLE, [99.0])
    assert pv.value == 10.0
    assert pv.read(T.PUT_ACKT, 1)[2] == CAStatus.ECA_GETFAIL
    assert pv.read(T.CLASS_NAME, 1)[0] == [b"ao"]


def test_epics_timestamp():
    assert epics_timestamp(631152000.5) == (0, 500_000_000)
