"""The one table of EPICS_* variables (catools.config.VARIABLES) agrees with what the
code reads, with the man pages' ENVIRONMENT sections and with the tools' help.

Rules: every ``"EPICS_..."`` name the source spells as a whole string is a row of the
table; outside config.py nothing reads one from a mapping itself (``env.get("EPICS_..")``,
``environ["EPICS_.."]``, ``"EPICS_.." in env``, ``getenv``): readers go through
``config.read``/``read_first``/``raw`` or a Config. ClientConfig and ServerConfig read
exactly their rows; each man page lists exactly the rows of its readers.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import catools
from catools import doctor
from catools.config import BY_NAME, VARIABLES, ClientConfig, ServerConfig, read, variables

SRC = Path(catools.__file__).resolve().parent
MAN_DIR = Path(__file__).resolve().parent.parent / "man"
#: A variable's name (not a prefix such as "EPICS_CA" or "EPICS_CAS_").
NAME = re.compile(r"^EPICS_[A-Z0-9]+_[A-Z0-9_]*[A-Z0-9]$")
#: Man page -> the readers whose rows its ENVIRONMENT section lists.
PAGES = {"caget": ("client", "tool"), "caput": ("client", "tool"),
         "cainfo": ("client", "tool"), "camonitor": ("client", "tool"),
         "cawait": ("client", "tool"), "casw": ("casw",),
         "catools": ("client", "tool", "server", "casw", "repeater")}
#: The tools whose -h ends with the environment block (casw's usage is C's, byte for byte).
HELP = {"caget": ("client", "tool"), "caput": ("client", "tool"),
        "cainfo": ("client", "tool"), "camonitor": ("client", "tool"),
        "cawait": ("client", "tool")}


# --------------------------------------------------------------------------- source

def _is_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and \
        bool(NAME.match(node.value))


def names_and_reads(text: str) -> tuple[set[str], list[str]]:
    """(every EPICS_* name spelled as a whole string, the places that read one from a
    mapping or the environment directly)."""
    names, reads = set(), []
    tree = ast.parse(text)
    defined = {node.id for node in ast.walk(tree)        # (a Python name in __all__)
               if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    for node in ast.walk(tree):
        if _is_name(node) and node.value not in defined:
            names.add(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("get", "getenv", "pop", "setdefault") and \
                node.args and _is_name(node.args[0]):
            reads.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Subscript) and _is_name(node.slice):
            reads.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Compare) and _is_name(node.left) and \
                any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            reads.append(f"line {node.lineno}: {ast.unparse(node)}")
    return names, reads


def sources() -> dict[str, str]:
    return {path.relative_to(SRC).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(SRC.rglob("*.py"))}


def test_checker_catches_a_variable_outside_the_table():
    names, reads = names_and_reads(
        "import os\nx = os.environ.get('EPICS_CA_FOO')\ny = os.getenv('EPICS_CA_BAR', '')\n"
        "z = env['EPICS_CAS_BAZ']\nw = 'EPICS_CLI_X' in env\n"
        "doc = 'mentions EPICS_CA_ADDR_LIST in prose'\n")
    assert names == {"EPICS_CA_FOO", "EPICS_CA_BAR", "EPICS_CAS_BAZ", "EPICS_CLI_X"}
    assert len(reads) == 4
    assert not names <= set(BY_NAME)


def test_every_variable_the_source_names_is_in_the_table():
    missing = {rel: sorted(n for n in names_and_reads(text)[0] if n not in BY_NAME)
               for rel, text in sources().items()}
    assert {rel: n for rel, n in missing.items() if n} == {}


def test_only_config_reads_the_variables():
    direct = {rel: reads for rel, text in sources().items()
              if rel != "config.py" and (reads := names_and_reads(text)[1])}
    assert direct == {}


def test_no_private_reader_of_the_environment():
    for rel, text in sources().items():
        assert "config import _" not in text and "config._" not in text, rel


# --------------------------------------------------------------------------- table

class Recorder(dict):
    """An empty environment that records the names asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key, default=None):  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def test_table_rows_are_well_formed():
    assert len(BY_NAME) == len(VARIABLES)
    readers = {"client", "tool", "server", "casw", "repeater", "doctor"}
    kinds = {"port", "seconds", "bytes", "addresses", "auto", "yes", "timeout", "text"}
    for v in VARIABLES:
        assert NAME.match(v.name) and v.kind in kinds and v.summary, v
        assert v.readers and set(v.readers) <= readers, v
        assert v.fallback is None or v.fallback in BY_NAME, v
        value = read({}, v.name)           # the default parses
        if v.default and v.kind in ("port", "bytes", "seconds"):
            assert value == float(v.default), v


