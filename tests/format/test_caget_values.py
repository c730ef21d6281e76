"""caget's lines written from (names, DBR types, values) columns (the many-PV path, with
one ``%`` for PVs of one type) are the lines written from each PV's Reading."""
from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st

from catools import DBRMetadata, ReadNotifyResponse
from catools.format import FormatOptions, caget_value_lines, format_caget
from catools.results import Reading

TIME_DOUBLE, TIME_FLOAT, TIME_LONG, TIME_SHORT, TIME_CHAR, DOUBLE, LONG = 20, 16, 19, 15, 18, 6, 5
NATIVE = {TIME_DOUBLE: 6, TIME_FLOAT: 2, TIME_LONG: 5, TIME_SHORT: 1, TIME_CHAR: 4,
          DOUBLE: 6, LONG: 5}
INTEGER = {TIME_LONG: (-2**31, 2**31 - 1), TIME_SHORT: (-2**15, 2**15 - 1),
           TIME_CHAR: (0, 255), LONG: (-2**31, 2**31 - 1)}


def _value(data_type):
    if data_type in INTEGER:
        return st.integers(*INTEGER[data_type])
    return st.floats(width=32 if data_type == TIME_FLOAT else 64)


PV = st.sampled_from(sorted(NATIVE)).flatmap(
    lambda t: st.tuples(st.just(t), _value(t),
                        st.text("ABCD:_0123456789", min_size=1, max_size=40)))
OPTIONS = st.fixed_dictionaries({
    "mode": st.sampled_from(["plain", "terse"]),
    "separator": st.sampled_from([" ", ",", "%"]),
    "float_format": st.sampled_from(["%g", "%-.3e", "%-.4f", "%-.8g"]),
    "int_base": st.sampled_from([None, "x", "o", "b"]),
    "float_base": st.sampled_from([None, "x"]),
})


def _reading(name, data_type, value):
    reply = ReadNotifyResponse(data=[value], metadata=DBRMetadata(0, 0, (1_000_000, 5)),
                               data_type=data_type, data_count=1, ioid=1)
    return Reading.of(name, reply, NATIVE[data_type], 1)


@given(st.lists(PV, min_size=1, max_size=12), OPTIONS, st.booleans())
@settings(max_examples=300, deadline=None)
def test_value_lines_are_the_readings_lines(pvs, options, one_type):
    if one_type:
        pvs = [(pvs[0][0], pvs[0][1], name) for _, _, name in pvs]
    opts = FormatOptions(**options)
    names, types, values, expected = [], [], [], []
    for data_type, value, name in pvs:
        reading = _reading(name, data_type, value)
        names.append(name)
        types.append(data_type)
        values.append(reading.data[0])       # (a FLOAT as the wire carries it)
        expected.append(format_caget(name, reading, opts))
    text = caget_value_lines(names, types, values, opts)
    if any(isinstance(v, float) and math.isnan(v) for v in values):
        assert text is None         # (NaN's spelling is the general path's)
    elif text is not None:          # (None: the caller renders Readings)
        assert text == "".join(expected)
    else:           # (a base other than decimal, and a CHAR, have no one-% format)
        assert options["int_base"] or options["float_base"] or TIME_CHAR in types
