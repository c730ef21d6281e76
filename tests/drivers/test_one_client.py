"""Both drivers run the one client: the same client modules are loaded under each,
neither package defines search, back-off, circuit or request-policy logic of its own
or touches sockets or the wire format, and the asyncio twin starts no thread."""
from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

import catools
import catools.aio

SRC = Path(catools.__file__).parent
DRIVERS = ("sync", "aio")

#: The client's logic every driver must use, not copy.
SHARED = {"catools.client._operations", "catools.client._put", "catools.client._monitor",
          "catools.client._search", "catools.client._backoff", "catools.client._pool",
          "catools.client._circuit", "catools.client._finder", "catools.client._context",
          "catools.client._pv", "catools.client._callbacks", "catools.arguments"}
#: Names of the jobs that belong to the client only (as class or function names).
CLIENT_JOBS = ("search", "backoff", "beacon", "circuit", "finder", "scheduler",
               "request_type", "resolve_type", "period", "getmany", "subscribe",
               "poller", "stream")
#: Modules a driver never imports: the wire is the client's business.
WIRE = {"socket", "select", "selectors", "struct", "catools.protocol"}


def _loaded(driver: str) -> list[str]:
    """The catools modules loaded once ``driver``'s Context has made its client and run
    a get, a put and a monitor (the client loads some operations on first use)."""
    make = {
        "sync": "import catools.sync as lib\nctx = lib.Context(addr_list=[], "
                "auto_addr_list=False)\nctx.status(); ctx.io._start()\n"
                "lib.get('n:a', timeout=0.01, throw=False, context=ctx)\n"
                "lib.put('n:a', 1, timeout=0.01, throw=False, context=ctx)\n"
                "with lib.monitor('n:a', timeout=0.01, context=ctx) as m: list(m)\n"
                "ctx.close()",
        "aio": "import asyncio, catools.aio as lib\nasync def main():\n"
               "    async with lib.Context(addr_list=[], auto_addr_list=False) as ctx:\n"
               "        ctx.client\n"
               "        await lib.get('n:a', timeout=0.01, throw=False, context=ctx)\n"
               "        await lib.put('n:a', 1, timeout=0.01, throw=False, context=ctx)\n"
               "        async with lib.monitor('n:a', timeout=0.01, context=ctx) as m:\n"
               "            [e async for e in m]\n"
               "asyncio.run(main())",
    }[driver]
    code = f"import sys, json\n{make}\n" \
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('catools'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    return json.loads(out.stdout)


def test_each_driver_loads_the_same_client_logic():
    loaded = {driver: set(_loaded(driver)) for driver in DRIVERS}
    for driver in DRIVERS:
        assert SHARED <= loaded[driver], (driver, sorted(SHARED - loaded[driver]))
    client_modules = {d: {m for m in loaded[d] if m.startswith("catools.client.")}
                      for d in DRIVERS}
    assert client_modules["sync"] == client_modules["aio"]


def _sources(driver: str) -> dict[str, ast.Module]:
    return {path.name: ast.parse(path.read_text())
            for path in sorted((SRC / driver).glob("*.py"))}


def _violations(trees: dict[str, ast.Module]) -> list[str]:
    bad = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                low = node.name.lower().replace("_", "")
                jobs = [job for job in CLIENT_JOBS if job.replace("_", "") in low]
                if jobs:
                    bad.append(f"{name}: defines {node.name} ({jobs})")
            if isinstance(node, ast.Import):
                bad += [f"{name}: imports {a.name}" for a in node.names
                        if a.name.split(".")[0] in WIRE or a.name in WIRE]
            if isinstance(node, ast.ImportFrom):
                module = "catools." + (node.module or "") if node.level == 2 else \
                    node.module or ""
                if module in WIRE or module.split(".")[0] in WIRE:
                    bad.append(f"{name}: imports from {module}")
    return bad


def test_neither_driver_holds_client_logic():
    for driver in DRIVERS:
        assert _violations(_sources(driver)) == [], driver


def test_the_check_sees_copied_logic():
    fake = {"x.py": ast.parse("import socket\nfrom ..protocol import SearchRequest\n"
                              "class SearchScheduler: pass\n"
                              "def next_period(n): return n\n"
                              "def request_type(t): return t\n")}
    assert len(_violations(fake)) == 5


def test_the_asyncio_twin_starts_no_thread():
    async def main() -> None:
        async with catools.aio.Context(addr_list=["127.0.0.1:9"], auto_addr_list=False,
                                       server_port=9) as ctx:
            before = threading.enumerate()
            results = await catools.aio.get(["a", "b"], timeout=0.2, throw=False,
                                            context=ctx)
            assert [r.ok for r in results] == [False, False]
            assert threading.enumerate() == before
    before = threading.enumerate()
    asyncio.run(main())
    assert threading.enumerate() == before
