"""The rules that keep the layers apart (issue 14; the architecture notes' §5).

Each rule is a checker over the sources (AST or tokens) and a test that runs it on
``src/catools``; each checker is first shown to catch a violation in a small snippet.
The allowlists are explicit and may only shrink.

1. cli/ never imports ``catools.protocol``; client/ never imports format/ or cli/.
2. No package imports another package's private module or name; no command module
   imports another command module.
3. The client never prints (no ``print()``, no ``sys.stdout``/``sys.stderr``).
4. No protocol numbers outside protocol/ (heuristic, see :func:`protocol_numbers`).
5. ``class Reading`` is defined once, and no ``SimpleNamespace`` stands in for it.
6. The output mode (JSON, colour) is decided in cli/_output.py and cli/_options.py only.
7. No ``if TYPE_CHECKING:`` block in a class declares attributes (a split makes objects,
   not mixins).
8. Size budgets: a command module <= 200 lines, a module <= 600 lines (generated
   protocol/_codecs.py excluded), a class <= 300 lines.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import catools

SRC = Path(catools.__file__).resolve().parent
#: The console commands' modules (cli/__init__.py and the _underscored helpers are not).
COMMANDS = ("caget", "caput", "cainfo", "camonitor", "casw", "serve", "repeater", "group")


def sources(*parts: str) -> dict[str, str]:
    """``{path relative to catools/: text}`` of the .py files under ``parts``."""
    out = {}
    for part in parts or ("",):
        base = SRC / part
        files = [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))
        for path in files:
            out[path.relative_to(SRC).as_posix()] = path.read_text()
    return out


def module_name(rel: str) -> str:
    """``cli/caget.py`` -> ``catools.cli.caget`` (``x/__init__.py`` -> ``catools.x``)."""
    parts = ["catools", *rel[:-3].split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(rel: str, text: str) -> list[tuple[str, list[str]]]:
    """Each import of a module as ``(absolute module, [names imported from it])``."""
    me = module_name(rel)
    package = me if rel.endswith("__init__.py") else me.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, [alias.name for alias in node.names]))
    return found


def top_package(module: str) -> str | None:
    """``catools.cli._app`` -> ``cli``; None outside catools."""
    parts = module.split(".")
    return parts[1] if parts[0] == "catools" and len(parts) > 1 else None


# --------------------------------------------------------------------------- 1, 2: layers

#: Private imports across packages that are allowed: none.
PRIVATE_ALLOWLIST: set[tuple[str, str]] = set()


def layer_violations(files: dict[str, str]) -> list[str]:
    """cli/ importing protocol; client/ importing format/ or cli/; a private module or
    name of another package; a command module importing another command module."""
    bad = []
    for rel, text in files.items():
        mine = top_package(module_name(rel))
        for target, names in imports(rel, text):
            theirs = top_package(target)
            if theirs is None:
                continue
            # (from . import x: the names may be modules of the same package)
            modules = [f"{target}.{n}" for n in names] if theirs == mine else []
            if mine == "cli" and theirs == "protocol":
                bad.append(f"{rel}: cli imports {target}")
            if mine == "client" and theirs in ("format", "cli"):
                bad.append(f"{rel}: client imports {target}")
            if theirs != mine and theirs != "_version" and mine is not None:
                private = [p for p in target.split(".")[2:] if p.startswith("_")]
                private += [n for n in names if n.startswith("_") and n != "__version__"]
                if (private or theirs.startswith("_")) and \
                        (rel, target) not in PRIVATE_ALLOWLIST:
                    bad.append(f"{rel}: private {target} {private}")
            if mine == "cli" and rel[4:-3] in COMMANDS:
                for other in [target, *modules]:
                    if other.startswith("catools.cli.") and \
                            other.split(".")[2] in COMMANDS and other != module_name(rel):
                        bad.append(f"{rel}: command imports {other}")
    return bad


def test_layer_checker_catches_each_kind():
    cases = {
        "cli/caget.py": ["from ..protocol import FIRST_VALUE", "import catools.protocol",
                         "from .caput import run", "from . import caput",
                         "from ..format._rich import x", "from ..config import _get"],
        "client/_context.py": ["from ..format import caget_lines", "from ..cli import x"],
        "format/_names.py": ["from ..protocol._dbr import DBR_TYPES"],
    }
    for rel, snippets in cases.items():
        for snippet in snippets:
            assert layer_violations({rel: snippet}), (rel, snippet)
    fine = {"cli/caget.py": "from ._options import option\nfrom ..format import x\n"
                            "from .._version import __version__\nfrom . import enable_gc",
            "format/_names.py": "from ..protocol import DBR_TYPES\nfrom ._values import x"}
    assert layer_violations(fine) == []


def test_layers():
    assert layer_violations(sources()) == []


# --------------------------------------------------------------------------- 3: no printing

def prints(text: str) -> list[str]:
    """``print(...)`` calls and uses of ``sys.stdout``/``sys.stderr``."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "print":
            found.append(f"line {node.lineno}: print()")
        elif isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr") \
                and isinstance(node.value, ast.Name) and node.value.id == "sys":
            found.append(f"line {node.lineno}: sys.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "sys" and \
                any(a.name in ("stdout", "stderr") for a in node.names):
            found.append(f"line {node.lineno}: from sys import")
    return found


def test_print_checker_catches_each_kind():
    for bad in ("print('x')", "import sys\nsys.stderr.write('x')", "import sys\n"
                "sys.stdout.flush()", "from sys import stderr"):
        assert prints(bad), bad
    assert prints("log = []\nlog.append('x')\nwarn = callback") == []


def test_the_client_never_prints():
    bad = {rel: found for rel, text in sources("client").items() if (found := prints(text))}
    assert bad == {}


# --------------------------------------------------------------------------- 4: numbers

def _protocol_tables() -> tuple[set[int], set[int], set[int]]:
    from catools.protocol import COMMAND_TABLE, DBR_TYPES, CAStatus
    eca = {int(status) for status in CAStatus}
    commands = {row.command for row in COMMAND_TABLE}
    dbr = {row.id for row in DBR_TYPES if row.id > 6}
    return eca, commands, dbr


#: What the non-literal side of a comparison is about (its source text).
_STATUS = re.compile(r"status|eca", re.I)
_COMMAND = re.compile(r"command|\bcmd|\.ID\b|^ID$", re.I)
_DBR = re.compile(r"dbr|data_?type|dtype|req_type|request_type|native_type|\btyp\b", re.I)
#: Calls whose int arguments are DBR ids or ECA codes when they look like one.
_CALLS = re.compile(r"read|write|subscribe|message|RemoteError|StatusError|CAError|dbr|"
                    r"data_size|promote|decode|encode|zeros|status", re.I)
_CONSTANT = re.compile(r"^_?(DBR|ECA|CMD|CA_PROTO)_")


def _ints(node: ast.AST) -> list[int]:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [v for elt in node.elts for v in _ints(elt)]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return [-v for v in _ints(node.operand)]
    return []


def protocol_numbers(text: str) -> list[str]:
    """Integer literals that are protocol numbers, by a heuristic over the AST:

    * in a comparison (``==``, ``in``, ``<``...; each literal, also inside a tuple),
      against an expression whose source names a status (``status``, ``eca``: an ECA
      code, 1 included), a command (``command``, ``cmd``, ``.ID``: a command id) or a
      DBR type (``dbr``, ``data_type``, ``native_type``, ...: a DBR id above 6);
    * in an equality test (``==``, ``!=``, ``in``) with anything, an ECA code of 256 or
      more (they are distinctive; ``count > 400`` is a size);
    * as an argument of a call whose name looks like the protocol's (``read``,
      ``write``, ``subscribe``, ``ca_message``, ``RemoteError``, ``data_size``, ``zeros``,
      ...): a DBR id above 6 or an ECA code of 8 or more;
    * assigned to a constant named ``DBR_*``, ``ECA_*``, ``CMD_*`` (a table restated).

    Small numbers that mean something else (a length, a precision of 18, a byte mask)
    pass: the rule is about comparisons with protocol quantities, not every integer.
    """
    eca, commands, dbr = _protocol_tables()
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for i, operand in enumerate(operands):
                numbers = _ints(operand)
                if not numbers:
                    continue
                about = " ".join(ast.unparse(o) for j, o in enumerate(operands)
                                 if j != i and not _ints(o))
                equality = all(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn))
                               for op in node.ops)
                for n in numbers:
                    if (_STATUS.search(about) and n in eca) or \
                            (_COMMAND.search(about) and n in commands) or \
                            (_DBR.search(about) and n in dbr) or \
                            (equality and n >= 256 and n in eca):
                        found.append(f"line {node.lineno}: {ast.unparse(node)}")
                        break
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func).rsplit(".", 1)[-1]
            if _CALLS.search(name):
                args = [*node.args, *(k.value for k in node.keywords)]
                if any(n in dbr or (n >= 8 and n in eca) for a in args for n in _ints(a)):
                    found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            for target in node.targets:
                if isinstance(target, ast.Tuple):
                    names += [e.id for e in target.elts if isinstance(e, ast.Name)]
            if any(_CONSTANT.match(n) for n in names) and \
                    any(n > 6 for n in _ints(node.value)):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_number_checker_catches_each_kind():
    for bad in ("status == 0x170", "if reply.status == 1: pass", "command in (15, 19, 3)",
                "dbr_type > 38", "dbr_type < 0 or dbr_type > 38 or dbr_type in (35, 36)",
                "x = 28 <= data_type <= 34", "ca_status == 0xB0", "if x.code == 0x170: pass",
                "ctx.read(pv, 24, 1)", "ca_message(0xB0)", "RemoteError(name, 0x178)",
                "_DBR_TIME_STRING = 14", "DBR_PUT_ACKT, DBR_PUT_ACKS = 35, 36",
                "if header.command == 17: pass", "ok = cmd.ID == 17"):
        assert protocol_numbers(bad), bad
    for fine in ("x > 127", "len(args) == 2", "digits <= 18", "native_type in (2, 6)",
                 "count > 400", "v & 0xFF", "status == 0", "range(39)", "n = 16",
                 "ctx.read(pv, data_type, 1)", "if kind == 'update': pass",
                 "raise OSError(9, 'Bad file descriptor')"):
        assert protocol_numbers(fine) == [], fine


