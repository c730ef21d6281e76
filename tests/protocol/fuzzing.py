"""Fuzz drivers shared by test_hypothesis.py and tests/tools/fuzz_long.py.

Each driver feeds bytes to a core object and returns what came out; it lets through only
the outcomes the protocol core promises (commands, NEED_DATA, DISCONNECTED,
RemoteProtocolError). Any other exception propagates and fails the caller.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import catools
from catools import (CLIENT, DISCONNECTED, NEED_DATA, SERVER, LocalProtocolError,
                     RemoteProtocolError, read_datagram)

FRAMES_DIR = Path(__file__).resolve().parent.parent / "data" / "frames"
DBR_CLASSES = (catools.EventAddResponse, catools.ReadResponse, catools.WriteRequest,
               catools.ReadNotifyResponse, catools.WriteNotifyRequest)


def load_frames() -> list[list[tuple[str, bytes]]]:
    """The golden captures, one list of (direction, bytes) per file."""
    import sys
    sys.path.insert(0, str(FRAMES_DIR.parent.parent))
    from epics_env import read_frames
    return [read_frames(p) for p in sorted(FRAMES_DIR.glob("*.hex"))]


def touch(command: Any) -> None:
    """Use a decoded command the way an application would (lazy payload decoding too)."""
    bytes(command)
    repr(command)
    if isinstance(command, DBR_CLASSES):
        command.data
        command.metadata


def drain(circuit: catools.VirtualCircuit, limit: int = 10_000) -> list[Any]:
    """next_command() until NEED_DATA/DISCONNECTED/RemoteProtocolError."""
    out: list[Any] = []
    for _ in range(limit):
        try:
            command = circuit.next_command()
        except RemoteProtocolError:
            out.append(RemoteProtocolError)
            return out
        out.append(command)
        if command is NEED_DATA or command is DISCONNECTED:
            return out
        touch(command)
    raise AssertionError("next_command() did not stop")


def feed_circuit(role: catools.Role, chunks: list[bytes], eof: bool = False) -> list[Any]:
    """Feed raw chunks to a fresh circuit of ``role``; collect the outcomes."""
    circuit = catools.VirtualCircuit(role, ("127.0.0.1", 5064), max_payload_size=1 << 20)
    out: list[Any] = []
    for chunk in chunks:
        circuit.recv(chunk)
        out += drain(circuit)
        if out and out[-1] is RemoteProtocolError:
            return out
    if eof:
        circuit.recv(b"")
        out += drain(circuit)
    return out


def feed_broadcaster(role: catools.Role, datagrams: list[bytes]) -> list[Any]:
    """Feed datagrams to a Broadcaster; it must survive malformed ones."""
    b = catools.Broadcaster(role)
    out: list[Any] = []
    for datagram in datagrams:
        b.recv(datagram, ("127.0.0.1", 1234))
        for _ in range(10_000):
            try:
                command = b.next_command()
            except RemoteProtocolError:
                out.append(RemoteProtocolError)
                continue
            out.append(command)
            if command is NEED_DATA:
                break
            touch(command)
    return out


def replay_mutated(frames: list[tuple[str, bytes]], our_role: catools.Role,
                   mutate: Any) -> list[Any]:
    """Replay a captured circuit as ``our_role``: our messages go through ``send`` (as
    captured), the peer's are passed through ``mutate(bytes) -> bytes`` and received."""
    circuit = catools.VirtualCircuit(our_role, ("127.0.0.1", 5064), max_payload_size=1 << 20)
    ours = "C>S" if our_role is CLIENT else "S>C"
    theirs = "S>C" if our_role is CLIENT else "C>S"
    out: list[Any] = []
    for direction, raw in frames:
        if direction == ours:
            command = read_datagram(raw, our_role)[0]
            try:
                if isinstance(command, catools.CreateChanRequest) and our_role is CLIENT \
                        and command.cid not in circuit.channels:
                    catools.ClientChannel(circuit, command.name, cid=command.cid)
                circuit.send(command)
            except LocalProtocolError:
                return out  # the mutated peer led us somewhere the capture did not go
        elif direction == theirs:
            circuit.recv(mutate(raw))
            out += drain(circuit)
            if out and out[-1] is RemoteProtocolError:
                return out
    return out


def mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    """One random mutation: flip, set, insert, delete, truncate or duplicate bytes."""
    data = bytearray(raw)
    kind = rng.randrange(6)
    if kind == 0 and data:
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    elif kind == 1 and data:
        i = rng.randrange(len(data))
        data[i] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    elif kind == 2:
        i = rng.randrange(len(data) + 1)
        data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
    elif kind == 3 and data:
        i = rng.randrange(len(data))
        del data[i:i + rng.randrange(1, 9)]
    elif kind == 4:
        data = data[:rng.randrange(len(data) + 1)]
    else:
        data += data[:rng.randrange(len(data) + 1)]
    return bytes(data)


def fuzz_once(rng: random.Random, frames_list: list[list[tuple[str, bytes]]]) -> None:
    """One round of every kind of fuzzing, driven by ``rng``."""
    frames = rng.choice(frames_list)
    rate = rng.choice((0.05, 0.2, 0.5))

    def mutate(raw: bytes) -> bytes:
        return mutate_bytes(rng, raw) if rng.random() < rate else raw

    role = rng.choice((CLIENT, SERVER))
    replay_mutated(frames, role, mutate)
    # raw streams: random bytes, and mutated concatenations, in random chunks
    stream = b"".join(raw for d, raw in frames if d in ("C>S", "S>C"))
    stream = mutate_bytes(rng, stream) if rng.random() < 0.9 else \
        bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
    cuts = sorted(rng.randrange(len(stream) + 1) for _ in range(rng.randrange(4)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)]) if b > a]
    feed_circuit(rng.choice((CLIENT, SERVER)), chunks, eof=rng.random() < 0.5)
    udp = [mutate(raw) for d, raw in frames if d in ("UC>S", "US>C")]
    feed_broadcaster(rng.choice((CLIENT, SERVER)), udp)
