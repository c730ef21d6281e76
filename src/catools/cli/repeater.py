"""``catools repeater``: a CA repeater (EPICS base's caRepeater) in the foreground."""
from __future__ import annotations

import os
import signal
import sys
import click

from ._args import environment_help
from ._options import option


@click.command("repeater", context_settings={"help_option_names": ["-h", "--help"]},
               epilog="\b\n" + environment_help("repeater"))
@option("-v", "--verbose", is_flag=True,
        help="Keep stdin, stdout and stderr (by default they are replaced by /dev/null "
             "once the port is bound).")
def command(verbose: bool) -> None:
    """Fan out CA beacons to the clients of this host, as caRepeater does.

    Binds EPICS_CA_REPEATER_PORT (default 5065) and runs until Ctrl-C or SIGTERM.
    Exits at once, with status 0, if another repeater already holds the port.
    """
    from ..config import ConfigError, raw, read
    from ..repeater import Repeater, RepeaterBusy, multicast_groups

    env = os.environ
    try:
        port = read(env, "EPICS_CA_REPEATER_PORT")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    # (the multicast entries of the list are joined; any other entry is skipped)
    groups = multicast_groups(raw(env, "EPICS_CAS_BEACON_ADDR_LIST")
                              or raw(env, "EPICS_CA_ADDR_LIST"))
    try:
        repeater = Repeater(port, groups)
    except RepeaterBusy:
        raise SystemExit(0) from None
    except OSError as exc:
        raise click.ClickException(f"unable to create the repeater socket on port "
                                   f"{port}: {exc.strerror or exc}") from None
    if not verbose:
        _detach()
    from . import enable_gc

    enable_gc()
    try:
        repeater.serve_forever()
    except KeyboardInterrupt:
        repeater.close()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    finally:
        repeater.close()


def _detach() -> None:
    """As caRepeater without -v: stdin, stdout and stderr on /dev/null, cwd /."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    read_fd = os.open(os.devnull, os.O_RDONLY)
    write_fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(read_fd, 0)
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(read_fd)
    os.close(write_fd)
    os.chdir("/")


if __name__ == "__main__":  # pragma: no cover
    command()
