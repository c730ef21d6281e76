"""camonitor's run path (a run of updates formatted at once: TextRuns / JsonRuns through
the sink's ``updates`` handler) writes the bytes of the general path (one update at a
time through the sink's event handler), for many shapes, values and options."""
from __future__ import annotations

import math
import re
import struct

from hypothesis import given, settings, strategies as st

from catools.cli._args import number_format_option
from catools.cli._output import EpicsText, Json
from catools.format import FormatOptions
from catools.protocol import DBRMetadata, EventAddResponse
from catools.protocol._runs import EventAddRun, row_struct

TIME_STRING, TIME_SHORT, TIME_FLOAT, TIME_ENUM, TIME_CHAR, TIME_LONG, TIME_DOUBLE = range(14, 21)
NATIVE = {TIME_STRING: 0, TIME_SHORT: 1, TIME_FLOAT: 2, TIME_ENUM: 3, TIME_CHAR: 4,
          TIME_LONG: 5, TIME_DOUBLE: 6}


class _PV:
    def __init__(self, name: str, native_type: int) -> None:
        self.name, self.native_type, self.native_count = name, native_type, 1


class _Sub:
    def __init__(self, pv: _PV) -> None:
        self.pv = pv


def _f32(x: float) -> float:
    return struct.unpack(">f", struct.pack(">f", x))[0] if math.isfinite(x) and \
        abs(x) < 3e38 else x


DOUBLES = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([math.nan, -math.nan, 0.0, -0.0, 1e300, 1.5e-300]))
VALUES = {
    TIME_DOUBLE: DOUBLES,
    TIME_FLOAT: DOUBLES.map(_f32),
    TIME_LONG: st.integers(-2**31, 2**31 - 1),
    TIME_SHORT: st.integers(-2**15, 2**15 - 1),
    TIME_ENUM: st.integers(0, 20),
    TIME_CHAR: st.integers(0, 255),
    TIME_STRING: st.binary(max_size=39),
}
STAMPS = st.tuples(st.sampled_from([0, 1_000_000_000, 1_000_000_001, 1_100_000_000]),
                   st.one_of(st.sampled_from([0, 1, 499, 500, 999_999_499, 999_999_500,
                                              999_999_999, 1_000_000_000, 4_000_000_000]),
                             st.integers(0, 999_999_999)))
ALARMS = st.one_of(st.just((0, 0)), st.tuples(st.integers(0, 22), st.integers(0, 3)))
NAMES = ["A:B", "A_RATHER_LONG_PV_NAME:THAT:IS:LONGER:THAN:30", "PCT%s:NAME"]


@st.composite
def runs(draw):
    dtype = draw(st.sampled_from(list(VALUES) + [TIME_DOUBLE] * 4))
    count = draw(st.sampled_from([1, 1, 1, 3]))
    n = draw(st.integers(1, 12))
    wire, subs = [], []
    pvs = [_Sub(_PV(name, NATIVE[dtype])) for name in NAMES]
    for _ in range(n):
        values = [draw(VALUES[dtype]) for _ in range(count)]
        status, severity = draw(ALARMS)
        md = DBRMetadata(status=status, severity=severity, timestamp=draw(STAMPS))
        reply = EventAddResponse(data=values, metadata=md, data_type=dtype,
                                 data_count=count, status=1, subscriptionid=7)
        wire.append(bytes(reply))
        subs.append(pvs[draw(st.integers(0, len(pvs) - 1))])
    data = b"".join(wire)
    size = len(wire[0])
    rows = list(row_struct(dtype, count, size - 16).iter_unpack(data))
    return subs, EventAddRun(dtype, count, 1, size, data, rows)


@st.composite
def options(draw):
    formats = {"float_format": "%g", "float_base": None, "int_base": None}
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(["fmt_e", "fmt_f", "fmt_g", "long_base", "int_base"]))
        value = draw(st.sampled_from(["x", "o", "b"])) if name.endswith("base") \
            else str(draw(st.integers(0, 17)))
        number_format_option(name, value, formats)
    ts_server, ts_type = draw(st.sampled_from([
        (True, "absolute"), (True, "absolute"), (True, "relative"), (True, "incremental"),
        (True, "incremental_by_channel"), (False, "absolute")]))
    return FormatOptions(mode="wide", separator=draw(st.sampled_from([" ", " ", ",", "%"])),
                         count=draw(st.sampled_from([0, 0, 0, 1, 2])),
                         enum_as_number=draw(st.booleans()), char_as_string=draw(st.booleans()),
                         float_as_string=False, **formats, ts_server=ts_server,
                         ts_client=False, ts_type=ts_type)


def _general(sink, opts, limit, subs, run):
    handler = sink.events(opts, limit)
    for i, sub in enumerate(subs):
        handler(sub.pv.name, "update", run.reply(i), sub.pv)
    return "".join(sink.pending), sink.updates


def _runs(sink, opts, limit, subs, run):
    handler = sink.events(opts, limit)
    half = len(subs) // 2               # (two runs: the caches carry over)
    first = EventAddRun(run.data_type, run.data_count, 1, run.size,
                        run.data[:half * run.size], run.rows[:half])
    second = EventAddRun(run.data_type, run.data_count, 1, run.size,
                         run.data[half * run.size:], run.rows[half:])
    for part, part_subs in ((first, subs[:half]), (second, subs[half:])):
        if part_subs:
            handler.updates(part_subs, part)
    return "".join(sink.pending), sink.updates


@given(runs(), options(), st.sampled_from([None, None, 1, 5]))
@settings(max_examples=400, deadline=None)
def test_text_runs_write_the_general_paths_bytes(run, opts, limit):
    subs, events = run
    assert _runs(EpicsText(None), opts, limit, subs, events) == \
        _general(EpicsText(None), opts, limit, subs, events)


_EPOCH = re.compile(r',"client_epoch":[0-9.]+')


@given(runs(), st.booleans(), st.sampled_from([None, None, 1, 5]))
@settings(max_examples=300, deadline=None)
def test_json_runs_write_the_general_paths_records(run, char_as_string, limit):
    subs, events = run
    opts = FormatOptions(mode="wide", char_as_string=char_as_string)
    fast, n_fast = _runs(Json(None), opts, limit, subs, events)
    slow, n_slow = _general(Json(None), opts, limit, subs, events)
    assert n_fast == n_slow
    assert _EPOCH.sub("", fast) == _EPOCH.sub("", slow)
    assert len(_EPOCH.findall(fast)) == fast.count("\n")


def test_a_double_run_takes_the_run_path():
    """(The usual camonitor update: no update goes through the general formatter.)"""
    from catools.format import MonitorChannel, MonitorFormatter, TextRuns
    wire = [bytes(EventAddResponse(data=[i / 3], metadata=DBRMetadata(0, 0, (1_000_000, i)),
                                   data_type=TIME_DOUBLE, data_count=1, subscriptionid=7))
            for i in range(30)]
    data = b"".join(wire)
    run = EventAddRun(TIME_DOUBLE, 1, 1, len(wire[0]), data,
                      list(row_struct(TIME_DOUBLE, 1, len(wire[0]) - 16).iter_unpack(data)))
    fmt = MonitorFormatter(FormatOptions(mode="wide"))
    lines = TextRuns(fmt).lines(run, run.rows, [fmt._name("A:B", 1)] * 30)
    general = MonitorFormatter(FormatOptions(mode="wide"))
    assert lines == [general.update("A:B", run.reply(i), MonitorChannel()) for i in range(30)]
