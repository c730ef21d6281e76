"""``catools serve``: run a Channel Access server for PVs from a file, or the demo."""
from __future__ import annotations

import os
import signal
import sys
from typing import Any

import click

from ._args import environment_help
from ._options import option


@click.command("serve", context_settings={"help_option_names": ["-h", "--help"]},
               epilog="\b\n" + environment_help("server"))
@click.argument("pv_file", required=False, type=click.Path(dir_okay=False))
@option("--demo", is_flag=True, help="Serve the demo PVs (sine, counter, setpoint, "
        "mode, message, long_message, waveform, readonly).")
@option("--prefix", default="demo:", show_default=True, metavar="TEXT",
        help="Name prefix of the demo PVs.")
@option("--port", type=click.IntRange(1, 65535), default=None,
        help="Server port (default: EPICS_CAS_SERVER_PORT, EPICS_CA_SERVER_PORT "
             "or 5064).")
def serve(pv_file: str | None, demo: bool, prefix: str, port: int | None) -> None:
    """Serve PVs over Channel Access until Ctrl-C or SIGTERM.

    PV_FILE is a .toml (Python >= 3.11) or .json file with a list of PV tables under
    "pv" (name, type, count, value, units, precision, limits, enum_strings, read_only...).
    Interfaces, beacons and ports come from the EPICS_CAS_* / EPICS_CA_* variables.

    \b
    Examples:
      catools serve --demo
      catools serve pvs.toml --port 5070
    """
    from ..config import ConfigError, ServerConfig
    from ..server import PVFileError, Server, install_demo, load_pv_file

    if pv_file is None and not demo:
        raise click.UsageError("give a PV file, or --demo")
    try:
        config = ServerConfig.from_env(os.environ)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if port is not None:
        config = config.replace(port=port)
    server = Server(config=config)
    try:
        if pv_file is not None:
            for pv in load_pv_file(pv_file):
                server.add_pv(pv)
        if demo:
            install_demo(server, prefix)
    except (PVFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        server.bind()
    except OSError as exc:
        import errno
        if exc.errno != errno.EADDRINUSE:
            raise click.ClickException(f"cannot listen on port {config.port}: "
                                       f"{exc.strerror or exc}") from None
        host = (config.intf_addr_list or ["127.0.0.1"])[0]
        free = _free_port(host, config.port, config.beacon_port)
        raise click.ClickException(
            f"port {config.port} is in use (another server?): run it with --port {free} "
            f"and start the clients with EPICS_CA_SERVER_PORT={free} (or "
            f"EPICS_CA_ADDR_LIST={host}:{free})") from None

    def on_signal(signum: int, frame: Any) -> None:
        server.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    host = server.addresses[0][0]
    count = len(server.pvs)
    click.echo(f"catools serve: {count} PV{'s' if count != 1 else ''} on "
               f"{host}:{server.port}", err=True)
    sys.stderr.flush()
    from . import enable_gc

    enable_gc()             # a server runs for hours: collect cycles again
    try:
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _free_port(host: str, busy: int, avoid: int) -> int:
    """A port after ``busy`` (not ``avoid``, the repeater's) free for TCP and UDP on
    ``host``."""
    import socket
    bind_host = "" if host == "0.0.0.0" else host
    for port in [*range(busy + 1, min(busy + 200, 65536)), 0]:
        if port == avoid:
            continue
        try:
            with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
                tcp.bind((bind_host, port))
                udp.bind((bind_host, tcp.getsockname()[1]))
                return tcp.getsockname()[1]
        except OSError:
            continue
    return busy + 1


if __name__ == "__main__":  # pragma: no cover
    serve()
