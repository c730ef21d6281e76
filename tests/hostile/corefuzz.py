"""Hostile byte streams for the protocol core: sessions with work in flight, the valid
messages a peer could send next, mutations of them, and drivers that check what the
core promises for any input:

* only commands, ``NEED_DATA``, ``DISCONNECTED``, or a ``ProtocolError`` (Local or
  Remote) come out; decoded payloads decode (``fuzzing.touch``);
* after ``NEED_DATA`` the circuit holds less than one header plus ``max_payload_size``
  (a claimed size beyond the limit fails at its header, before any payload is kept);
* ``next_commands`` gives what ``next_command`` called repeatedly gives, and leaves the
  same state.
"""
from __future__ import annotations

import random
import struct
from typing import Any, Callable

from fuzzing import mutate_bytes, touch
from helpers import CircuitPair
from hypothesis import strategies as st

import catools
from catools import (CLIENT, DISCONNECTED, NEED_DATA, SERVER, ProtocolError, VirtualCircuit)

HDR = struct.Struct(">HHHHII")
EXT = struct.Struct(">HHHHIIII")
#: The payload limit of the circuits under test (small, so that mutations exceed it).
MAX_PAYLOAD = 1 << 17
u32 = st.integers(0, 2**32 - 1)


# --------------------------------------------------------------------------- sessions

class Session:
    """A CircuitPair with channels, subscriptions and reads in flight; ``ours`` is the
    circuit under test and ``peer_messages(draw)`` the valid next messages of its peer."""

    def __init__(self, role: catools.Role) -> None:
        self.role = role
        pair = self.pair = CircuitPair(max_payload_size=MAX_PAYLOAD)
        pair.handshake()
        self.ai, self.s_ai = pair.connect_channel("AI", native_type=6, count=1, sid=11)
        self.wf, self.s_wf = pair.connect_channel("WF", native_type=6, count=20, sid=12)
        self.ch, self.s_ch = pair.connect_channel("CH", native_type=4, count=70000, sid=13)
        self.sub_ai, self.sub_wf = pair.client_sends(
            self.ai.subscribe(data_type=20, data_count=1), self.wf.subscribe(data_type=6))
        self.reads = pair.client_sends(self.ai.read(20, 1), self.wf.read(6, 20),
                                       self.ch.read(4, 70000), self.ch.read(4, 0),
                                       self.wf.read(6, 5, notify=False))
        self.put = pair.client_sends(self.ai.write([1.5], data_type=6, notify=True))[0]
        self.ours = pair.client if role is CLIENT else pair.server

    def peer_messages(self, draw: Callable[[Any], Any]) -> list[bytes]:
        """Messages the peer could validly send now, each encoded on its own."""
        pool = self._server_pool() if self.role is CLIENT else self._client_pool()
        picks = draw(st.lists(st.sampled_from(pool), max_size=8))
        out = []
        for make in picks:
            command = make(draw)
            out.append(bytes(command) if isinstance(command, catools.Command) else command)
        return out

    def _server_pool(self) -> list[Callable[[Any], Any]]:
        def floats(draw: Any, n: int) -> list[float]:
            return draw(st.lists(st.floats(allow_nan=False, width=32), min_size=n,
                                 max_size=n))
        r_ai, r_wf, r_ch, r_dyn, r_old = self.reads
        s_ai, s_wf, s_ch = self.s_ai, self.s_wf, self.s_ch
        return [
            lambda d: s_ai.subscribe(floats(d, 1), self.sub_ai.subscriptionid, 20),
            lambda d: s_wf.subscribe(floats(d, 3), self.sub_wf.subscriptionid, 6),
            lambda d: s_wf.subscribe([], self.sub_wf.subscriptionid, 6),
            lambda d: s_ai.read(floats(d, 1), r_ai.ioid, 20),
            lambda d: s_wf.read(floats(d, 20), r_wf.ioid, 6),
            lambda d: s_ch.read(bytes(70000), r_ch.ioid, 4),                # extended
            lambda d: EXT.pack(15, 0xFFFF, 4, 0, 1, r_dyn.ioid, 0, 0),    # extended, empty
            lambda d: catools.ReadResponse(data=floats(d, 5), data_type=6, cid=self.wf.cid,
                                           ioid=r_old.ioid),
            lambda d: catools.WriteNotifyResponse(data_type=6, data_count=1, status=1,
                                                  ioid=self.put.ioid),
            lambda d: catools.AccessRightsResponse(cid=self.ai.cid, access_rights=d(u32)),
            lambda d: catools.ErrorResponse(original_request=r_ch, cid=self.ch.cid,
                                            status=0x98, error_message="CH"),
            lambda d: catools.EchoResponse(),
            lambda d: catools.ServerDisconnResponse(cid=self.wf.cid),
            lambda d: catools.ClearChannelResponse(sid=13, cid=self.ch.cid),
            lambda d: catools.CreateChFailResponse(cid=self.ai.cid),
            lambda d: catools.VersionResponse(version=13),
        ]

    def _client_pool(self) -> list[Callable[[Any], Any]]:
        ioid = st.integers(1000, 1100)
        return [
            lambda d: catools.ReadNotifyRequest(6, 1, 11, d(ioid)),
            lambda d: catools.ReadNotifyRequest(4, 70000, 13, d(ioid)),    # extended
            lambda d: catools.ReadRequest(6, 20, 12, d(ioid)),
            lambda d: catools.EventAddRequest(6, 0, 12, d(ioid), mask=5),
            lambda d: catools.EventCancelRequest(20, 1, 11, self.sub_ai.subscriptionid),
            lambda d: catools.WriteRequest(data=[1.0], data_type=6, sid=11, ioid=1),
            lambda d: catools.WriteNotifyRequest(data=bytes(70000), data_type=4, sid=13,
                                                 ioid=d(ioid)),           # extended
            lambda d: catools.CreateChanRequest(name=f"NEW{d(ioid)}", cid=d(ioid)),
            lambda d: catools.ClearChannelRequest(sid=12, cid=self.wf.cid),
            lambda d: catools.EchoRequest(), lambda d: catools.EventsOffRequest(),
            lambda d: catools.EventsOnRequest(), lambda d: catools.ReadSyncRequest(),
            lambda d: catools.HostNameRequest(name="late"),
        ]


