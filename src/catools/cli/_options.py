"""The tools' click options: the C tools' option bundles and order-sensitive options,
help and version, PV name arguments (the values they take are read by
:mod:`catools.cli._args`, which does not need click)."""
from __future__ import annotations

import sys
from typing import Any, Callable

import click

from ._app import VERSION_TEXT, Stdout
from ._args import NUMBER_OPTIONS, environment_help, number_format_option


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


def ca_options(f: Callable) -> Callable:
    """``-w``, ``-p``: timeout and priority, parsed leniently like the C tools."""
    f = option("-p", "priority", metavar="<prio>", default=None,
               help="CA priority (0-99, default 0=lowest).")(f)
    f = option("-w", "timeout", metavar="<sec>", default=None,
               help="Wait time (CA timeout), default 1.0 s; 0 waits forever.")(f)
    return f


def json_option(help: str) -> Callable:
    """``--json``: our addition; the command gets ``output`` ("json" or "text"), which
    only :func:`catools.cli._output.open_sink` interprets."""
    return option("--json", "output", flag_value="json", default="text", help=help)


def json_options(f: Callable) -> Callable:
    """``--json`` and ``--file``: our additions (long options only)."""
    f = option("--file", "name_file", metavar="FILE", default=None,
               help="Also read PV names from FILE, one per line ('-' = stdin).")(f)
    return json_option("One JSON object per PV (or update) per line.")(f)


def number_format_options(digits: str) -> Callable:
    """``-e``/``-f``/``-g <digits>``, ``-l``/``-0 <x|o|b>`` and ``-F <ofs>``, as caget
    and camonitor both take them (``digits``: the name their usage gives the precision,
    ``<nr>`` or ``<num>``); see :func:`number_format_option` for their effect."""
    def decorate(f: Callable) -> Callable:
        f = option("-F", "separator", metavar="<ofs>",
                   help="Alternate output field separator.")(f)
        f = option("-0", "int_base", metavar="<x|o|b>", callback=record_order,
                   help="Print integers as hex, octal or binary.")(f)
        f = option("-l", "long_base", metavar="<x|o|b>", callback=record_order,
                   help="Round to long and print as hex, octal or binary.")(f)
        for kind in "gfe":
            f = option(f"-{kind}", f"fmt_{kind}", metavar=digits, callback=record_order,
                       help=f"Use %{kind} with {digits} digits.")(f)
        return f
    return decorate


def number_formats(ctx: click.Context) -> dict[str, Any]:
    """``float_format``/``float_base``/``int_base`` from -e/-f/-g/-l/-0 taken in
    command-line order (camonitor's and cawait's rule; caget interleaves them with
    -t/-a/-d)."""
    formats: dict[str, Any] = {"float_format": "%g", "float_base": None, "int_base": None}
    for name, value in ctx.meta.get("order", []):
        if name in NUMBER_OPTIONS:
            number_format_option(name, value, formats)
    return formats
