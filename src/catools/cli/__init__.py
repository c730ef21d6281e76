"""Command-line tools: the console scripts' entry points (click is imported by the
commands themselves, after :func:`_startup`)."""
from __future__ import annotations

import gc
from importlib import import_module

TYPE_CHECKING = False               # (typing is imported after _startup, by click)
if TYPE_CHECKING:  # pragma: no cover
    import click

#: subcommand of ``catools`` -> (module, attribute); modules are imported only when used.
SUBCOMMANDS = {
    "get": ("catools.cli.caget", "command"),
    "put": ("catools.cli.caput", "command"),
    "info": ("catools.cli.cainfo", "command"),
    "monitor": ("catools.cli.camonitor", "command"),
    "serve": ("catools.cli.serve", "serve"),
}


def _startup() -> None:
    """Start-up of a console script: no cyclic GC while click and catools are imported
    (a one-shot tool allocates little cyclic garbage, and collections during imports
    cost ~3 ms). Long-running commands turn it back on (:func:`enable_gc`)."""
    gc.disable()


def enable_gc() -> None:
    """Turn the cyclic GC back on (camonitor and serve run for hours); what was built
    at start-up is frozen so that collections do not walk it again."""
    gc.freeze()
    gc.enable()


def run_command(command: click.Command) -> None:
    """Run a tool's click command as its console script does: GC off, C-style exit."""
    _startup()
    command.main(prog_name=command.name, fast_exit=True)


def _run(tool: str) -> None:
    _startup()                  # before the import: that is where it pays
    run_command(import_module(f"catools.cli.{tool}").command)


def caget_main() -> None:
    """Console script ``caget``."""
    _run("caget")


def caput_main() -> None:
    """Console script ``caput``."""
    _run("caput")


def cainfo_main() -> None:
    """Console script ``cainfo``."""
    _run("cainfo")


def camonitor_main() -> None:
    """Console script ``camonitor``."""
    _run("camonitor")


def main() -> None:
    """Console script ``catools`` (the command group)."""
    _startup()
    from .group import cli
    cli.main(prog_name="catools")
