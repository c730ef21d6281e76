"""The generated codecs (_codecs.py) and class declarations (_classes.pyi) are what
COMMAND_TABLE says they should be."""
import ast
from pathlib import Path

from catools.protocol import ALL_COMMANDS, COMMAND_TABLE, _codecs, _commands
from catools.protocol._codegen import module_source, stub_source


def test_codecs_file_matches_the_table():
    # after a change to COMMAND_TABLE: python -m catools.protocol._codegen
    assert Path(_codecs.__file__).read_text() == module_source()


def test_class_declarations_match_the_table():
    stub = Path(_codecs.__file__).with_name("_classes.pyi")
    assert stub.read_text() == stub_source()
    # what _commands imports from it for type checkers: every class, nothing else
    tree = ast.parse(Path(_commands.__file__).read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "_classes" for alias in node.names]
    assert sorted(imported) == sorted(row.name for row in COMMAND_TABLE)
    # and the declarations compile, one class per row with the row's constructor
    declared = {node.name: node for node in ast.parse(stub.read_text()).body
                if isinstance(node, ast.ClassDef)}
    assert list(declared) == [row.name for row in COMMAND_TABLE]
    for row in COMMAND_TABLE:
        new = next(f for f in declared[row.name].body if getattr(f, "name", "") == "__new__")
        assert [a.arg for a in new.args.args[1:]] == [name for name, _ in row.fields]


def test_every_command_uses_the_generated_functions():
    for cls in ALL_COMMANDS:
        name = cls.__name__
        assert cls.__new__ is getattr(_codecs, f"{name}__new__")
        assert cls._header_fields is getattr(_codecs, f"{name}_header_fields")
        assert cls._from_wire.__func__ is getattr(_codecs, f"{name}_from_wire")