# --------------------------------------------------------------------------- mutations

def split_message(raw: bytes) -> tuple[list[int], bytes]:
    """Header fields ``[cmd, psize, dtype, count, p1, p2]`` (widened) and the rest."""
    if len(raw) < 16:
        return [], raw
    fields = list(HDR.unpack_from(raw))
    if fields[1] == 0xFFFF and len(raw) >= 24:
        fields[1], fields[3] = struct.unpack_from(">II", raw, 16)
        return fields, raw[24:]
    return fields, raw[16:]


def join_message(fields: list[int], payload: bytes, extended: bool) -> bytes:
    cmd, psize, dtype, count, p1, p2 = fields
    if extended or psize >= 0xFFFF or count >= 0xFFFF:
        return EXT.pack(cmd & 0xFFFF, 0xFFFF, dtype & 0xFFFF, 0, p1, p2, psize, count) + payload
    return HDR.pack(cmd, psize, dtype, count, p1, p2) + payload


MUTATIONS = ("truncate", "claim", "marker", "extended", "command", "dbr_type", "count",
             "parameter", "bytes", "duplicate")
HUGE = (0xFFF8, 0xFFFE, MAX_PAYLOAD, MAX_PAYLOAD + 1, MAX_PAYLOAD + 8, 2**31, 2**32 - 1)


