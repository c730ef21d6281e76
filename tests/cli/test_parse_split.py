"""CaCommand hands click only the head of argv and appends the trailing plain words
(PV names) itself: the parse must come out exactly as click's own parse of all of argv."""
from __future__ import annotations

import click
import pytest
from hypothesis import given, settings, strategies as st

from catools.cli._getopt import split_plain_tail
from catools.cli.caget import command as caget
from catools.cli.cainfo import command as cainfo
from catools.cli.camonitor import command as camonitor
from clihelpers import click_parse

WORDS = st.sampled_from([
    "PV:A", "PV:B", "5", "0.5", "DBR_DOUBLE", "x", "", "-", "--", "-w", "-w5", "-t", "-a",
    "-d", "-#", "-#3", "-F", "-F,", "-c", "-n", "-s", "-S", "-e", "-f3", "-g", "-0x", "-lx",
    "-p", "-z", "-tn", "-m", "-q", "--json", "--file", "--file=x", "--jsn", "--", "-v"])


def outcome(command: click.Command, args: list[str], split: bool) -> tuple:
    saved = command.split_names
    command.split_names = split
    try:
        return click_parse(command, args)
    finally:
        command.split_names = saved


@pytest.mark.parametrize("command", [caget, cainfo, camonitor], ids=lambda c: c.name)
@given(args=st.lists(WORDS, max_size=12))
@settings(max_examples=300, deadline=None)
def test_split_parse_equals_click_parse(command, args):
    assert outcome(command, args, True) == outcome(command, args, False)


def test_the_tail_is_the_plain_words_after_the_last_option_and_its_value():
    assert split_plain_tail(["-w", "5", "A", "B"]) == (["-w", "5"], ["A", "B"])
    assert split_plain_tail(["A", "-t", "B", "C"]) == (["A", "-t", "B"], ["C"])
    assert split_plain_tail(["A", "B"]) == (["A"], ["B"])
    assert split_plain_tail(["A", "--", "-x", "B"]) == (["A", "--", "-x", "B"], [])
    assert split_plain_tail([]) == ([], [])


def test_caput_is_not_split():
    from catools.cli.caput import command as caput
    assert caput.split_names is False      # caput stops at the PV name, no permutation
    assert caget.split_names and cainfo.split_names and camonitor.split_names
