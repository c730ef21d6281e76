"""Golden frames captured from real softIoc / C tool traffic (tests/data/frames/*.hex)."""
from __future__ import annotations

from pathlib import Path

import pytest
from epics_env import read_frames

import catools
from catools import CLIENT, NEED_DATA, SERVER, CircuitState, read_datagram

FRAMES_DIR = Path(__file__).resolve().parent.parent / "data" / "frames"
FRAME_FILES = sorted(FRAMES_DIR.glob("*.hex"))
SENDER = {"C>S": CLIENT, "UC>S": CLIENT, "S>C": SERVER, "US>C": SERVER}
TCP_FILES = [p for p in FRAME_FILES if any(d == "C>S" for d, _ in read_frames(p))]
DBR_PAYLOAD = {"EventAddResponse", "ReadResponse", "WriteRequest", "ReadNotifyResponse",
               "WriteNotifyRequest"}


def test_there_are_frames():
    assert len(FRAME_FILES) >= 30
    assert len(TCP_FILES) >= len(FRAME_FILES) - 2
    kinds = set()
    for path in FRAME_FILES:
        for direction, raw in read_frames(path):
            kinds.add(type(read_datagram(raw, SENDER[direction])[0]).__name__)
    # the captures cover the everyday commands of both roles
    assert {"VersionRequest", "VersionResponse", "SearchRequest", "SearchResponse",
            "CreateChanRequest", "CreateChanResponse", "AccessRightsResponse",
            "ReadNotifyRequest", "ReadNotifyResponse", "WriteRequest", "WriteNotifyRequest",
            "WriteNotifyResponse", "EventAddRequest", "EventAddResponse",
            "ClearChannelRequest", "ClearChannelResponse",
            "HostNameRequest", "ClientNameRequest", "ErrorResponse"} <= kinds


def rebuild(cmd):
    """A new command of the same class built from the decoded fields/data/metadata."""
    cls = type(cmd)
    kwargs = {}
    for name, _ in cls.ROW.fields:
        kwargs[name] = getattr(cmd, name)
    return cls(**kwargs)


def assert_same_values(a, b):
    assert type(a) is type(b)
    for name in a._FIELDS:
        assert getattr(a, name) == getattr(b, name), name
    if type(a).__name__ in DBR_PAYLOAD:
        data_a, data_b = a.data, b.data
        assert list(data_a) == list(data_b)
        for (name, va), (_, vb) in zip(a.metadata.items(), b.metadata.items()):
            assert va == vb or (va != va and vb != vb), name  # NaN limits compare unequal
        assert [n for n, _ in a.metadata.items()] == [n for n, _ in b.metadata.items()]


@pytest.mark.parametrize("path", FRAME_FILES, ids=lambda p: p.stem)
def test_each_message_decodes_and_reencodes(path):
    frames = read_frames(path)
    assert frames
    for direction, raw in frames:
        decoded = read_datagram(raw, SENDER[direction])
        assert len(decoded) == 1, (direction, raw.hex())
        (cmd,) = decoded
        assert bytes(cmd) == raw  # exact bytes, stale pad bytes included
        if type(cmd).__name__ in DBR_PAYLOAD:
            cmd.data, cmd.metadata  # the payload decodes
        again = rebuild(cmd)
        (redecoded,) = read_datagram(bytes(again), SENDER[direction])
        assert_same_values(cmd, redecoded)
        if len(raw) == len(bytes(again)) and type(cmd).__name__ not in DBR_PAYLOAD:
            # no DBR payload: no RISC pad, nothing after a NUL that could differ
            assert bytes(again) == raw


def _feed(circuit, raw):
    circuit.recv(raw)
    cmd = circuit.next_command()
    assert cmd is not NEED_DATA
    assert circuit.next_command() is NEED_DATA
    return cmd


@pytest.mark.parametrize("path", TCP_FILES, ids=lambda p: p.stem)
def test_tcp_circuits_accept_real_traffic(path):
    """Both roles follow the captured circuit: the SERVER-role core receives C>S and sends
    S>C, the CLIENT-role core the reverse, interleaved in capture order."""
    tcp = [(d, raw) for d, raw in read_frames(path) if d in ("C>S", "S>C")]
    server = catools.VirtualCircuit(SERVER, ("127.0.0.1", 1))
    client = catools.VirtualCircuit(CLIENT, ("127.0.0.1", 2))
    for direction, raw in tcp:
        if direction == "C>S":
            cmd = _feed(server, raw)
            if isinstance(cmd, catools.CreateChanRequest):
                catools.ClientChannel(client, cmd.name, cid=cmd.cid)
            assert client.send(cmd) == raw
        else:
            cmd = _feed(client, raw)
            assert server.send(cmd) == raw
    for circuit in (server, client):
        assert circuit.states[CLIENT] is CircuitState.CONNECTED
        assert circuit.states[SERVER] is CircuitState.CONNECTED
    # every channel the tool opened was closed again (when the capture shows the clear)
    if any(isinstance(read_datagram(raw, CLIENT)[0], catools.ClearChannelRequest)
           for d, raw in tcp if d == "C>S"):
        assert not client.channels and not server.channels


