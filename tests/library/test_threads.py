"""The library from many threads, over many calls, and across os.fork()."""
from __future__ import annotations

import os
import threading

import catools
import catools.sync


EXPECTED = {"TST:long": 42, "TST:str": "hello world", "TST:mbbi": "Two",
            "TST:longin": 7, "TST:neg": -5, "TST:bo": "Closed", "TST:ro": 7.0,
            "TST:wfl": [1, -2, 0, 5, 0, 0, 0, 0]}


def test_eight_threads_doing_200_gets_each(context_for, module_ioc):
    names = list(EXPECTED)
    errors: list[str] = []
    counts = [0] * 8

    def work(k: int, ctx: catools.Context) -> None:
        try:
            for i in range(200):
                if i % 10 == 9:
                    got = catools.get(names, context=ctx)
                    assert [r.value for r in got] == list(EXPECTED.values())
                else:
                    name = names[(k + i) % len(names)]
                    assert catools.get(name, context=ctx).value == EXPECTED[name], name
                counts[k] += 1
        except Exception as exc:
            errors.append(f"thread {k}: {exc!r}")

    with context_for(module_ioc) as ctx:
        threads = [threading.Thread(target=work, args=(k, ctx)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert errors == []
    assert counts == [200] * 8


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_thousand_calls_leave_no_fds_or_threads_behind(context_for, module_ioc):
    before = (_fds(), threading.active_count())
    ctx = context_for(module_ioc)
    assert catools.get("TST:ao", context=ctx).ok
    after_first = (_fds(), threading.active_count())
    assert after_first[1] == before[1] + 1             # the I/O thread
    for i in range(500):
        catools.put("TST:ao", float(i % 10), wait=bool(i % 2), context=ctx)
        assert catools.get("TST:ao", context=ctx).value == float(i % 10)
    catools.get(["TST:ao", "LIB:missing"], timeout=0.2, throw=False, context=ctx)
    with catools.monitor("TST:ao", callback=lambda event: None, context=ctx):
        pass
    assert (_fds(), threading.active_count()) == after_first
    ctx.close()
    assert (_fds(), threading.active_count()) == before


def test_a_forked_child_gets_a_fresh_context(context_for, module_ioc, ioc_environ):
    parent_default = catools.sync.default_context()
    assert catools.get("TST:ai").ok
    explicit = context_for(module_ioc)
    assert catools.get("TST:long", context=explicit).value == 42
    pid = os.fork()
    if pid == 0:                                         # the child
        code = 10
        try:
            code = 11
            assert catools.get("TST:mbbi").value == "Two"         # a new default one
            code = 12
            assert catools.sync.default_context() is not parent_default
            code = 13
            try:
                catools.get("TST:ai", context=explicit)
            except catools.CAError as exc:
                code = 0 if "fork" in str(exc) else 14
            explicit.close()           # (the parent's: nothing of it is touched)
            catools.sync.close()       # (what atexit does)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent's channels were not cleared by the child: they still answer
    assert catools.sync.default_context() is parent_default
    assert catools.get("TST:ai", timeout=2.0).ok
    assert catools.get("TST:long", timeout=2.0, context=explicit).value == 42
    explicit.close()
