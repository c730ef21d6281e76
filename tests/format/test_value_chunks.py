"""iter_values formats large arrays a chunk at a time (read in place from an
``array``, each chunk one ``%``): the text must be what formatting each value on its
own and joining gives, for every type, option and count around the chunk bounds; and
iter_payload_values, reading the numbers straight from a DBR payload, must give what
iter_values gives of the payload decoded."""
from __future__ import annotations

import math
from array import array

import pytest
from hypothesis import given, settings, strategies as st

from catools.format import FormatOptions, c_float, format_long, round_to_long
from catools.format._names import (DBR_CHAR, DBR_DOUBLE, DBR_FLOAT, DBR_LONG, DBR_SHORT,
                                   dbr_base_type)
from catools.format._values import CHUNK, iter_payload_values, iter_values, join_values
from catools.protocol import DBR_TYPES, DBRMetadata, decode_dbr, encode_dbr

# (TIME_ types: the formatting depends only on the base type)
TYPES = {"d": DBR_DOUBLE + 14, "f": DBR_FLOAT + 14, "i": DBR_LONG + 14,
         "h": DBR_SHORT + 14, "b": DBR_CHAR + 14, "B": DBR_CHAR + 14}


def one_by_one(data_type: int, values: list, opts: FormatOptions) -> str:
    """The reference: val2str of each value, joined by the separator."""
    base = dbr_base_type(data_type)
    out = []
    for v in values:
        if base in (DBR_DOUBLE, DBR_FLOAT):
            out.append(format_long(round_to_long(v), opts.float_base)
                       if opts.float_base is not None else c_float(opts.float_format, v))
        elif base == DBR_CHAR:
            out.append("%d" % (v - 256 if v > 127 else v))
        else:
            out.append("%d" % v if opts.int_base is None else format_long(v, opts.int_base))
    return opts.separator.join(out)


doubles = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 5e-324,
                     -2.2250738585072014e-308, 1e300, 2147483647.5, -2147483648.5]))
options = st.builds(
    FormatOptions,
    separator=st.sampled_from([" ", ",", "%", "\t", "n"]),
    float_format=st.sampled_from(["%g", "%-.3e", "%-.0f", "%-.12g", "%-.17g"]),
    float_base=st.sampled_from([None, None, "x", "o", "b"]),
    int_base=st.sampled_from([None, None, "x", "o", "b"]))
counts = st.sampled_from([0, 1, 2, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3])


def spread(sample: list, n: int) -> list:
    """``n`` values cycling through ``sample`` (a chunk-sized array from a few draws)."""
    return [sample[i % len(sample)] for i in range(n)] if sample else [0] * n


@settings(max_examples=60, deadline=None)
@given(st.lists(doubles, min_size=1, max_size=40), counts, options, st.booleans())
def test_double_and_float_arrays_equal_one_by_one(sample, n, opts, single):
    tc = "f" if single else "d"
    data = array(tc, spread(sample, n))         # (a FLOAT array rounds each value)
    values = data.tolist()
    expected = one_by_one(TYPES[tc], values, opts)
    assert join_values(TYPES[tc], data, opts) == expected
    assert join_values(TYPES[tc], values, opts) == expected      # a list: no array path


@settings(max_examples=40, deadline=None)
@given(st.sampled_from("ihbB"), st.lists(st.integers(-2**31, 2**31 - 1), min_size=1,
                                          max_size=20), counts, options)
def test_integer_arrays_equal_one_by_one(tc, sample, n, opts):
    lo, hi = {"i": (-2**31, 2**31 - 1), "h": (-2**15, 2**15 - 1), "b": (-128, 127),
              "B": (0, 255)}[tc]
    data = array(tc, [min(max(v, lo), hi) for v in spread(sample, n)])
    expected = one_by_one(TYPES[tc], [v & 0xFF if tc == "b" else v for v in data], opts)
    assert join_values(TYPES[tc], data, opts) == expected
    assert join_values(TYPES[tc], data.tolist(), opts) == expected


@settings(max_examples=30, deadline=None)
@given(st.lists(doubles, min_size=1, max_size=10), st.integers(0, 2 * CHUNK + 5),
       st.integers(0, 2 * CHUNK + 5), options)
def test_start_and_stop_cut_the_same_values(sample, start, stop, opts):
    data = array("d", spread(sample, 2 * CHUNK + 2))
    pieces = list(iter_values(TYPES["d"], data, opts, start=start, stop=stop))
    expected = one_by_one(TYPES["d"], data.tolist()[start:stop], opts)
    assert "".join(pieces) == expected
    # every piece after the first begins with the separator
    assert all(p.startswith(opts.separator) for p in pieces[1:])


# --------------------------------------------------------------------------- payloads

PAYLOAD_TYPES = [6, 13, 20, 34, 2, 16, 5, 19, 1, 15, 3, 17, 31, 4, 18, 0, 14, 35]


@st.composite
def dbr_payloads(draw):
    """A DBR payload as a server sends it (metadata, values, padding) and its count."""
    data_type = draw(st.sampled_from(PAYLOAD_TYPES))
    n = draw(counts)
    row = DBR_TYPES[data_type]
    if row.typecode is None:
        values = [b"s%d" % i for i in range(min(n, 50))]
    elif row.typecode in "fd":
        values = spread(draw(st.lists(doubles, min_size=1, max_size=20)), n)
    else:
        bits = 8 * row.elem_size
        lo, hi = (0, 2 ** bits - 1) if row.typecode in "BH" else \
            (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
        values = spread(draw(st.lists(st.integers(lo, hi), min_size=1, max_size=20)), n)
    metadata = DBRMetadata(status=1, severity=2, timestamp=(5, 6), precision=3,
                           units=b"mm", enum_strings=[b"zero", b"one"])
    raw, count = encode_dbr(data_type, values, metadata)
    pad = draw(st.sampled_from([0, 8]))
    return data_type, raw + bytes(pad), count


@settings(max_examples=80, deadline=None)
@given(dbr_payloads(), options, st.one_of(st.none(), st.integers(0, 2 * CHUNK + 5)),
       st.booleans())
def test_payload_values_equal_the_decoded_values(case, opts, stop, view):
    data_type, payload, count = case
    metadata, data = decode_dbr(data_type, payload, count)
    expected = list(iter_values(data_type, data, opts, metadata, stop=stop))
    got = list(iter_payload_values(data_type, memoryview(payload) if view else payload,
                                   count, opts, metadata, stop=stop))
    assert "".join(got) == "".join(expected)
    assert len(got) == len(expected)


def test_a_short_payload_is_refused_as_decoding_refuses_it():
    raw, count = encode_dbr(20, [1.0] * (CHUNK + 1))
    with pytest.raises(ValueError):
        list(iter_payload_values(20, raw[:-8], count, FormatOptions()))
