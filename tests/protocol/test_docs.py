"""docs/commands.md is the rendering of the command table."""
from pathlib import Path

import catools

DOC = Path(__file__).resolve().parents[2] / "docs" / "commands.md"
MARK = "<!-- table -->\n"


def test_commands_md_matches_the_table():
    text = DOC.read_text()
    assert MARK in text
    assert text[text.rindex(MARK) + len(MARK):] == catools.protocol.command_table_markdown()


def test_rendering_has_a_row_per_command():
    rows = catools.protocol.command_table_markdown().splitlines()[2:]
    assert len(rows) == len(catools.COMMAND_TABLE) == 34
    assert any(r.startswith("| 15 | ReadNotifyResponse | server | tcp |") for r in rows)
