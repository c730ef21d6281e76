"""The server's parts on their own: its one logger, its UDP answers, the stream module
its connections use."""
from __future__ import annotations

import socket
import threading

import epics_env
from catools.protocol import (Broadcaster, CLIENT, NEED_DATA, SearchRequest, SearchResponse,
                              VersionRequest)
from catools.server import PV, Server
from catools.stream import ChunkSource, OutputBudget, QueuedStream
from serverhelpers import loopback_config


def test_server_messages_go_through_its_logger():
    env = epics_env.CaEnv()
    lines: list[str] = []
    done = threading.Event()
    server = Server([PV("parts:x", "double", 1.0)], loopback_config(env), log=lines.append)
    try:
        server.start_in_thread()

        def broken() -> None:
            done.set()
            raise RuntimeError("boom")
        server.call_later(0.0, broken)
        assert done.wait(10)
    finally:
        server.stop()
        env.close()
    assert any(line.startswith("catools serve: error in timer ") and "boom" in line
               for line in lines)


def test_udp_answers_a_search_for_a_served_name_only():
    server = Server([PV("parts:y", "long", 3)])
    caster = Broadcaster(CLIENT)
    request = caster.send(VersionRequest(priority=0, version=13),
                          SearchRequest(name="parts:y", cid=7, version=13),
                          SearchRequest(name="parts:none", cid=8, version=13))
    reply = server.udp.answer(request, ("127.0.0.1", 5064))
    caster.recv(reply, ("127.0.0.1", 5064))
    got = []
    while (command := caster.next_command()) is not NEED_DATA:
        got.append(command)
    assert [c.cid for c in got if isinstance(c, SearchResponse)] == [7]


def test_a_queued_stream_owes_its_chunks_in_order_and_counts_them():
    a, b = socket.socketpair()
    a.setblocking(False)
    dirty: list[bool] = []
    budget = OutputBudget()

    class NoPoller:
        def modify(self, sock, events): pass
        def unregister(self, sock): pass

    stream = QueuedStream(a, NoPoller(), budget, lambda: dirty.append(True),
                          lambda: None)
    stream.write(b"head")
    stream.write_source(ChunkSource(6, iter([b"abc", b"defXX"])))
    stream.write(b"tail")
    assert dirty == [True] and stream.queued == 14 and budget.held == 8
    while stream.queued:
        stream.flush()
    assert budget.held == 0
    got = b""
    while len(got) < 14:
        got += b.recv(100)
    assert got == b"headabcdeftail"
    a.close()
    b.close()
