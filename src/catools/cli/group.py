"""The ``catools`` command group: get, put, info, monitor, serve, casw, repeater (loaded
lazily)."""
from __future__ import annotations

import importlib
from typing import Any

import click

from .._version import __version__
from . import SUBCOMMANDS
from ._options import option


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (fast start-up)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        return getattr(module, target[1])

    def invoke(self, ctx: click.Context) -> Any:
        # The C-style subcommands exit on their own (CaCommand.main); run them that way
        # so that their option errors and exit codes are the same as the console scripts.
        if ctx.protected_args:
            cmd = self.get_command(ctx, ctx.protected_args[0])
            if cmd is not None and hasattr(cmd, "usage_text"):
                cmd.main(ctx.protected_args[1:] + ctx.args)
        return super().invoke(ctx)


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # (click.version_option would import locale and importlib.metadata at start-up)
    if value and not ctx.resilient_parsing:
        click.echo(f"catools, version {__version__}")
        ctx.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@option("--version", is_flag=True, expose_value=False, is_eager=True,
        callback=_show_version, help="Show the version and exit.")
def cli() -> None:
    """catools: EPICS Channel Access tools in pure Python.

    \b
    catools get PV...        like caget
    catools put PV VALUE...  like caput
    catools info PV...       like cainfo
    catools monitor PV...    like camonitor
    catools serve --demo     a Channel Access server with demo PVs
    catools casw             like casw: beacon anomalies
    catools repeater         like caRepeater
    """