def test_no_protocol_numbers_outside_protocol():
    files = sources("cli", "client", "format", "sync", "aio", "results.py", "errors.py",
                    "arguments.py", "doctor.py", "snapshot.py", "config.py")
    bad = {rel: found for rel, text in files.items() if (found := protocol_numbers(text))}
    assert bad == {}


# --------------------------------------------------------------------------- 5: one Reading

def reading_shapes(files: dict[str, str]) -> list[str]:
    """Every ``class Reading`` and every ``SimpleNamespace(...)``."""
    found = []
    for rel, text in files.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.name == "Reading":
                found.append(f"{rel}:{node.lineno}: class Reading")
            elif isinstance(node, ast.Call) and \
                    ast.unparse(node.func).endswith("SimpleNamespace"):
                found.append(f"{rel}:{node.lineno}: SimpleNamespace")
    return found


def test_reading_checker_catches_each_kind():
    assert len(reading_shapes({"a.py": "class Reading: pass", "b.py": "class Reading:\n"
                               "    pass\nimport types\nr = types.SimpleNamespace(x=1)"})) == 3


def test_reading_is_defined_once():
    found = reading_shapes(sources())
    assert [entry.split(":")[0] for entry in found] == ["results.py"], found


# --------------------------------------------------------------------------- 6: output mode

