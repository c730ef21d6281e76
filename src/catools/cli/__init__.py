"""Command-line tools: the console scripts' entry points (click is imported by the
commands themselves, after :func:`_startup`)."""
from __future__ import annotations

import gc
import os
import sys

TYPE_CHECKING = False               # (typing is imported after _startup, by click)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable

    import click

#: subcommand of ``catools`` -> (module, attribute); modules are imported only when used.
SUBCOMMANDS = {
    "get": ("catools.cli.caget", "command"),
    "put": ("catools.cli.caput", "command"),
    "info": ("catools.cli.cainfo", "command"),
    "monitor": ("catools.cli.camonitor", "command"),
    "wait": ("catools.cli.cawait", "command"),
    "serve": ("catools.cli.serve", "serve"),
    "casw": ("catools.cli.casw", "command"),
    "repeater": ("catools.cli.repeater", "command"),
    "doctor": ("catools.cli.doctor", "command"),
    "snap": ("catools.cli.snap", "command"),
}


#: Standard modules that click imports at start-up for what a command line rarely uses:
#: ``inspect`` (for help text: ~4 ms of a caget's ~35), ``platform`` (``uuid`` asks it
#: only for the system's name: 8.5M instructions, ~1.7 ms), ``datetime`` (click.types
#: takes only its ``datetime`` class: 4M), ``gettext`` (click takes ``gettext`` and
#: ``ngettext`` to call on messages: 4M) and ``threading`` (click takes ``local``: 2.3M).
#: Plain modules only (no packages).
DEFERRED = ("datetime", "gettext", "inspect", "platform", "threading")


def _platform_system() -> object:
    """``platform.system`` as it is on Linux: the kernel's name (``os.uname``)."""
    def system() -> str:
        import os
        return os.uname().sysname
    return system


def _datetime_class() -> object:
    """``datetime.datetime``: the C module's class, which the real module exports."""
    try:
        from _datetime import datetime  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover (a Python without it: the real module)
        return None
    return datetime


def _thread_local() -> object:
    """``threading.local``: the C class, which the real module exports."""
    try:
        from _thread import _local
    except ImportError:  # pragma: no cover (a Python without it: the real module)
        return None
    return _local


def _no_threads_shutdown() -> object:
    """``threading._shutdown`` (the interpreter calls it at exit) while the real module
    is not loaded: no ``threading.Thread`` can exist, so nothing to wait for."""
    return lambda: None


def _calls_real(name: str, attr: str) -> Callable[[], object]:
    """A maker of a function that calls the real ``name.attr`` (importing ``name``)."""
    def maker() -> object:
        def call(*args: Any) -> Any:
            return getattr(_real(name), attr)(*args)
        call.__name__ = call.__qualname__ = attr
        return call
    return maker


#: What a deferred module's stand-in answers without importing the module (what the
#: real module gives or does here; see :func:`_startup`): (module, attribute) -> its
#: maker (None: ask the real module).
ANSWERS: dict[tuple[str, str], Callable[[], object]] = {
    ("platform", "system"): _platform_system, ("datetime", "datetime"): _datetime_class,
    ("gettext", "gettext"): _calls_real("gettext", "gettext"),
    ("gettext", "ngettext"): _calls_real("gettext", "ngettext"),
    ("threading", "local"): _thread_local, ("threading", "_shutdown"): _no_threads_shutdown,
}


if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType as _Module
else:
    _Module = type(sys)              # (types.ModuleType, without importing types)


class _Deferred(_Module):
    """Stands in for a module in ``sys.modules`` until an attribute is first used; the
    real module is then imported, replaces it there, and lends it its attributes."""

    def __getattr__(self, attr: str) -> object:
        if attr == "__path__":      # (asked by ``from x import y``: not a package)
            raise AttributeError(attr)
        maker = ANSWERS.get((self.__name__, attr))
        answer = None if maker is None else maker()
        if answer is not None:
            return answer
        return getattr(self._load(), attr)

    def _load(self) -> _Module:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = _import(name)
        self.__dict__.update(real.__dict__)
        return real


def _real(name: str) -> _Module:
    """The module ``name``, imported if only its stand-in is there."""
    module = sys.modules.get(name)
    return module._load() if isinstance(module, _Deferred) else _import(name)


def _import(name: str) -> _Module:
    """``importlib.import_module(name)`` without loading importlib (a one-shot tool
    does not need it)."""
    __import__(name)
    return sys.modules[name]


def _startup() -> None:
    """Start-up of a console script: no cyclic GC while click and catools are imported
    (a one-shot tool allocates little cyclic garbage, and collections during imports
    cost ~3 ms), and the :data:`DEFERRED` modules imported only if used. Long-running
    commands turn the GC back on (:func:`enable_gc`)."""
    gc.disable()
    for name in DEFERRED:
        if name == "platform" and sys.platform != "linux":
            continue            # (elsewhere platform.system() is not os.uname()'s name)
        if name not in sys.modules:
            module = sys.modules[name] = _Deferred(name)
            module.__spec__ = None   # what import statements look at: not a use


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
    """Run a tool as its console script: see :func:`_run_plain`; else its click
    command."""
    _startup()                  # before the import: that is where it pays
    module = _import(f"catools.cli.{tool}")
    _run_plain(module, sys.argv[1:], tool)
    run_command(module.command)


def _run_plain(module: _Module, args: list[str], prog: str) -> None:
    """Run the tool of ``module`` (one with a ``TOOL``) on ``args`` without click, and
    exit, when they are a command line of its ordinary options and PV names; return
    otherwise (help, a bad option, shell completion of ``prog``: click's)."""
    spec = getattr(module, "TOOL", None)
    if spec is None or f"_{prog.upper()}_COMPLETE" in os.environ:
        return
    from ._getopt import parse
    parsed = parse(args, spec.options, spec.permute)
    if parsed is not None:
        from ._app import run_guarded
        values, order, words = parsed
        run_guarded(spec.name, lambda: spec.main(words, order, **values), fast_exit=True)


def command_attribute(module: dict[str, Any]) -> Callable[[str], Any]:
    """A command module's ``__getattr__``: its ``command``, the click command of its
    ``TOOL``, made when first asked for (a plain command line is read without it)."""
    def __getattr__(name: str) -> Any:
        if name != "command":
            raise AttributeError(f"module {module['__name__']!r} has no attribute {name!r}")
        from ._options import build_command
        command = module["command"] = build_command(module["TOOL"])
        return command
    return __getattr__


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
    from ._argv import restart_if_long
    restart_if_long()           # (100,000 names: run again on them read from a file)
    _run("camonitor")


def cawait_main() -> None:
    """Console script ``cawait``."""
    _run("cawait")


def casw_main() -> None:
    """Console script ``casw``."""
    _run("casw")


def main() -> None:
    """Console script ``catools`` (the command group): ``catools get ...`` and the other
    tools' subcommands are read as their console scripts read them."""
    _startup()
    args = sys.argv[1:]
    target = SUBCOMMANDS.get(args[0]) if args else None
    if target is not None:
        _run_plain(_import(target[0]), args[1:], "catools")
    from .group import cli
    cli.fast_exit = True
    cli.main(prog_name="catools")
