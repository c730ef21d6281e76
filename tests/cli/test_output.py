"""The output sinks (cli/_output.py) on Results made in-process: the same bytes as the
formatters, colour taken from the Reading's severity, JSON records per Result."""
from __future__ import annotations

import io
import json
from array import array

import catools
from catools.cli._output import Colour, EpicsText, Json
from catools.errors import NotFound, Timeout
from catools.format import FormatOptions, MonitorChannel, MonitorFormatter, format_caget
from catools.protocol import DBRMetadata
from catools.results import Reading, Result

TIME_DOUBLE = 20
STAMP = (1_100_000_000, 5_000)


def reading(name: str, value: float, severity: int = 0, count: int = 1) -> Reading:
    md = DBRMetadata(status=severity and 3, severity=severity, timestamp=STAMP)
    return Reading(name, TIME_DOUBLE, array("d", [value] * count), count, 6, count, md)


def update(value: float, severity: int) -> object:
    md = DBRMetadata(status=severity and 3, severity=severity, timestamp=STAMP)
    return catools.EventAddResponse(data=[value], metadata=md, data_type=TIME_DOUBLE,
                                    data_count=1, status=1, subscriptionid=1)


def written(sink: EpicsText) -> str:
    sink.flush()
    return sink.stream.getvalue().decode()


def test_text_sink_writes_what_the_formatter_makes():
    opts = FormatOptions()
    results = [reading("A", 1.5), reading("B", 2.0, count=3), reading("C", 0.25)]
    sink = EpicsText(io.BytesIO())
    sink.caget(results, opts, [1, 3, 1])
    assert written(sink) == "".join(format_caget(r.name, r, opts) for r in results)


def test_colour_comes_from_the_reading_not_the_text():
    # plain caget lines carry no severity text: the colour can only come from the Reading
    opts = FormatOptions()
    sink = Colour(io.BytesIO())
    sink.caget([reading("A", 1.5, severity=2), reading("B", 2.5)], opts, [1, 1])
    major, plain = written(sink).splitlines(keepends=True)
    assert major.startswith("\x1b[") and "A                              1.5" in major
    assert plain == format_caget("B", reading("B", 2.5), opts)


def test_colour_of_a_monitor_update_from_its_reply():
    opts = FormatOptions(mode="wide")
    sink = Colour(io.BytesIO())
    on_event = sink.events(opts, None)
    on_event("M", "update", update(1.0, 1), None)
    on_event("M", "update", update(2.0, 0), None)
    minor, plain = written(sink).splitlines(keepends=True)
    expected = MonitorFormatter(opts).update("M", update(2.0, 0), MonitorChannel())
    assert minor.startswith("\x1b[") and plain == expected and sink.updates == 2


def test_json_sink_one_record_per_result():
    sink = Json(io.BytesIO())
    missing = Result("N", NotFound("N", "Channel connect timed out: 'N' not found."))
    late = Result("T", Timeout("T", "no data available (timeout)"))
    sink.caget([reading("A", 1.5), missing, late], FormatOptions(), [1, 0, 1])
    good, not_found, no_data = (json.loads(line) for line in written(sink).splitlines())
    # one client_epoch for the records of one read, at the end of each
    stamps = {record.pop("client_epoch") for record in (good, not_found, no_data)}
    assert len(stamps) == 1
    assert (good["name"], good["value"], good["ok"]) == ("A", 1.5, True)
    assert not_found == {"name": "N", "ok": False, "error": "not_found",
                         "message": "Channel connect timed out: 'N' not found."}
    assert no_data == {"name": "T", "ok": False, "error": "no_data",
                       "message": "no data available (timeout)"}


def test_json_put_records_say_which():
    sink = Json(io.BytesIO())
    sink.put_reading("old", reading("A", 1.5), FormatOptions(), 1)
    sink.put_reading("new", Result("A", Timeout("A", "late")), FormatOptions(), 1)
    old, new = (json.loads(line) for line in written(sink).splitlines())
    assert (old["which"], old["value"]) == ("old", 1.5)
    assert (new["which"], new["error"]) == ("new", "no_data")