#: Words of the output-mode decision, and where they may appear.
OUTPUT_WORDS = ("as_json", "colorize", "isatty", "NO_COLOR")
OUTPUT_PLACES = ("cli/_output.py", "cli/_options.py", "format/_rich.py")


def output_mode_words(text: str) -> list[str]:
    """Names (and string literals) of :data:`OUTPUT_WORDS` in ``text``."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.NAME and token.string in OUTPUT_WORDS:
            found.append(f"line {token.start[0]}: {token.string}")
        elif token.type == tokenize.STRING and "NO_COLOR" in token.string:
            found.append(f"line {token.start[0]}: NO_COLOR")
    return found


def test_output_mode_checker_catches_each_kind():
    for bad in ("def f(as_json): pass", "out.colorize(x)", "sys.stdout.isatty()",
                "os.environ.get('NO_COLOR')"):
        assert output_mode_words(bad), bad
    assert output_mode_words("sink = open_sink(output)\nmake_colorizer(True)") == []


def test_output_mode_is_decided_in_one_place():
    bad = {rel: found for rel, text in sources().items()
           if rel not in OUTPUT_PLACES and (found := output_mode_words(text))}
    assert bad == {}


# --------------------------------------------------------------------------- 7: mixins

def mixin_declarations(text: str) -> list[str]:
    """``if TYPE_CHECKING:`` blocks inside a class that declare attributes."""
    found = []
    for cls in (n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.ClassDef)):
        for node in cls.body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and \
                    any(isinstance(n, (ast.AnnAssign, ast.Assign)) for n in node.body):
                found.append(f"line {node.lineno}: class {cls.name}")
    return found


def test_mixin_checker_catches_it():
    snippet = ("from typing import TYPE_CHECKING\nclass Discovery:\n"
               "    if TYPE_CHECKING:\n        circuits: dict\n    def f(self): pass\n")
    assert mixin_declarations(snippet)
    assert mixin_declarations("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from x import Y\n") == []


def test_no_type_checking_mixins():
    bad = {rel: found for rel, text in sources().items()
           if (found := mixin_declarations(text))}
    assert bad == {}


# --------------------------------------------------------------------------- 8: sizes

COMMAND_LINES, MODULE_LINES, CLASS_LINES = 200, 600, 300
#: Generated, not hand-written.
GENERATED = ("protocol/_codecs.py",)
#: Breakers allowed at their size (none: the server's split emptied them).
MODULE_ALLOWLIST: dict[str, int] = {}
CLASS_ALLOWLIST: dict[tuple[str, str], int] = {}


def size_violations(files: dict[str, str]) -> list[str]:
    """Command modules over 200 lines, modules over 600, classes over 300 (allowlisted
    ones over their listed size)."""
    found = []
    for rel, text in files.items():
        if rel in GENERATED:
            continue
        lines = len(text.splitlines())
        if rel.startswith("cli/") and rel[4:-3] in COMMANDS and lines > COMMAND_LINES:
            found.append(f"{rel}: command module of {lines} lines")
        if lines > MODULE_ALLOWLIST.get(rel, MODULE_LINES):
            found.append(f"{rel}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if size > CLASS_ALLOWLIST.get((rel, node.name), CLASS_LINES):
                    found.append(f"{rel}: class {node.name} of {size} lines")
    return found


def test_size_checker_catches_each_kind():
    big_class = "class A:\n" + "    x = 1\n" * 300
    assert size_violations({"format/a.py": big_class})
    assert size_violations({"format/a.py": "x = 1\n" * 601})
    assert size_violations({"cli/caget.py": "x = 1\n" * 201})
    assert size_violations({"cli/_output.py": "x = 1\n" * 201}) == []
    assert size_violations({"protocol/_codecs.py": "x = 1\n" * 700}) == []


def test_size_budgets():
    assert size_violations(sources()) == []
