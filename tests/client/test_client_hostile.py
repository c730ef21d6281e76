"""The blocking client against a scripted server (``fakeioc``) where its callers or the
server misbehave: callbacks that block on their own Context, callbacks that raise,
rejected plain puts, puts too long, replies for unknown ids, long-lived contexts, bad
timeouts."""
from __future__ import annotations

import math
import signal
import struct
import time

import pytest

import epics_env
from fakeioc import ECA_PUTFAIL, ScriptedIoc
from catools.client import CaStatusError, Context
from catools.config import ClientConfig
from catools.protocol import CAStatus


@pytest.fixture
def port():
    port, repeater_port = epics_env.free_port_pair()
    try:
        yield port
    finally:
        epics_env.release_port(port)
        epics_env.release_port(repeater_port)


def _context(port: int, warnings: list | None = None) -> Context:
    config = ClientConfig(addr_list=[("127.0.0.1", port)], auto_addr_list=False,
                          server_port=port, max_search_period=1.0)
    sink = warnings if warnings is not None else []
    return Context(config, on_warning=lambda message, text: sink.append((message, text)))


def _connected(ctx: Context, *names: str):
    pvs = ctx.pvs_for(names)
    assert ctx.wait_connected(pvs, 5.0)
    return pvs


def _values(response) -> list[float]:
    return list(response.data)


# -- a. a callback that blocks on its own Context ------------------------------------

class _BurstIoc(ScriptedIoc):
    """EVENT_ADD on A: updates 1 and 2 in one segment; the first write to B brings
    update 3 (so a nested loop reads 3 while 2 waits to be delivered)."""

    def __init__(self, port: int) -> None:
        super().__init__(port, {"A": [0.0], "B": [0.0]})
        self.sent_third = False

    def answer(self, conn, cmd, dtype, count, p1, p2, body, raw):
        if cmd == 1 and conn.channels.get(p1) == "A":
            conn.subs[p2] = (p1, dtype)
            return self.update(p2, [1.0]) + self.update(p2, [2.0])
        reply = self.default_answer(conn, cmd, dtype, count, p1, p2, body, raw)
        if cmd in (4, 19) and not self.sent_third:
            self.sent_third = True
            subid = next(s for s, (sid, _) in conn.subs.items() if conn.channels[sid] == "A")
            return reply + self.update(subid, [3.0])
        return reply


def test_a_callback_that_puts_and_waits_sees_updates_in_order(port):
    with _BurstIoc(port) as ioc, _context(port) as ctx:
        a, b = _connected(ctx, "A", "B")
        seen: list[float] = []

        def follow(sub, event, response):
            if event != "update":
                return
            value = _values(response)[0]
            seen.append(value)
            op = ctx.write(b, [value], notify=True)       # a put with wait, in a callback
            assert ctx.wait([op], 5.0) and op.error is None

        ctx.subscribe(a, follow, data_type=6)
        assert ctx.run_until(lambda: len(seen) >= 3, 5.0)
        assert ctx.sync(b, 5.0)
        assert seen == [1.0, 2.0, 3.0]
        assert ioc.pvs["B"] == [3.0]                      # the follower is not stale


class _StreamIoc(ScriptedIoc):
    """A fast stream on A: its first update at EVENT_ADD, each next one (up to 400)
    right behind the reply to a put on B (so it arrives while a put waits)."""

    def __init__(self, port: int) -> None:
        super().__init__(port, {"A": [0.0], "B": [0.0]})
        self.next = 0

    def answer(self, conn, cmd, dtype, count, p1, p2, body, raw):
        reply = self.default_answer(conn, cmd, dtype, count, p1, p2, body, raw)
        if (cmd == 1 and conn.channels.get(p1) == "A") or (cmd == 19 and self.next < 400):
            subid = next(s for s, (sid, _) in conn.subs.items() if conn.channels[sid] == "A")
            reply = (reply if cmd == 19 else b"") + self.update(subid, [float(self.next)])
            self.next += 1
        return reply


def test_callbacks_that_block_never_nest_under_a_fast_stream(port):
    with _StreamIoc(port), _context(port) as ctx:
        a, b = _connected(ctx, "A", "B")
        seen: list[float] = []
        depth = [0, 0]                  # (now, most)

        def follow(sub, event, response):
            if event != "update":
                return
            depth[0] += 1
            depth[1] = max(depth)
            try:
                seen.append(_values(response)[0])
                op = ctx.write(b, [seen[-1]], notify=True)
                ctx.wait([op], 5.0)
            finally:
                depth[0] -= 1

        ctx.subscribe(a, follow, data_type=6)
        assert ctx.run_until(lambda: len(seen) >= 400, 10.0)
        assert seen == [float(i) for i in range(400)]
        assert depth[1] == 1            # never a callback inside a callback


