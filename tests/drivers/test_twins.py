"""The behaviour suite, once for each driver (``catools.sync``'s I/O thread and
``catools.aio``'s event loop): missing PVs, an IOC restart under a monitor, 10,000
PVs, name servers, puts with callback, and the replies of a malicious server."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

import catools
from catools.results import Reading
from epics_env import ACCESS_ACF, RECORDS_DB, CaEnv
from twins import TWINS


@pytest.fixture(params=sorted(TWINS))
def twin_for(request):
    """``twin_for(ioc or None, **settings)``: a twin of this test's driver aimed at
    ``ioc`` over loopback (closed after the test)."""
    made = []

    def make(ioc=None, **settings):
        if ioc is not None:
            settings = {"server_port": ioc.port, "addr_list": ["127.0.0.1"],
                        "auto_addr_list": False, **settings}
        twin = TWINS[request.param](**settings)
        made.append(twin)
        return twin
    yield make
    for twin in made:
        twin.close()


@pytest.fixture(scope="module")
def ioc(module_softioc):
    return module_softioc(RECORDS_DB, acf=ACCESS_ACF)


def test_missing_pvs_fail_alone_within_one_timeout(twin_for, ioc):
    twin = twin_for(ioc)
    start = time.monotonic()
    results = twin.get(["TST:ai", "TST:nothing", "TST:long", "TST:nothing2"],
                       timeout=0.5, throw=False)
    took = time.monotonic() - start
    assert [r.ok for r in results] == [True, False, True, False]
    assert isinstance(results[1].error, catools.NotFound)
    assert results[1].name == "TST:nothing"
    assert results[0].value == pytest.approx(3.14159265)
    assert took < 1.5, took                 # one timeout for all, not one per name
    with pytest.raises(catools.NotFound) as err:
        twin.get("TST:nothing", timeout=0.2)
    assert err.value.name == "TST:nothing"
    # names not found are released (not searched for forever); found ones cached
    status = twin.ctx.status()
    assert "TST:ai" in status.connected and "TST:nothing" not in status.unconnected


def test_an_ioc_restart_under_a_monitor(twin_for, softioc):
    ioc = softioc()
    twin = twin_for(ioc)
    seen = twin.watch("TST:ai", [
        (lambda e: isinstance(e, Reading), ioc.stop_ioc),
        (lambda e: e == twin.lib.ConnectionLost("TST:ai"), ioc.start),
        (lambda e: e == twin.lib.Connected("TST:ai"), None),
        (lambda e: isinstance(e, Reading), twin.putter("TST:ai", 1.25)),
        (lambda e: isinstance(e, Reading) and e.value == 1.25, None),
    ], timeout=30.0)
    kinds = [type(e).__name__ for e in seen]
    assert kinds[:2] == ["Connected", "Update"], kinds
    assert "ConnectionLost" in kinds and kinds.count("Connected") == 2, kinds
    assert seen[-1].value == 1.25


def test_ten_thousand_pvs(twin_for, softioc):
    n = 10000
    ioc = softioc(records="".join(
        f'record(ao, "T:{i}") {{ field(VAL, "{i}") field(PREC, "1") }}\n'
        for i in range(n)), probe_pv="T:0")
    twin = twin_for(ioc)
    names = [f"T:{i}" for i in range(n)]
    readings = twin.get(names, timeout=30.0)
    assert [r.value for r in readings] == [float(i) for i in range(n)]
    assert [r.name for r in readings] == names
    assert len(twin.ctx.status().connected) == n
    results = twin.put({name: -float(i) for i, name in enumerate(names[:2000])},
                       wait=True, timeout=30.0)
    assert all(r.ok for r in results)
    assert [r.value for r in twin.get(names[:2000], timeout=30.0)] == \
        [-float(i) for i in range(2000)]


def test_name_servers_alone_find_the_pvs(twin_for, ioc):
    twin = twin_for(None, server_port=ioc.port, addr_list=[], auto_addr_list=False,
                    name_servers=f"127.0.0.1:{ioc.port}")
    assert twin.get("TST:long").value == twin.get("TST:long").value
    assert twin.ctx.status().search_targets == []
    assert isinstance(twin.info("TST:ai").host, str)
    assert not twin.get("TST:absent", timeout=0.3, throw=False).ok


def test_name_servers_from_the_environment(twin_for, ioc, monkeypatch):
    for name in ("EPICS_CA_ADDR_LIST", "EPICS_CA_AUTO_ADDR_LIST", "EPICS_CA_NAME_SERVERS",
                 "EPICS_CA_SERVER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EPICS_CA_AUTO_ADDR_LIST", "NO")
    monkeypatch.setenv("EPICS_CA_NAME_SERVERS", f"127.0.0.1:{ioc.port}")
    twin = twin_for(None)
    assert twin.get("TST:ai").value == pytest.approx(3.14159265)


def test_puts_with_callback(twin_for, softioc):
    twin = twin_for(softioc(RECORDS_DB, acf=ACCESS_ACF))     # (its own: TST:busy idle)
    start = time.monotonic()
    assert twin.put("TST:busy", 1, wait=True, timeout=10.0).ok
    assert time.monotonic() - start > 2.0        # TST:dly holds the callback ~3 s
    results = twin.put({"TST:ao": 2.5, "TST:long": 9}, wait=True)
    assert [(r.name, r.ok) for r in results] == [("TST:ao", True), ("TST:long", True)]
    assert twin.get("TST:ao").value == 2.5 and twin.get("TST:long").value == 9
    with pytest.raises(catools.AccessDenied):
        twin.put("TST:ro", 1.0, wait=True)
    with pytest.raises(catools.Timeout) as err:
        twin.put("TST:busy", 2, wait=True, timeout=0.5)
    assert err.value.name == "TST:busy"


def test_wait_for_and_info(twin_for, ioc):
    twin = twin_for(ioc)
    twin.put("TST:long", 5, wait=True)
    assert twin.wait_for("TST:long", "==5", timeout=5.0).value == 5
    with pytest.raises(catools.Timeout):
        twin.wait_for("TST:long", ">100", timeout=0.3)
    info = twin.info("TST:ai")
    assert info.native_count == 1 and info.read_access


# -- bad replies from a malicious server ---------------------------------------------

#: One driver's run against the malicious server (in a child: an address-space cap).
_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    import catools.sync, catools.aio
    from catools.results import Result
    kind, port = sys.argv[1], int(sys.argv[2])
    settings = dict(server_port=port, addr_list="127.0.0.1", auto_addr_list=False)
    names = ["M:scalar", "M:array", "M:long"]

    def check(results):
        assert all(isinstance(r, Result) for r in results), results
        print(sum(r.ok for r in results), "ok")

    if kind == "sync":
        with catools.sync.Context(**settings) as ctx:
            check(catools.sync.get(names, timeout=1.0, throw=False, context=ctx))
            check(catools.sync.info(names, timeout=1.0, throw=False, context=ctx))
            with catools.sync.monitor(names, context=ctx, timeout=1.0) as m:
                print(sum(1 for _ in zip(range(20), m)), "events")
    else:
        async def main():
            async with catools.aio.Context(**settings) as ctx:
                check(await catools.aio.get(names, timeout=1.0, throw=False, context=ctx))
                check(await catools.aio.info(names, timeout=1.0, throw=False, context=ctx))
                n = 0
                async with catools.aio.monitor(names, context=ctx, timeout=1.0) as m:
                    async for _ in m:
                        n += 1
                        if n == 20:
                            break
                print(n, "events")
                assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
        asyncio.run(main())
""")


@pytest.fixture(scope="module")
def hostile_env():
    env = CaEnv()
    try:
        yield env
    finally:
        env.close()


def _limit_memory() -> None:
    import resource
    from test_malicious_server import ADDRESS_SPACE
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", sorted(TWINS))
def test_bad_replies_from_a_malicious_server(hostile_env, kind, seed):
    """Seed 0 is the control (no mutation); the others mutate the replies as
    tests/hostile/test_malicious_server.py does for the tools."""
    from test_malicious_server import MaliciousServer
    with MaliciousServer(hostile_env, seed, mutate=seed > 0):
        proc = subprocess.run([sys.executable, "-c", _SCRIPT, kind, str(hostile_env.port)],
                              env=hostile_env.env, capture_output=True, text=True,
                              timeout=30, preexec_fn=_limit_memory)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 and lines[2].endswith("events"), proc.stdout
    if seed == 0:                   # the control: unmutated, everything is read
        assert lines[:2] == ["3 ok", "3 ok"], proc.stdout
