"""The tools' ordinary options as data, and the parse of a command line made of them
alone without click (importing click is ~12 ms of a one-PV caget's ~38).

A command declares its options once, as a tuple of :class:`Opt`: its click command is
built from them (:func:`catools.cli._options.table_options`), and :func:`parse` reads
a command line of those options and PV names exactly as click would. Anything else
(``-h``, ``-V``, an unknown or misspelt option, a missing value, ``--name=value``, a
bad choice) is left to click, which reports it as the C tools do.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Sequence


class Opt:
    """One option: ``flag`` (``-t``, ``--json``), the parameter ``name`` it sets, the
    ``metavar`` of its value (None: it takes none), the one-line ``help``; ``ordered``:
    its place among the order-sensitive options counts (the command sees
    ``(name, value)`` pairs in command-line order); ``value``/``default``: what a flag
    sets when given and when not (True/False); ``choices``: the values it accepts
    (in any case; the value is then the choice's spelling)."""

    __slots__ = ("flag", "name", "metavar", "help", "ordered", "value", "default",
                 "choices")

    def __init__(self, flag: str, name: str, metavar: str | None = None, *, help: str,
                 ordered: bool = False, value: Any = True, default: Any = None,
                 choices: Sequence[str] | None = None) -> None:
        self.flag = flag
        self.name = name
        self.metavar = metavar
        self.help = help
        self.ordered = ordered
        self.value = value
        self.default = (False if default is None else default) if metavar is None \
            else default
        self.choices = None if choices is None else tuple(choices)


def parse(args: Sequence[str], options: Sequence[Opt]
          ) -> tuple[dict[str, Any], list[tuple[str, Any]], list[str]] | None:
    """``(values, order, names)`` as click's parse of ``args`` gives them (every
    option's value, its default if not given; the ``ordered`` options given, as
    ``(name, value)`` by first appearance, each with its last value; the other words,
    getopt-permuted), when ``args`` holds only ``options`` and plain words; None for
    anything else."""
    table = {opt.flag: opt for opt in options}
    given: dict[str, Any] = {}
    names: list[str] = []
    n = len(args)
    i = 0
    # (the plain words after the last option and its value are names: one slice)
    last = n - 1
    while last >= 0 and args[last][:1] != "-":
        last -= 1
    stop = min(last + 2, n)
    while i < stop:
        arg = args[i]
        i += 1
        if arg[:1] != "-" or arg == "-":
            names.append(arg)
        elif arg == "--":
            names += args[i:]
            return _result(options, given, names)
        elif arg[:2] == "--":
            opt = table.get(arg)
            if opt is None:
                return None         # (unknown, or --name=value: click's)
            if opt.metavar is None:
                given[opt.name] = opt.value
            elif i < n:
                given[opt.name] = args[i]
                i += 1
                stop = max(stop, i)
            else:
                return None
        else:
            for k in range(1, len(arg)):
                opt = table.get("-" + arg[k])
                if opt is None:
                    return None
                if opt.metavar is None:
                    given[opt.name] = opt.value
                    continue
                if k + 1 < len(arg):
                    text = arg[k + 1:]
                elif i < n:
                    text = args[i]
                    i += 1
                    stop = max(stop, i)
                else:
                    return None     # (a missing value: click's message)
                given[opt.name] = text
                break
    names += args[stop:]
    return _result(options, given, names)


def _result(options: Sequence[Opt], given: dict[str, Any], names: list[str]
            ) -> tuple[dict[str, Any], list[tuple[str, Any]], list[str]] | None:
    """The parse's result, once each option's last value is known (a value that is no
    choice of its option: None)."""
    for opt in options:
        if opt.choices is not None and opt.name in given:
            folded = given[opt.name].casefold()
            choice = next((c for c in opt.choices if c.casefold() == folded), None)
            if choice is None:
                return None
            given[opt.name] = choice
    ordered = {opt.name for opt in options if opt.ordered}
    order = [(name, value) for name, value in given.items() if name in ordered]
    values = {opt.name: given.get(opt.name, opt.default) for opt in options}
    return values, order, names