# -- b. an exception in a callback -------------------------------------------------

class _BatchIoc(ScriptedIoc):
    """The create reply of D is held; the READ_NOTIFY of C is answered with an update
    of A, D's create reply, an update of B and C's read reply, in one segment."""

    def __init__(self, port: int) -> None:
        super().__init__(port, {"A": [1.0], "B": [2.0], "C": [3.0], "D": [4.0]})
        self.held = b""

    def answer(self, conn, cmd, dtype, count, p1, p2, body, raw):
        if cmd == 18 and body.startswith(b"D\0"):
            self.held = self.created(conn, "D", p1)
            return b""
        if cmd == 15 and conn.channels.get(p1) == "C":
            subs = {conn.channels[sid]: s for s, (sid, _) in conn.subs.items()}
            return (self.update(subs["A"], [10.0]) + self.held + self.update(subs["B"], [20.0])
                    + self.read_reply(p2, [30.0]))
        return self.default_answer(conn, cmd, dtype, count, p1, p2, body, raw)


def test_an_exception_in_a_callback_is_reported_once_and_loses_nothing(port):
    warnings: list = []
    with _BatchIoc(port) as ioc, _context(port, warnings) as ctx:
        a, b, c = _connected(ctx, "A", "B", "C")
        got_b: list[float] = []

        def boom(sub, event, response):
            if event == "update" and _values(response) == [10.0]:
                raise RuntimeError("callback failed")

        ctx.subscribe(a, boom, data_type=6)
        ctx.subscribe(b, lambda sub, event, r: event == "update" and got_b.append(
            _values(r)[0]), data_type=6)
        assert ctx.run_until(lambda: got_b == [2.0], 5.0)
        d = ctx.pv("D")
        deadline = time.monotonic() + 5.0
        while not ioc.held and time.monotonic() < deadline:    # (set by the server thread)
            ctx.process(0.01)
        assert ioc.held
        op = ctx.read(c)
        ctx.wait([op], 5.0)
        assert op.done and op.error is None, (op.error, warnings)
        assert _values(op.result) == [30.0]
        assert ctx.wait_connected([d], 5.0)
        assert got_b == [2.0, 20.0]
        assert [w for w in warnings if "callback failed" in w[1]] == warnings
        assert len(warnings) == 1


# -- c. a rejected plain put does not taint the next ------------------------------

class _RejectIoc(ScriptedIoc):
    """A plain WRITE of a negative value is refused with an ERROR quoting it."""

    def answer(self, conn, cmd, dtype, count, p1, p2, body, raw):
        if cmd == 4 and struct.unpack_from(">d", body)[0] < 0:
            return self.error(raw, conn.cids[p1], ECA_PUTFAIL)
        return self.default_answer(conn, cmd, dtype, count, p1, p2, body, raw)


def test_a_rejected_plain_put_does_not_taint_later_puts(port):
    with _RejectIoc(port, {"R": [0.0]}) as ioc, _context(port) as ctx:
        (pv,) = _connected(ctx, "R")
        bad = ctx.write(pv, [-1.0], confirm=True)
        assert ctx.wait([bad], 5.0)
        assert bad.error.status == ECA_PUTFAIL
        later = ctx.write(pv, [5.0], confirm=True)
        assert ctx.wait([later], 5.0)
        assert later.error is None                  # the old error was that put's alone
        assert ioc.pvs["R"] == [5.0]


def test_a_confirmed_plain_put_learns_its_own_outcome(port):
    with _RejectIoc(port, {"R": [0.0]}), _context(port) as ctx:
        (pv,) = _connected(ctx, "R")
        bad = ctx.write(pv, [-1.0], confirm=True)
        good = ctx.write(pv, [2.0], confirm=True)
        assert ctx.wait([bad, good], 5.0)
        assert isinstance(bad.error, CaStatusError) and bad.error.status == ECA_PUTFAIL
        assert good.error is None


# -- d. a put of more elements than the PV holds --------------------------------------

def test_a_put_longer_than_the_pv_is_refused_with_badcount(port):
    with ScriptedIoc(port, {"S": [0.0]}) as ioc, _context(port) as ctx:
        (pv,) = _connected(ctx, "S")
        op = ctx.write(pv, [1.0, 2.0, 3.0])
        assert op.done and isinstance(op.error, CaStatusError)
        assert op.error.status == CAStatus.ECA_BADCOUNT
        op = ctx.write(pv, [1.0, 2.0], notify=True)
        assert op.done and op.error.status == CAStatus.ECA_BADCOUNT
        assert ctx.sync(pv, 5.0)
        assert ioc.count(4) == ioc.count(19) == 0           # nothing was sent
        assert ioc.pvs["S"] == [0.0]


