"""The tools' click options: the C tools' option bundles and order-sensitive options,
help and version, PV name arguments (the values they take are read by
:mod:`catools.cli._args`, which does not need click)."""
from __future__ import annotations

import sys
from typing import Any, Callable, Sequence

import click

from ._app import VERSION_TEXT, Stdout
from ._args import environment_help, json_opt
from ._getopt import Opt, Tool


class CaOption(click.Option):
    """A click option whose help text is kept as written (one clean line; a test checks
    them all): click would pass it through ``inspect.cleandoc``, and importing inspect
    costs ~4 ms of a caget's start-up (:data:`catools.cli.DEFERRED`)."""

    def __init__(self, *param_decls: Any, help: str | None = None, **attrs: Any) -> None:
        super().__init__(*param_decls, **attrs)
        self.help = help


def option(*param_decls: str, **attrs: Any) -> Callable:
    """``click.option`` making a :class:`CaOption`."""
    return click.option(*param_decls, cls=CaOption, **attrs)


def record_order(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Option callback: remember the order of order-sensitive options (the C tools
    apply them as getopt meets them) in ``ctx.meta["order"]`` as (name, value)."""
    if value is not None and value is not False:
        ctx.meta.setdefault("order", []).append((param.name, value))
    return value


def usage_error_option(letter: str) -> Callable:
    """A hidden option the C tool's getopt accepts but does not handle: usage on
    stderr and exit 1 (caget's -i, cainfo's -n)."""
    def show(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            sys.stderr.write(ctx.command.get_help(ctx))
            ctx.exit(1)
    return option(f"-{letter}", f"unhandled_{letter}", is_flag=True,
                  expose_value=False, callback=show, hidden=True)


def help_option(f: Callable) -> Callable:
    """``-h``/``--help``: the usage on stderr, then the environment block (our
    addition), exit 0 (as the C tools)."""
    def show(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            sys.stderr.write(ctx.command.get_help(ctx) + environment_help("client", "tool"))
            sys.stderr.flush()
            ctx.exit(0)
    return option("-h", "--help", is_flag=True, expose_value=False, is_eager=True,
                  callback=show, help="Print the usage on stderr.")(f)


def version_option(f: Callable) -> Callable:
    """``-V``: the C tools' version line on stdout; ``--version`` (our addition): the
    tool, the distribution and its version."""
    def show(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            Stdout().write(VERSION_TEXT.encode())
            ctx.exit(0)
    def show_long(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            from .._version import __version__
            Stdout().write(f"{ctx.command.name} (epics-catools) {__version__}\n".encode())
            ctx.exit(0)
    f = option("--version", "long_version", is_flag=True, expose_value=False,
               is_eager=True, callback=show_long, help="Show the package version.")(f)
    return option("-V", "version", is_flag=True, expose_value=False, is_eager=True,
                  callback=show, help="Show the version.")(f)


class PVNames(click.Argument):
    """The PV names on the command line (``nargs=-1``): taken as they are, strings from
    argv, without click's per-value conversion (10,000 names cost it ~4 ms)."""

    def type_cast_value(self, ctx: click.Context, value: Any) -> Any:
        return () if value is None else tuple(value)


def table_options(options: Sequence[Opt]) -> Callable:
    """The click options of a command's :class:`~catools.cli._getopt.Opt` table, in
    the table's order (what :func:`catools.cli._getopt.parse` reads without click)."""
    def decorate(f: Callable) -> Callable:
        for opt in reversed(options):
            attrs: dict[str, Any] = {"help": opt.help}
            if opt.metavar is None:
                if opt.value is True and opt.default is False:
                    attrs["is_flag"] = True
                else:
                    attrs.update(flag_value=opt.value, default=opt.default)
            else:
                attrs.update(metavar=opt.metavar, default=opt.default)
                if opt.choices is not None:
                    attrs["type"] = click.Choice(opt.choices, case_sensitive=False)
                elif opt.convert is not None:
                    attrs["type"] = opt.convert
            if opt.ordered:
                attrs["callback"] = record_order
            flags = (opt.flag,) if opt.alias is None else (opt.flag, opt.alias)
            f = option(*flags, opt.name, **attrs)(f)
        return f
    return decorate


def json_option(help: str) -> Callable:
    """``--json``: our addition; the command gets ``output`` ("json" or "text"), which
    only :func:`catools.cli._output.open_sink` interprets."""
    return table_options((json_opt(help),))


def build_command(tool: Tool) -> click.Command:
    """A tool's click command: ``-h``, ``-V``/``--version``, its option table, its
    unhandled letters (the C tool's getopt takes them, then prints the usage) and its
    positional arguments; it calls ``tool.main(positional, order, **values)``
    (``order``: the order-sensitive options given, as (name, value), in command-line
    order)."""
    from ._command import CaCommand
    main, positional = tool.main, tool.positional

    def callback(ctx: click.Context, **values: Any) -> int:
        return main(values.pop(positional), ctx.meta.get("order", []), **values)
    cls = PVNames if positional == "names" else click.Argument
    f: Any = click.argument(positional, nargs=-1, cls=cls)(click.pass_context(callback))
    for letter in tool.unhandled:
        f = usage_error_option(letter)(f)
    f = help_option(version_option(table_options(tool.options)(f)))
    return click.command(tool.name, cls=CaCommand, usage_text=tool.usage,
                         permute=tool.permute, help=tool.summary)(f)