def mutate(draw: Callable[[Any], Any], raw: bytes) -> bytes:
    """One hostile change to one message."""
    kind = draw(st.sampled_from(MUTATIONS))
    fields, payload = split_message(raw)
    if kind == "truncate" or not fields:
        return raw[:draw(st.integers(0, max(len(raw) - 1, 0)))]
    if kind == "claim":          # a payload size that is not the payload's
        fields[1] = draw(st.sampled_from(HUGE) | st.integers(0, 0xFFFE))
        return join_message(fields, payload, extended=False)
    if kind == "marker":         # the 0xFFFF marker on a standard header
        return raw[:2] + b"\xff\xff" + raw[4:]
    if kind == "extended":       # an extended header, maybe with a huge size or count
        fields[1] = draw(st.sampled_from([fields[1], *HUGE]))
        fields[3] = draw(st.sampled_from([fields[3], 0, 0xFFFF, 2**31, 2**32 - 1]) | u32)
        return join_message(fields, payload, extended=True)
    if kind == "command":
        fields[0] = draw(st.sampled_from([5, 7, 16, 25, 28, 1000, 0xFFFF]) |
                         st.integers(0, 0xFFFF))
    elif kind == "dbr_type":
        fields[2] = draw(st.sampled_from([39, 40, 255, 0xFFFF]) | st.integers(0, 0xFFFF))
    elif kind == "count":
        fields[3] = draw(st.sampled_from([0, 1, 0xFFFE, 0xFFFF, 70000, 2**32 - 1]) | u32)
    elif kind == "parameter":
        fields[draw(st.sampled_from([4, 5]))] = draw(u32)
    elif kind == "bytes":
        return mutate_bytes(random.Random(draw(u32)), raw)
    else:
        return raw + raw
    return join_message(fields, payload, extended=raw[2:4] == b"\xff\xff")


@st.composite
def hostile_streams(draw: Callable[[Any], Any], role: catools.Role
                    ) -> tuple[list[bytes], bool]:
    """(chunks, eof): valid peer messages for a fresh ``Session(role)``, some mutated,
    joined and cut at random points."""
    session = Session(role)
    messages = session.peer_messages(draw)
    n = len(messages)
    for i in draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=3)) if n else []:
        messages[i] = mutate(draw, messages[i])
    stream = b"".join(messages)
    if draw(st.booleans()) and stream:
        stream = stream[:draw(st.integers(0, len(stream)))]
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)]) if b > a]
    return chunks, draw(st.booleans())


# --------------------------------------------------------------------------- drivers

def check_bound(circuit: VirtualCircuit) -> None:
    """What a circuit keeps while waiting: less than one message at the limit."""
    assert circuit.buffered < 24 + circuit.max_payload_size, circuit.buffered


def _error(exc: ProtocolError) -> tuple[str, type, str]:
    return ("error", type(exc), str(exc))


def run_one_at_a_time(circuit: VirtualCircuit, chunks: list[bytes], eof: bool) -> list[Any]:
    """next_command() after each chunk until NEED_DATA; stops at an error/DISCONNECTED."""
    out: list[Any] = []
    for chunk in [*chunks, b""] if eof else chunks:
        circuit.recv(chunk)
        while True:
            try:
                command = circuit.next_command()
            except ProtocolError as exc:
                return [*out, _error(exc)]
            if command is NEED_DATA:
                check_bound(circuit)
                break
            out.append(command)
            if command is DISCONNECTED:
                return out
            touch(command)
    return out


def run_batched(circuit: VirtualCircuit, chunks: list[bytes], eof: bool) -> list[Any]:
    """next_commands() after each chunk until it returns []; same stops."""
    out: list[Any] = []
    for chunk in [*chunks, b""] if eof else chunks:
        circuit.recv(chunk)
        while True:
            try:
                commands = circuit.next_commands()
            except ProtocolError as exc:
                return [*out, _error(exc)]
            if not commands:
                check_bound(circuit)
                break
            for command in commands:
                out.append(command)
                if command is not DISCONNECTED:
                    touch(command)
            if commands[-1] is DISCONNECTED:
                return out
    return out


def state(circuit: VirtualCircuit) -> Any:
    """What the core tracks, for comparing two circuits."""
    return (dict(circuit.states), sorted(circuit._ioids), sorted(circuit.event_add_commands),
            sorted(circuit._cancelling), circuit.their_version, circuit.buffered,
            {cid: (c.state, c.sid, int(c.access_rights)) for cid, c in
             circuit.channels.items()})


def allowed(outcome: Any) -> bool:
    return (outcome is DISCONNECTED or isinstance(outcome, catools.Command)
            or (isinstance(outcome, tuple) and outcome[0] == "error"))


__all__ = ["Session", "hostile_streams", "mutate", "run_one_at_a_time", "run_batched",
           "state", "allowed", "check_bound", "MAX_PAYLOAD", "HDR", "EXT", "SERVER",
           "CLIENT"]
