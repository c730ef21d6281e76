"""The protocol core does no I/O: no sockets, clocks, randomness or environment."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import catools

PROTOCOL_DIR = Path(catools.__file__).resolve().parent / "protocol"
FORBIDDEN_MODULES = ("socket", "selectors", "threading", "logging", "click", "rich")


def test_import_catools_loads_no_io_modules():
    code = ("import sys, json; import catools; "
            f"print(json.dumps([m for m in {FORBIDDEN_MODULES!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert json.loads(out.stdout) == []


def test_the_check_itself_sees_a_loaded_module():
    code = ("import sys, json; import catools, socket; "
            "print(json.dumps('socket' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert json.loads(out.stdout) is True


def forbidden_references(source: str) -> list[str]:
    """Names in ``source`` that would make the core impure."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("socket", "random", "time", "datetime",
                                                 "selectors", "threading"):
                    found.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            root = (node.module or "").split(".")[0]
            if root in ("socket", "random", "time", "datetime", "selectors", "threading"):
                found.append(f"from {node.module}")
            if root == "os" and any(a.name in ("environ", "getenv") for a in node.names):
                found.append("from os import environ/getenv")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            pair = (node.value.id, node.attr)
            if pair in (("os", "environ"), ("os", "getenv"), ("datetime", "now")) \
                    or node.value.id in ("time", "socket", "random"):
                found.append(".".join(pair))
        elif isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow") and \
                isinstance(node.value, ast.Attribute) and node.value.attr == "datetime":
            found.append("datetime.datetime.now")
    return found


def test_ast_checker_catches_each_kind():
    for bad in ("import os\nos.environ['X']", "import os\nos.getenv('X')",
                "import time\ntime.time()", "from time import monotonic",
                "import datetime\ndatetime.datetime.now()", "from datetime import datetime\n"
                "datetime.now()", "import socket", "import random\nrandom.random()",
                "from os import environ"):
        assert forbidden_references(bad), bad
    assert forbidden_references("import struct\nstruct.pack('>H', 1)") == []


def test_protocol_sources_are_pure():
    files = sorted(PROTOCOL_DIR.glob("*.py"))
    assert len(files) >= 10
    bad = {f.name: refs for f in files if (refs := forbidden_references(f.read_text()))}
    assert bad == {}