@pytest.mark.parametrize("cls,readers", [(ClientConfig, ("client", "tool")),
                                         (ServerConfig, ("server",))])
def test_each_config_reads_exactly_its_rows(cls, readers):
    env = Recorder()
    cls.from_env(env)
    assert env.asked == {v.name for v in variables(*readers)}


def test_config_defaults_are_the_table_defaults():
    client, server = ClientConfig.from_env({}), ServerConfig.from_env({})
    assert client == ClientConfig()
    assert server == ServerConfig()
    assert client.server_port == server.port == int(BY_NAME["EPICS_CA_SERVER_PORT"].default)
    assert client.repeater_port == server.beacon_port == \
        int(BY_NAME["EPICS_CA_REPEATER_PORT"].default)
    assert client.conn_tmo == float(BY_NAME["EPICS_CA_CONN_TMO"].default)
    assert server.beacon_period == float(BY_NAME["EPICS_CA_BEACON_PERIOD"].default)


@pytest.mark.parametrize("module,reader", [("cli/casw.py", "casw"),
                                           ("cli/repeater.py", "repeater")])
def test_tools_read_their_rows(module, reader):
    names = names_and_reads((SRC / module).read_text(encoding="utf-8"))[0]
    assert names == {v.name for v in variables(reader)}


def test_cli_timeout_is_read_by_the_config_once():
    """A bad EPICS_CLI_TIMEOUT (even empty, as in C) is kept for the tools to warn."""
    assert ClientConfig.from_env({"EPICS_CLI_TIMEOUT": "2.5"}).cli_timeout == 2.5
    for text in ("", " ", "abc", "nan"):
        got = ClientConfig.from_env({"EPICS_CLI_TIMEOUT": text})
        assert (got.cli_timeout, got.ignored) == (None, (("EPICS_CLI_TIMEOUT", text),))
    assert ClientConfig.from_env({}).ignored == ()
    cli = (SRC / "cli" / "_options.py").read_text(encoding="utf-8")
    assert '"EPICS_CLI_TIMEOUT"' not in cli      # (the tools take the Config's value)


def test_doctor_shows_the_table():
    assert list(doctor.KNOWN) == [v.name for v in VARIABLES]
    assert doctor.KNOWN == {v.name: v.default for v in VARIABLES}


# --------------------------------------------------------------------------- man, help

def environment_names(page: str) -> set[str]:
    """The EPICS_* names on the .TP tag lines of a page's ENVIRONMENT section."""
    text = (MAN_DIR / f"{page}.1").read_text(encoding="utf-8")
    section = re.search(r"^\.SH ENVIRONMENT\n(.*?)^\.SH ", text, re.M | re.S)
    assert section, f"{page}.1 has no ENVIRONMENT section"
    lines = section.group(1).splitlines()
    names: set[str] = set()
    for tp, tag in zip(lines, lines[1:]):
        if tp.strip() == ".TP" and tag.startswith((".B ", ".BR ")):
            names.update(re.findall(r"\bEPICS_[A-Z0-9_]+\b", tag))
    return names


@pytest.mark.parametrize("page", sorted(PAGES))
def test_man_page_lists_exactly_its_rows(page):
    assert environment_names(page) == {v.name for v in variables(*PAGES[page])}


def test_every_man_page_is_checked():
    assert {p.stem for p in MAN_DIR.glob("*.1")} == set(PAGES)


@pytest.mark.parametrize("tool", sorted(HELP))
def test_help_lists_the_rows(tool):
    proc = subprocess.run([sys.executable, "-c",
                           f"import sys; from catools.cli import {tool}_main; "
                           f"sys.argv = ['{tool}', '-h']; {tool}_main()"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    listed = set(re.findall(r"^  (EPICS_[A-Z0-9_]+) ", proc.stderr, re.M))
    assert listed == {v.name for v in variables(*HELP[tool])}


@pytest.mark.parametrize("module, attribute, reader",
                         [("repeater", "command", "repeater"), ("serve", "serve", "server")])
def test_group_command_help_lists_its_rows(module, attribute, reader):
    from importlib import import_module

    from click.testing import CliRunner

    command = getattr(import_module(f"catools.cli.{module}"), attribute)
    result = CliRunner().invoke(command, ["--help"])
    listed = set(re.findall(r"^\s+(EPICS_[A-Z0-9_]+) ", result.output, re.M))
    assert listed == {v.name for v in variables(reader)}
