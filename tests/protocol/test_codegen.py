"""The generated codecs (_codecs.py) are what COMMAND_TABLE says they should be."""
from pathlib import Path

from catools.protocol import ALL_COMMANDS, _codecs
from catools.protocol._codegen import module_source


def test_codecs_file_matches_the_table():
    # after a change to COMMAND_TABLE: python -m catools.protocol._codegen
    assert Path(_codecs.__file__).read_text() == module_source()


def test_every_command_uses_the_generated_functions():
    for cls in ALL_COMMANDS:
        name = cls.__name__
        assert cls.__new__ is getattr(_codecs, f"{name}__new__")
        assert cls._header_fields is getattr(_codecs, f"{name}_header_fields")
        assert cls._from_wire.__func__ is getattr(_codecs, f"{name}_from_wire")
