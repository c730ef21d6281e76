"""The chunked array conversions of reads and writes give what element-by-element
conversion gives (issue 18, 2): bytes of :meth:`PV.encode` against ``encode_values`` of
:meth:`PV.read`, for every native and DBR base type and awkward values, across chunks."""
from __future__ import annotations

import math
from array import array

import pytest

from catools.protocol import ChannelType as T
from catools.protocol._dbr import dbr_type, encode_values
from catools.server import PV, PutError
from catools.server._convert import CHUNK_BYTES, StringSlots, format_number

FLOATS = [0.0, -0.0, 0.5, -1.25, 9999999.5, 1e7, -1e7, 123456.789, 1e-300, 1e300,
          math.nan, math.inf, -math.inf, 3.4028235e38, 1e39]
INTS = {"short": [0, 1, -1, 32767, -32768], "long": [0, 7, -2147483648, 2147483647],
        "char": [0, 1, 127, 200, 255], "enum": [0, 1, 3, 17]}
BASES = [T.STRING, T.SHORT, T.FLOAT, T.ENUM, T.CHAR, T.LONG, T.DOUBLE]


def _pvs() -> list[PV]:
    pvs = [PV(f"d{p}", "double", FLOATS, precision=p) for p in (0, 3, 17)]
    pvs.append(PV("f", "float", [v for v in FLOATS if abs(v) < 3.5e38], precision=4))
    pvs += [PV(kind, kind, values, enum_strings=["a", "b"] if kind == "enum" else ())
            for kind, values in INTS.items()]
    pvs.append(PV("s", "string", ["1.5", "abc", "", "-7", "1e400"]))
    return pvs


@pytest.mark.parametrize("pv", _pvs(), ids=lambda pv: pv.name)
@pytest.mark.parametrize("base", BASES, ids=lambda b: b.name)
def test_encode_matches_element_by_element(pv, base):
    count = pv.element_count + 2                          # zero-filled past the end
    encoded = pv.encode(base, count)
    values, _md, status = pv.read(base, count)
    assert (encoded.count, encoded.status) == (count, status)
    expected = encode_values(dbr_type(base), values)[0]
    got = b"".join(encoded.chunks)
    assert len(got) == encoded.size == len(expected)
    assert got == expected


def test_strings_of_floats_use_format_number_across_chunks():
    n = 3 * CHUNK_BYTES // 40 + 5                          # more than three chunks
    pv = PV("w", "double", [i * 1.5 - 7 for i in range(n)], precision=2)
    encoded = pv.encode(T.STRING, 0)
    chunks = list(encoded.chunks)
    assert len(chunks) > 3 and all(len(c) <= CHUNK_BYTES for c in chunks)
    raw = b"".join(chunks)
    for i in (0, 1, n // 2, n - 1):
        slot = raw[40 * i:40 * i + 40]
        assert slot.rstrip(b"\0").decode() == format_number(i * 1.5 - 7, T.DOUBLE, 2)


def test_writes_in_steps_and_kept_arrays():
    pv = PV("w", "double", [0.0], count=100_000)
    data = array("d", range(100_000))
    steps = list(pv.put_steps(T.DOUBLE, data, owned=True))
    assert steps == [] and pv.snapshot.values is data       # same type: kept as is
    longs = PV("l", "long", [0], count=100_000)
    assert len(list(longs.put_steps(T.DOUBLE, data))) > 1    # converted a chunk a step
    assert longs.value[:3] == [0, 1, 2] and longs.element_count == 100_000


def test_string_slots_and_partial_writes():
    raw = b"".join(v.ljust(40, b"\0") for v in (b"1", b"2", b"abc", b"4"))
    slots = StringSlots(raw, 4)
    assert slots[1:3] == [b"2", b"abc"] and len(slots) == 4
    pv = PV("w", "short", [7, 7, 7, 7], count=4)
    with pytest.raises(PutError):
        pv.put(T.STRING, slots)
    assert pv.value == [1, 2, 7, 7]                        # as softIoc's waveform
    scalar = PV("x", "float", 5.0)
    with pytest.raises(PutError):
        scalar.put(T.STRING, [b""])                        # a waveform refuses ''
    assert scalar.value == 5.0
    assert PV("y", "long", 5).put(T.STRING, [b""]) is None  # a longout takes it as 0
