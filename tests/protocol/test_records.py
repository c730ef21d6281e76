"""Record: the light named tuple of the protocol's tables and headers."""
import pickle

import pytest

from catools import DBR_TYPES, COMMAND_TABLE, Header, unpack_header
from catools.protocol._records import Record


class Point(Record):
    __slots__ = ()

    x: int
    y: int


def test_fields_by_name_and_position():
    p = Point(1, y=2)
    assert (p.x, p.y) == (1, 2) == tuple(p)
    assert Point._fields == ("x", "y")
    assert p._asdict() == {"x": 1, "y": 2}
    assert p._replace(y=5) == Point(1, 5)
    assert repr(p) == "Point(x=1, y=2)"
    assert pickle.loads(pickle.dumps(p)) == p
    with pytest.raises(AttributeError):
        p.x = 3
    with pytest.raises(AttributeError):
        p.z = 3                       # no __dict__


def test_wrong_arguments_are_refused():
    with pytest.raises(TypeError):
        Point(1)
    with pytest.raises(TypeError):
        Point(1, 2, 3)
    with pytest.raises(TypeError):
        Point(1, 2, z=3)


def test_protocol_records_keep_their_named_fields():
    header, size = unpack_header(bytes(range(16)))
    assert isinstance(header, Header) and size == 16
    assert header.command == 0x0001 and header.parameter2 == 0x0C0D0E0F
    assert DBR_TYPES[20].name == "TIME_DOUBLE" and DBR_TYPES[20].size == 24
    assert COMMAND_TABLE[0]._asdict()["name"] == "VersionRequest"
