"""Parsing speed of catools' protocol core next to caproto 1.3, on the same bytes.

    python bench/parse.py [--updates 100000] [--elements 1000000] [--repeat 5]

(a) 100,000 EVENT_ADD updates of DBR_TIME_DOUBLE through a client-role circuit with a
    real channel and subscription (64 KiB chunks), commands/s: parsed only, and parsed
    with each value and timestamp read (the target's measure).
    caproto: VirtualCircuit.recv + process_command (+ data[0], metadata.stamp).
(b) One READ_NOTIFY reply of a 1,000,000-element DOUBLE array, MB/s (value decoded).
Median of ``--repeat`` runs. Targets: >= 10x caproto commands/s with value and timestamp read; >= 1 GB/s arrays.
"""
from __future__ import annotations

import argparse
import statistics
import time
from array import array

import caproto

import catools

CHUNK = 64 * 1024


def _ours_client(data_type: int = 20, count: int = 1):
    circuit = catools.VirtualCircuit(catools.CLIENT, ("127.0.0.1", 5064), 0)
    circuit.send(catools.VersionRequest(priority=0, version=13))
    chan = catools.ClientChannel(circuit, "BENCH:PV")
    circuit.send(chan.create())
    circuit.recv(bytes(catools.VersionResponse(version=13))
                 + bytes(catools.AccessRightsResponse(cid=chan.cid, access_rights=3))
                 + bytes(catools.CreateChanResponse(data_type=6, data_count=count,
                                                    cid=chan.cid, sid=1)))
    while circuit.next_command() is not catools.NEED_DATA:
        pass
    return circuit, chan


def _caproto_client(count: int = 1):
    circuit = caproto.VirtualCircuit(caproto.CLIENT, ("127.0.0.1", 5064), 0)
    circuit.send(caproto.VersionRequest(priority=0, version=13))
    chan = caproto.ClientChannel("BENCH:PV", circuit)
    circuit.send(chan.create())
    for cmd in (caproto.VersionResponse(version=13),
                caproto.AccessRightsResponse(cid=chan.cid, access_rights=3),
                caproto.CreateChanResponse(data_type=6, data_count=count, cid=chan.cid,
                                           sid=1)):
        circuit.process_command(cmd)
    return circuit, chan


def _chunks(raw: bytes) -> list[bytes]:
    return [raw[i:i + CHUNK] for i in range(0, len(raw), CHUNK)]


def _updates(subscriptionid: int, n: int) -> bytes:
    return b"".join(bytes(catools.EventAddResponse(
        data=[i * 0.5], data_type=20, subscriptionid=subscriptionid,
        metadata=catools.DBRMetadata(status=0, severity=0, timestamp=(1_000_000 + i, i))))
        for i in range(n))


def bench_updates_ours(n: int, read_values: bool) -> float:
    circuit, chan = _ours_client()
    sub = chan.subscribe(catools.ChannelType.TIME_DOUBLE)
    circuit.send(sub)
    chunks = _chunks(_updates(sub.subscriptionid, n))
    NEED = catools.NEED_DATA
    got = 0
    t0 = time.perf_counter()
    for chunk in chunks:
        circuit.recv(chunk)
        next_command = circuit.next_command
        while (command := next_command()) is not NEED:
            if read_values:
                command.data[0]
                command.metadata.timestamp
            got += 1
    elapsed = time.perf_counter() - t0
    assert got == n
    return n / elapsed


def bench_updates_caproto(n: int, read_values: bool = False) -> float:
    circuit, chan = _caproto_client()
    sub = chan.subscribe(data_type=caproto.ChannelType.TIME_DOUBLE)
    circuit.send(sub)
    chunks = _chunks(_updates(sub.subscriptionid, n))
    got = 0
    t0 = time.perf_counter()
    for chunk in chunks:
        commands, _ = circuit.recv(chunk)
        for command in commands:
            circuit.process_command(command)
            if read_values:
                command.data[0]
                command.metadata.stamp
            got += 1
    elapsed = time.perf_counter() - t0
    assert got == n
    return n / elapsed


def _array_reply(ioid: int, n: int) -> bytes:
    values = array("d", range(n))
    return bytes(catools.ReadNotifyResponse(data=values, data_type=6, ioid=ioid))


def bench_array_ours(n: int) -> float:
    circuit, chan = _ours_client(data_type=6, count=n)
    req = chan.read(catools.ChannelType.DOUBLE, n)
    circuit.send(req)
    raw = _array_reply(req.ioid, n)
    chunks = _chunks(raw)
    t0 = time.perf_counter()
    for chunk in chunks:
        circuit.recv(chunk)
    command = circuit.next_command()
    data = command.data
    elapsed = time.perf_counter() - t0
    assert len(data) == n and data[-1] == n - 1
    return len(raw) / elapsed / 1e6


def bench_array_caproto(n: int) -> float:
    circuit, chan = _caproto_client(count=n)
    req = chan.read(data_type=caproto.ChannelType.DOUBLE, data_count=n)
    circuit.send(req)
    raw = _array_reply(req.ioid, n)
    chunks = _chunks(raw)
    t0 = time.perf_counter()
    commands = []
    for chunk in chunks:
        got, _ = circuit.recv(chunk)
        commands.extend(got)
    for command in commands:
        circuit.process_command(command)
    data = commands[0].data
    elapsed = time.perf_counter() - t0
    assert len(data) == n and data[-1] == n - 1
    return len(raw) / elapsed / 1e6


def median_of(repeat: int, func, *args) -> float:
    return statistics.median(func(*args) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description="catools vs caproto parsing speed")
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--elements", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    r = args.repeat
    ours = median_of(r, bench_updates_ours, args.updates, False)
    ours_read = median_of(r, bench_updates_ours, args.updates, True)
    theirs = median_of(r, bench_updates_caproto, args.updates)
    theirs_read = median_of(r, bench_updates_caproto, args.updates, True)
    arr_ours = median_of(r, bench_array_ours, args.elements)
    arr_theirs = median_of(r, bench_array_caproto, args.elements)
    print(f"catools {catools.__version__} vs caproto {caproto.__version__}, "
          f"median of {r} runs")
    print(f"{'measure':<44}{'catools':>14}{'caproto':>14}{'ratio':>9}  target")
    print(f"{'EVENT_ADD TIME_DOUBLE, commands/s':<44}{ours:>14,.0f}{theirs:>14,.0f}"
          f"{ours / theirs:>8.1f}x  (parse only: no target)")
    # the measure: each command's value and timestamp read, on both sides
    # (caproto decodes them when it parses; catools when they are first read)
    ratio = ours_read / theirs_read
    print(f"{'  + read value and timestamp, commands/s':<44}{ours_read:>14,.0f}"
          f"{theirs_read:>14,.0f}{ratio:>8.1f}x  >= 10x {'OK' if ratio >= 10 else 'MISSED'}")
    print(f"{'DOUBLE x{:,} READ_NOTIFY, MB/s'.format(args.elements):<44}{arr_ours:>14,.0f}"
          f"{arr_theirs:>14,.0f}{arr_ours / arr_theirs:>8.1f}x  >= 1000 MB/s "
          f"{'OK' if arr_ours >= 1000 else 'MISSED'}")


if __name__ == "__main__":
    main()
