"""The man pages in man/: they document exactly the options of the click commands, and
groff renders them without warnings.

Convention (stated at the top of every page): an *option entry* is a ``.TP`` paragraph
whose tag line is a ``.B``/``.BI``/``.BR`` request whose first argument starts with
``\\-``; every argument of the tag line that reads as an option (``-x``, ``--long``)
after unescaping ``\\-`` is one of the entry's options. In catools.1 the group's options
are the entries under ``.SH OPTIONS`` and each subcommand is a ``.SS`` under
``.SH COMMANDS``, holding that subcommand's entries.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from catools.cli import SUBCOMMANDS
from catools.cli.group import cli
from catools.cli.caget import command as caget_command
from catools.cli.cainfo import command as cainfo_command
from catools.cli.camonitor import command as camonitor_command
from catools.cli.caput import command as caput_command
from catools.cli.casw import command as casw_command

MAN_DIR = Path(__file__).resolve().parent.parent / "man"
TOOLS = {"caget": caget_command, "caput": caput_command, "cainfo": cainfo_command,
         "camonitor": camonitor_command, "casw": casw_command}
#: The tools with -V (the version line) and the client variables.
CA_TOOLS = ["caget", "caput", "cainfo", "camonitor"]
PAGES = [*TOOLS, "catools"]
TAG_MACROS = {".B", ".BI", ".BR", ".IB", ".RB"}
OPTION_RE = re.compile(r"^--?[A-Za-z0-9#][A-Za-z0-9_-]*$")


# --------------------------------------------------------------------------- parsing

def page_text(name: str) -> str:
    return (MAN_DIR / f"{name}.1").read_text(encoding="utf-8")


def tag_options(line: str) -> list[str]:
    """The options named on a .TP tag line (empty if it is not an option entry)."""
    macro, _, rest = line.partition(" ")
    if macro not in TAG_MACROS:
        return []
    try:
        args = shlex.split(rest.replace("\\", "\\\\"), posix=True)
    except ValueError:
        args = rest.split()
    args = [a.replace("\\\\", "\\") for a in args]
    if not args or not args[0].startswith("\\-"):
        return []
    out = []
    for arg in args:
        word = arg.replace("\\-", "-").strip().rstrip(",")
        if OPTION_RE.match(word):
            out.append(word)
    return out


def option_entries(text: str) -> list[tuple[str, str, list[str]]]:
    """(section, subsection, options) of every option entry, in page order."""
    lines = text.splitlines()
    section = subsection = ""
    out = []
    for i, line in enumerate(lines):
        if line.startswith(".SH"):
            section, subsection = line[3:].strip().strip('"'), ""
        elif line.startswith(".SS"):
            subsection = line[3:].strip().strip('"')
        elif line.strip() == ".TP" and i + 1 < len(lines):
            opts = tag_options(lines[i + 1])
            if opts:
                out.append((section, subsection, opts))
    return out


def documented(text: str, section: str, subsection: str | None = None) -> list[str]:
    """Options of the entries in ``section`` (and ``subsection``, if given)."""
    return [opt for sec, sub, opts in option_entries(text)
            if sec == section and (subsection is None or sub == subsection)
            for opt in opts]


def click_options(command: click.Command) -> set[str]:
    """Every visible option string of a click command (incl. its help option)."""
    ctx = click.Context(command, info_name=command.name, **(command.context_settings or {}))
    out: set[str] = set()
    for param in command.get_params(ctx):
        if isinstance(param, click.Option) and not param.hidden:
            out.update(param.opts)
            out.update(param.secondary_opts)
    return out


def subcommand(name: str) -> click.Command:
    ctx = click.Context(cli, info_name="catools")
    cmd = cli.get_command(ctx, name)
    assert cmd is not None, name
    return cmd


# --------------------------------------------------------------------------- the parser

def test_tag_parser() -> None:
    assert tag_options(r".BR \-h \", \" \-\-help") == ["-h", "--help"]
    assert tag_options(r'.BR \-h ", " \-\-help') == ["-h", "--help"]
    assert tag_options(r'.BI \-w " sec"') == ["-w"]
    assert tag_options(r'.BI \-# " count"') == ["-#"]
    assert tag_options(r".B \-0") == ["-0"]
    assert tag_options(r'.BI \-\-file " file"') == ["--file"]
    assert tag_options(".B EPICS_CA_ADDR_LIST") == []
    assert tag_options(".B 0") == []
    assert tag_options(r".I \-w") == []


def test_entries_are_found_in_sections() -> None:
    text = ".SH OPTIONS\n.TP\n.B \\-a\nx\n.SH X\n.SS y\n.TP\n.BI \\-\\-b \" n\"\nz\n"
    assert option_entries(text) == [("OPTIONS", "", ["-a"]), ("X", "y", ["--b"])]


# --------------------------------------------------------------------------- (a) options

@pytest.mark.parametrize("tool", list(TOOLS))
def test_every_click_option_is_documented(tool: str) -> None:
    missing = click_options(TOOLS[tool]) - set(documented(page_text(tool), "OPTIONS"))
    assert not missing, f"{tool}.1 lacks option entries for {sorted(missing)}"


@pytest.mark.parametrize("tool", list(TOOLS))
def test_every_documented_option_exists(tool: str) -> None:
    text = page_text(tool)
    entries = option_entries(text)
    assert entries, f"no option entries parsed from {tool}.1"
    outside = [e for e in entries if e[0] != "OPTIONS"]
    assert not outside, f"option entries outside OPTIONS in {tool}.1: {outside}"
    unknown = set(documented(text, "OPTIONS")) - click_options(TOOLS[tool])
    assert not unknown, f"{tool}.1 documents options {sorted(unknown)} that {tool} lacks"


@pytest.mark.parametrize("tool", list(TOOLS))
def test_no_option_is_documented_twice(tool: str) -> None:
    opts = documented(page_text(tool), "OPTIONS")
    assert len(opts) == len(set(opts)), sorted(o for o in opts if opts.count(o) > 1)


def test_catools_group_options() -> None:
    text = page_text("catools")
    assert set(documented(text, "OPTIONS")) == click_options(cli)


def test_catools_documents_every_subcommand() -> None:
    text = page_text("catools")
    subsections = {sub for sec, sub in _subsections(text) if sec == "COMMANDS"}
    assert set(SUBCOMMANDS) <= subsections, sorted(set(SUBCOMMANDS) - subsections)
    assert subsections <= set(SUBCOMMANDS), sorted(subsections - set(SUBCOMMANDS))


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_catools_subcommand_options(name: str) -> None:
    """serve's options are all documented in catools.1; a subcommand that lists options
    there (the tools point to their own pages instead) lists exactly its own."""
    text = page_text("catools")
    opts = documented(text, "COMMANDS", name)
    if name == "serve":
        assert opts, "catools.1 documents no options of serve"
    if opts:
        assert set(opts) == click_options(subcommand(name)), name
        assert len(opts) == len(set(opts))


def test_entries_of_catools_are_in_known_places() -> None:
    text = page_text("catools")
    for sec, sub, opts in option_entries(text):
        assert sec == "OPTIONS" or (sec == "COMMANDS" and sub in SUBCOMMANDS), (sec, sub, opts)


def test_tool_pages_cross_reference_catools() -> None:
    for tool in TOOLS:
        assert ".BR catools (1)" in page_text(tool), tool
        assert f".BR {tool} (1)" in page_text("catools"), tool


def _subsections(text: str) -> list[tuple[str, str]]:
    section, out = "", []
    for line in text.splitlines():
        if line.startswith(".SH"):
            section = line[3:].strip().strip('"')
        elif line.startswith(".SS"):
            out.append((section, line[3:].strip().strip('"')))
    return out


# --------------------------------------------------------------------------- content

REQUIRED_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT",
                     "EXIT STATUS", "OUTPUT", "DIFFERENCES FROM EPICS BASE", "EXAMPLES",
                     "SEE ALSO"]
CLIENT_VARIABLES = ["EPICS_CA_ADDR_LIST", "EPICS_CA_AUTO_ADDR_LIST", "EPICS_CA_NAME_SERVERS",
                    "EPICS_CA_SERVER_PORT", "EPICS_CA_REPEATER_PORT", "EPICS_CA_CONN_TMO",
                    "EPICS_CA_MAX_ARRAY_BYTES", "EPICS_CA_AUTO_ARRAY_BYTES",
                    "EPICS_CA_MAX_SEARCH_PERIOD", "EPICS_CLI_TIMEOUT", "NO_COLOR"]
#: What casw reads (catools.cli.casw) and its exit statuses (those of the C casw).
CASW_VARIABLES = ["EPICS_CA_SERVER_PORT", "EPICS_CA_REPEATER_PORT"]


@pytest.mark.parametrize("page", PAGES)
def test_sections(page: str) -> None:
    sections = [line[3:].strip().strip('"') for line in page_text(page).splitlines()
                if line.startswith(".SH")]
    for name in REQUIRED_SECTIONS:
        assert name in sections, f"{page}.1 has no {name} section"


@pytest.mark.parametrize("page", PAGES)
def test_environment_and_exit_status(page: str) -> None:
    text = page_text(page)
    env = _section(text, "ENVIRONMENT")
    for var in CASW_VARIABLES if page == "casw" else CLIENT_VARIABLES:
        assert re.search(rf"^\.BR? .*\b{var}\b", env, re.M), f"{page}.1: {var}"
    statuses = re.findall(r"^\.TP\n\.B (\d+)$", _section(text, "EXIT STATUS"), re.M)
    if page == "casw":
        assert set(statuses) == {"0", "1", "255", "130", "143", "141"}, statuses
    elif page != "catools":
        assert {"0", "1", "130", "143", "141"} <= set(statuses), (page, statuses)


def test_casw_reads_what_its_page_says() -> None:
    import inspect

    from catools.cli import casw
    names = set(re.findall(r'"(EPICS_[A-Z_]+)"', inspect.getsource(casw)))
    assert names == set(CASW_VARIABLES)


def test_catools_documents_the_client_variables_and_beacons() -> None:
    for page in [*CA_TOOLS, "catools"]:
        env = _section(page_text(page), "ENVIRONMENT")
        assert ".B Beacons." in env and "SO_BROADCAST" in env, page


def test_serve_environment() -> None:
    from catools.config import ServerConfig
    import inspect
    env = _section(page_text("catools"), "ENVIRONMENT")
    names = set(re.findall(r'"(EPICS_CAS_[A-Z_]+)"', inspect.getsource(ServerConfig)))
    assert names, "no EPICS_CAS_ names found in ServerConfig"
    for var in names:
        assert var in env, var


def test_json_non_finite_spelling_matches_the_formatter() -> None:
    from catools.format import _json
    spelled = {_json._finite(float("nan")), _json._finite(float("inf")),
               _json._finite(float("-inf"))}
    assert spelled == {"NaN", "Infinity", "-Infinity"}
    for page in ("caget", "camonitor", "caput"):
        out = _section(page_text(page), "OUTPUT")
        for word in spelled:
            assert f"\\(dq{word.replace('-', chr(92) + '-')}\\(dq" in out, (page, word)


def test_version_text_matches_the_code() -> None:
    from catools.cli._app import VERSION_TEXT
    line = VERSION_TEXT.strip()
    for tool in CA_TOOLS:
        assert line in page_text(tool), tool


def _section(text: str, name: str) -> str:
    m = re.search(rf'^\.SH "?{re.escape(name)}"?\n(.*?)(?=^\.SH |\Z)', text, re.M | re.S)
    assert m, f"no section {name}"
    return m.group(1)


# --------------------------------------------------------------------------- (b) rendering

def _require(tool: str) -> str:
    path = shutil.which(tool)
    assert path, (f"{tool} is not installed (apt-get install groff-base man-db; "
                  ".ci/run does this)")
    return path


@pytest.mark.parametrize("page", PAGES)
def test_groff_renders_without_warnings(page: str) -> None:
    groff = _require("groff")
    proc = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", str(MAN_DIR / f"{page}.1")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


@pytest.mark.parametrize("page", PAGES)
def test_man_renders_without_warnings(page: str) -> None:
    man = _require("man")
    env = {"PATH": "/usr/bin:/bin", "MANWIDTH": "80", "LC_ALL": "C.UTF-8"}
    proc = subprocess.run([man, "--warnings=all", "-l", str(MAN_DIR / f"{page}.1")],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert page.upper() in proc.stdout and "NAME" in proc.stdout
