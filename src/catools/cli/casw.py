"""``casw``: print CA server beacon anomalies, as EPICS base's casw does."""
from __future__ import annotations

import os
import re
import sys
import time
from typing import Any

import click

from ._command import CaCommand
from ._options import option

USAGE = "usage: casw <-i interestLevel>\n"
#: casw's host buffer: 63 characters of "host:port".
_HOST_WIDTH = 63
_U32 = 0xFFFFFFFF


def scan_unsigned(text: str) -> int | None:
    """sscanf("%u") after optional white space: a signed decimal, wrapped to 32 bits."""
    m = re.match(r"\s*([+-]?\d+)", text)
    return None if m is None else int(m.group(1)) & _U32


def parse_casw_args(args: list[str]) -> int | None:
    """casw's command line: nothing, ``-i<level>`` or ``-i <level>``; the interest
    level, or None for anything else (casw then prints its usage)."""
    if not args:
        return 0
    if len(args) == 1:
        m = re.match(r"\s*-i", args[0])
        return None if m is None else scan_unsigned(args[0][m.end():])
    if len(args) == 2 and args[0] == "-i":
        return scan_unsigned(args[1])
    return None


class CaswCommand(CaCommand):
    """Parses the command line as casw does (any other argument list: usage on stdout,
    exit status 0)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args == ["--version"]:       # (our addition; C casw prints its usage)
            from .._version import __version__
            click.echo(f"casw (epics-catools) {__version__}")
            ctx.exit(0)
        ctx.params = {"interest": parse_casw_args(list(args))}
        return []


class HostNames:
    """casw's server labels: ``host:port`` by reverse lookup (dotted when there is no
    name), cut to casw's 63 characters; lookups are cached."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def __call__(self, address: tuple[str, int]) -> str:
        host, port = address
        name = self._names.get(host)
        if name is None:
            import socket
            try:
                name = socket.gethostbyaddr(host)[0]
            except (OSError, UnicodeError):
                name = host
            if len(self._names) < 4096:
                self._names[host] = name
        return f"{name}:{port}"[:_HOST_WIDTH]


def format_time(ns: int) -> str:
    """``%Y-%m-%d %H:%M:%S.%09f`` in local time, as casw stamps a beacon."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) + f".{fraction:09d}"


@click.command("casw", cls=CaswCommand, usage_text=USAGE)
@option("-i", "interest", metavar="interestLevel",
        help="0: anomalies only; 1: with period estimates; 2 or more: every beacon.")
@option("-h", "--help", "help_", is_flag=True, help="Print the usage on stdout.")
def command(interest: int | None, **_: Any) -> None:
    """Watch CA server beacons and print their anomalies."""
    if interest is None:
        sys.stdout.write(USAGE)
        return
    run(interest)


def run(interest: int) -> None:
    from ..client.beacons import (BeaconListener, BeaconTracker, RegistrationError,
                                  beacon_address)
    from ..config import read
    from . import enable_gc

    begin = time.time_ns()
    server_port = read(os.environ, "EPICS_CA_SERVER_PORT")
    repeater_port = read(os.environ, "EPICS_CA_REPEATER_PORT")
    enable_gc()                       # casw runs for hours
    start_repeater(repeater_port)
    out = sys.stdout.buffer
    with BeaconListener(repeater_port) as listener:
        try:
            listener.register()
        except RegistrationError:
            sys.stderr.write("casw: unable to register with the CA repeater\n")
            raise SystemExit(255) from None
        listener.on_malformed = _protocol_violation
        tracker = BeaconTracker(start=0.0)
        names = HostNames()
        for event in listener:
            now_ns = time.time_ns()
            # (as casw: the address field as the repeater passed it on, even zero)
            anomaly = tracker.observe_beacon(event.beacon, None, (now_ns - begin) / 1e9,
                                             server_port)
            if anomaly is None and interest <= 1:
                continue
            address = beacon_address(event.beacon, None, server_port)
            prefix = ("* " if anomaly else "  ") if interest > 1 else ""
            line = f"{prefix}{names(address):<40} {format_time(now_ns)}\n"
            if anomaly is not None and interest > 0:
                line += f"\testimate={anomaly.period:f} current={anomaly.interval:f}\n"
            out.write(line.encode("utf-8", "surrogateescape"))
            out.flush()


def start_repeater(port: int) -> None:
    """As libca does before registering: if no repeater holds the port, run one (here
    in a thread of this process, which serves the other clients of the host too)."""
    import threading

    from ..repeater import Repeater
    try:
        repeater = Repeater(port, on_error=lambda line: None)
    except OSError:
        return      # (busy: a repeater runs; else registration fails and says so)
    threading.Thread(target=repeater.serve_forever, name="CAC-repeater",
                     daemon=True).start()


def _protocol_violation(data: bytes, sender: Any) -> None:
    sys.stderr.write("CASW: udp input protocol violation\n")
    sys.stderr.flush()


if __name__ == "__main__":  # pragma: no cover
    command()
