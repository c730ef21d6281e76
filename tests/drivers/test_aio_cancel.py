"""Cancelling a ``catools.aio`` call leaves nothing behind: no channel in the client
Context (its ``pvs`` and ``describe()``), no subscription on the server, no task."""
from __future__ import annotations

import asyncio
import contextlib

import pytest

import catools.aio
import epics_env
from epics_env import RECORDS_DB
from fakeioc import ScriptedIoc

READ_NOTIFY = 15
EVENT_ADD, EVENT_CANCEL = 1, 2


class SilentReads(ScriptedIoc):
    """Answers searches and creates channels, never a READ_NOTIFY: a get stays in
    flight until cancelled."""

    def answer(self, conn, cmd, dtype, count, p1, p2, body, raw):  # type: ignore[no-untyped-def]
        if cmd == READ_NOTIFY:
            return b""
        return self.default_answer(conn, cmd, dtype, count, p1, p2, body, raw)


def _ctx(port: int) -> catools.aio.Context:
    return catools.aio.Context(server_port=port, addr_list="127.0.0.1",
                               auto_addr_list=False)


def _left(ctx: catools.aio.Context) -> tuple[list, list, list]:
    """(PVs the client holds, PVs it still searches for, other tasks)."""
    status = ctx.client.describe()
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    return list(ctx.client.pvs), [pv.name for pv in status.unconnected], others


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()


@pytest.fixture
def port():
    port, rport = epics_env.free_port_pair()
    yield port
    epics_env.release_port(port)
    epics_env.release_port(rport)


def test_a_get_cancelled_while_its_read_is_in_flight(port):
    async def main() -> None:
        with SilentReads(port, {"S": [1.0], "T": [2.0]}) as ioc:
            async with _ctx(port) as ctx:
                task = asyncio.create_task(catools.aio.get(["S", "T"], timeout=30.0,
                                                           context=ctx))
                for _ in range(200):                 # until both reads are sent
                    await asyncio.sleep(0.01)
                    if ioc.count(READ_NOTIFY) == 2:
                        break
                assert ioc.count(READ_NOTIFY) == 2, ioc.requests
                assert set(ctx.client.pvs) == {("S", 0), ("T", 0)}
                await _cancel(task)
                assert _left(ctx) == ([], [], [])
                assert all(not circuit.pvs for circuit in ctx.client.describe().circuits)
                for _ in range(100):                 # the server hears CLEAR_CHANNEL
                    if ioc.count(12) == 2:
                        break
                    await asyncio.sleep(0.01)
                assert ioc.count(12) == 2, ioc.requests
    asyncio.run(main())


def test_a_get_cancelled_while_searching(port):
    async def main() -> None:
        async with _ctx(port) as ctx:                # (nobody answers on this port)
            task = asyncio.create_task(catools.aio.get("nowhere", timeout=30.0,
                                                       context=ctx))
            await asyncio.sleep(0.2)
            assert [pv.name for pv in ctx.client.describe().unconnected] == ["nowhere"]
            await _cancel(task)
            assert _left(ctx) == ([], [], [])
    asyncio.run(main())


def test_a_cached_channel_survives_a_cancelled_get(port):
    async def main() -> None:
        with SilentReads(port, {"S": [1.0]}):
            async with _ctx(port) as ctx:
                info = await catools.aio.info("S", context=ctx)     # connects, cached
                assert info.native_count == 1
                task = asyncio.create_task(catools.aio.get("S", timeout=30.0,
                                                           context=ctx))
                await asyncio.sleep(0.2)
                await _cancel(task)
                assert list(ctx.client.pvs) == [("S", 0)]       # kept for the next call
                assert ctx.status().connected == ["S"]
    asyncio.run(main())


def test_a_monitor_cancelled_in_its_loop(softioc):
    ioc = softioc(RECORDS_DB)

    async def main() -> None:
        async with _ctx(ioc.port) as ctx:
            got: list = []

            async def consume() -> None:
                async with catools.aio.monitor(["TST:calc", "TST:ai"], context=ctx) as m:
                    async for event in m:
                        got.append(event)
            task = asyncio.create_task(consume())
            while len(got) < 5:
                await asyncio.sleep(0.05)
            client = ctx.client
            subs = [pv for pv in client.pvs.values() if pv.subscriptions]
            assert len(subs) == 2
            await _cancel(task)
            assert _left(ctx) == ([], [], [])
            assert ctx.monitors == [] and ctx.in_use == {}
            n = len(got)
            await asyncio.sleep(1.5)                 # TST:calc updates each second
            assert len(got) == n
    asyncio.run(main())


def test_a_monitor_with_a_callback_leaves_no_task(softioc):
    ioc = softioc(RECORDS_DB)

    async def main() -> None:
        async with _ctx(ioc.port) as ctx:
            got: list = []

            async def on_event(event) -> None:
                got.append(event)
            m = catools.aio.monitor("TST:ai", context=ctx, callback=on_event)
            while len(got) < 2:
                await asyncio.sleep(0.02)
            assert got[0] == catools.aio.Connected("TST:ai")
            assert len(asyncio.all_tasks()) == 2          # main and the dispatcher
            await m.aclose()
            assert _left(ctx) == ([], [], [])
    asyncio.run(main())


def test_closing_the_context_fails_the_calls_waiting(port):
    async def main() -> None:
        ctx = _ctx(port)
        task = asyncio.create_task(catools.aio.get("nowhere", timeout=30.0, context=ctx))
        await asyncio.sleep(0.1)
        ctx.close()
        with pytest.raises(catools.aio.ContextClosed):
            await asyncio.wait_for(task, 5.0)
        with pytest.raises(catools.aio.ContextClosed):
            await catools.aio.get("x", context=ctx)
    asyncio.run(main())