@pytest.mark.parametrize("path", FRAME_FILES, ids=lambda p: p.stem)
def test_whole_direction_in_one_buffer(path):
    """Each TCP direction concatenated and fed at once gives the same commands."""
    frames = read_frames(path)
    for direction, role in (("S>C", SERVER), ("C>S", CLIENT)):
        raws = [raw for d, raw in frames if d == direction]
        if not raws:
            continue
        expected = [read_datagram(raw, role)[0] for raw in raws]
        assert read_datagram(b"".join(raws), role) == expected


@pytest.mark.parametrize("path", FRAME_FILES, ids=lambda p: p.stem)
def test_udp_datagrams_through_broadcasters(path):
    frames = read_frames(path)
    server_b = catools.Broadcaster(SERVER)
    client_b = catools.Broadcaster(CLIENT)
    # consecutive UDP lines of one direction are the messages of one datagram
    datagrams: list[tuple[str, bytes]] = []
    for direction, raw in frames:
        if datagrams and datagrams[-1][0] == direction:
            datagrams[-1] = (direction, datagrams[-1][1] + raw)
        else:
            datagrams.append((direction, raw))
    for direction, raw in datagrams:
        if direction == "UC>S":
            server_b.recv(raw, ("127.0.0.1", 1))
        elif direction == "US>C":
            client_b.recv(raw, ("127.0.0.1", 2))
    for b, direction in ((server_b, "UC>S"), (client_b, "US>C")):
        got = []
        while (cmd := b.next_command()) is not NEED_DATA:
            got.append(cmd)
        assert [bytes(c) for c in got] == [raw for d, raw in frames if d == direction]


def test_known_values_in_captures():
    frames = dict()
    for path in FRAME_FILES:
        frames[path.stem] = read_frames(path)
    # caget -c TST:wfl: dynamic-count read of a LONG waveform "4 1 -2 0 5"
    resp = [read_datagram(raw, SERVER)[0] for d, raw in frames["caget_c_waveform"]
            if d == "S>C"]
    reads = [r for r in resp if isinstance(r, catools.ReadNotifyResponse)]
    assert reads[0].data.tolist() == [1, -2, 0, 5]
    assert reads[0].data_type == catools.ChannelType.TIME_LONG
    # caget -S TST:wf:char -> "Hi there"
    resp = [read_datagram(raw, SERVER)[0] for d, raw in frames["caget_char_S"]
            if d == "S>C"]
    data = [r for r in resp if isinstance(r, catools.ReadNotifyResponse)][0].data
    assert data.tobytes().split(b"\0")[0] == b"Hi there"
    # DBR_CLASS_NAME of an ai is "ai"
    resp = [read_datagram(raw, SERVER)[0] for d, raw in frames["caget_class_name"]
            if d == "S>C"]
    assert [r for r in resp if isinstance(r, catools.ReadNotifyResponse)][0].data == [b"ai"]


SMALL_TCP_FILES = [p for p in TCP_FILES
                   if max(len(raw) for d, raw in read_frames(p) if d in ("C>S", "S>C")) < 600]


@pytest.mark.parametrize("path", SMALL_TCP_FILES, ids=lambda p: p.stem)
def test_real_traffic_in_every_two_piece_split(path):
    """Replaying a captured circuit, each received message also arrives in two pieces at
    every possible cut: the first piece gives NEED_DATA, the second the same command, and
    the state afterwards is the same as for the whole message."""
    import copy

    tcp = [(d, raw) for d, raw in read_frames(path) if d in ("C>S", "S>C")]
    server = catools.VirtualCircuit(SERVER, ("127.0.0.1", 1))
    client = catools.VirtualCircuit(CLIENT, ("127.0.0.1", 2))
    cuts = 0
    for direction, raw in tcp:
        receiver, sender = (server, client) if direction == "C>S" else (client, server)
        for cut in range(1, len(raw)):
            trial = copy.deepcopy(receiver)
            trial.recv(raw[:cut])
            assert trial.next_command() is NEED_DATA, cut
            trial.recv(raw[cut:])
            split_cmd = trial.next_command()
            assert trial.next_command() is NEED_DATA
            cuts += 1
            assert bytes(split_cmd) == raw
        cmd = _feed(receiver, raw)
        assert trial.states == receiver.states if len(raw) > 1 else True
        if direction == "C>S" and isinstance(cmd, catools.CreateChanRequest):
            catools.ClientChannel(client, cmd.name, cid=cmd.cid)
        assert sender.send(cmd) == raw
    assert cuts > 100
