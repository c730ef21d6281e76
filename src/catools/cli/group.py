"""The ``catools`` command group: get, put, info, monitor, serve, casw, repeater (loaded
lazily)."""
from __future__ import annotations

from typing import Any

import click

from .._version import __version__
from . import SUBCOMMANDS, _import
from ._options import CaOption, option


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (fast start-up)."""

    #: Set by the console script: a C-style subcommand then exits as its own console
    #: script does, without the interpreter's teardown (~20M instructions).
    fast_exit = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module = _import(target[0])     # (importlib is not loaded for it)
        return getattr(module, target[1])

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        """click's help option, made once as a :class:`CaOption`: click's own passes its
        text through gettext and inspect (~25M instructions of every ``catools get``)."""
        names = self.get_help_option_names(ctx)
        if not names or not self.add_help_option:
            return None
        made = self.__dict__.get("_catools_help")
        if made is None or made.opts + made.secondary_opts != names:
            made = self.__dict__["_catools_help"] = CaOption(
                names, is_flag=True, expose_value=False, is_eager=True,
                callback=_show_help, help="Show this message and exit.")
        return made

    def invoke(self, ctx: click.Context) -> Any:
        # The C-style subcommands exit on their own (CaCommand.main); run them that way
        # so that their option errors and exit codes are the same as the console scripts.
        if ctx.protected_args:
            cmd = self.get_command(ctx, ctx.protected_args[0])
            if cmd is not None and hasattr(cmd, "usage_text"):
                cmd.main(ctx.protected_args[1:] + ctx.args, fast_exit=self.fast_exit)
        return super().invoke(ctx)


def _show_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # (what click's help option does)
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


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