# -- e. replies for unknown ids ---------------------------------------------------

class _UnknownIdsIoc(ScriptedIoc):
    """READ_NOTIFY of U is answered twice, and followed by an update for a
    subscription id nobody made."""

    def answer(self, conn, cmd, dtype, count, p1, p2, body, raw):
        reply = self.default_answer(conn, cmd, dtype, count, p1, p2, body, raw)
        if cmd == 15 and conn.channels.get(p1) == "U":
            return reply + reply + self.update(987654, [9.0])
        return reply


def test_replies_for_unknown_ids_are_dropped_with_one_warning(port):
    warnings: list = []
    with _UnknownIdsIoc(port, {"U": [1.0], "V": [2.0]}) as ioc, \
            _context(port, warnings) as ctx:
        u, v = _connected(ctx, "U", "V")
        updates: list[float] = []
        ctx.subscribe(v, lambda sub, event, r: event == "update" and updates.append(
            _values(r)[0]), data_type=6)
        for _ in range(3):
            op = ctx.read(u)
            assert ctx.wait([op], 5.0) and op.error is None
        op = ctx.read(v)
        assert ctx.wait([op], 5.0) and _values(op.result) == [2.0]
        assert ctx.sync(u, 5.0)
        assert u.connected and v.connected
        assert len(ioc.conns) == 1                          # the circuit stayed
        assert updates == [2.0]
        assert len(warnings) == 1, warnings


# -- f. a long-lived Context does not grow ----------------------------------------

def test_cancelled_subscriptions_leave_every_table(port):
    with ScriptedIoc(port, {"M": [1.0]}), _context(port) as ctx:
        (pv,) = _connected(ctx, "M")
        for _ in range(50):
            got: list = []
            sub = ctx.subscribe(pv, lambda s, e, r: got.append(e), data_type=6)
            assert ctx.run_until(lambda: "update" in got, 5.0)
            sub.cancel()
        assert ctx.sync(pv, 5.0)
        (circuit,) = ctx.circuits.values()
        assert len(circuit.subs) == 0
        assert pv.subscriptions == []


def test_released_names_are_not_searched_again(port):
    with ScriptedIoc(port, {"OK": [1.0]}) as ioc, _context(port) as ctx:
        names = [f"MISSING:{i:04d}" for i in range(200)]
        pvs = ctx.pvs_for(names)
        ok = ctx.pv("OK")
        assert ctx.wait_connected([ok], 5.0)
        assert not ctx.wait_connected(pvs, 0.3)
        assert ioc.search_names.count(names[0]) >= 2       # searched, unanswered
        for pv in pvs:
            ctx.release(pv)
        ok.release()
        assert ctx.run_until(lambda: ioc.count(12, "OK") == 1, 5.0)   # CLEAR_CHANNEL
        before = len(ioc.search_names)
        ctx.run_until(lambda: False, 1.5)                  # several back-off periods
        assert len(ioc.search_names) == before
        assert ctx.pvs == {}
        status = ctx.describe()
        assert status.unconnected == () and all(c.pvs == () for c in status.circuits)


def test_describe_lists_circuits_and_unconnected_pvs(port):
    with ScriptedIoc(port, {"OK": [1.0]}), _context(port) as ctx:
        (ok,) = _connected(ctx, "OK")
        missing = ctx.pv("NOPE")
        status = ctx.describe()
        assert status.search_targets == (("127.0.0.1", port),)
        assert status.name_servers == ()
        (circuit,) = status.circuits
        assert circuit.address == ("127.0.0.1", port) and circuit.priority == 0
        assert circuit.protocol_minor == 13 and circuit.pvs == (ok,)
        assert status.unconnected == (missing,)


# -- g. bad timeouts ---------------------------------------------------------------

class _Hung(Exception):
    pass


@pytest.mark.parametrize("timeout", [math.nan, -1.0])
def test_nan_or_negative_timeouts_are_value_errors(port, timeout):
    def hung(signum, frame):
        raise _Hung()

    old = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, 3.0)
    try:
        with ScriptedIoc(port, {"T": [1.0]}), _context(port) as ctx:
            (pv,) = _connected(ctx, "T")
            missing = ctx.pv("NOT:THERE")
            with pytest.raises(ValueError):
                ctx.run_until(lambda: False, timeout)
            with pytest.raises(ValueError):
                ctx.wait_connected([missing], timeout)
            with pytest.raises(ValueError):
                ctx.wait([ctx.read(pv)], timeout)
            with pytest.raises(ValueError):
                ctx.sync(pv, timeout)
            started = time.monotonic()
            assert ctx.run_until(lambda: False, None if False else 0.0) is False
            assert time.monotonic() - started < 1.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
