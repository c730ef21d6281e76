"""The tools' ordinary options as data, and the parse of a command line made of them
alone without click (importing click is ~12 ms of a one-PV caget's ~38).

A tool declares its command line once, as a :class:`Tool` with a tuple of :class:`Opt`:
its click command is built from it (:func:`catools.cli._options.build_command`), and
:func:`parse` reads a command line of those options and PV names exactly as click would.
Anything else (``-h``, ``-V``, an unknown or misspelt option, a missing or bad value,
``--name=value``) is left to click, which reports it as the C tools do.
"""
from __future__ import annotations

from ..hints import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Sequence


class Opt:
    """One option: ``flag`` (``-t``, ``--json``; ``alias``: a second one), the parameter
    ``name`` it sets, the ``metavar`` of its value (None: it takes none), the one-line
    ``help``; ``ordered``: its place among the order-sensitive options counts (the
    command sees ``(name, value)`` pairs in command-line order); ``value``/``default``:
    what a flag sets when given and when not (True/False); ``choices``: the values it
    accepts (in any case; the value is then the choice's spelling); ``convert``: what
    makes the value of its text (``int``; a ValueError is click's to report)."""

    __slots__ = ("flag", "alias", "name", "metavar", "help", "ordered", "value", "default",
                 "choices", "convert")

    def __init__(self, flag: str, name: str, metavar: str | None = None, *, help: str,
                 alias: str | None = None, ordered: bool = False, value: Any = True,
                 default: Any = None, choices: Sequence[str] | None = None,
                 convert: Callable[[str], Any] | None = None) -> None:
        self.flag = flag
        self.alias = alias
        self.name = name
        self.metavar = metavar
        self.help = help
        self.ordered = ordered
        self.value = value
        self.default = (False if default is None else default) if metavar is None \
            else default
        self.choices = None if choices is None else tuple(choices)
        self.convert = convert


class Tool:
    """A tool's command line: its ``name``, one-line ``summary`` and ``usage`` text (its
    ``-h``), its ``options``, the letters of ``unhandled`` options (the C tool's getopt
    takes them, then prints the usage), the name of its ``positional`` arguments and
    whether options may follow them (``permute``, as GNU getopt); ``main(positional,
    order, **values)`` runs it and returns the exit status."""

    __slots__ = ("name", "summary", "usage", "options", "main", "unhandled", "positional",
                 "permute")

    def __init__(self, name: str, summary: str, usage: str, options: Sequence[Opt],
                 main: Callable[..., int], *, unhandled: str = "",
                 positional: str = "names", permute: bool = True) -> None:
        self.name = name
        self.summary = summary
        self.usage = usage
        self.options = tuple(options)
        self.main = main
        self.unhandled = unhandled
        self.positional = positional
        self.permute = permute


def parse(args: list[str], options: Sequence[Opt], permute: bool = True
          ) -> tuple[dict[str, Any], list[tuple[str, Any]], list[str]] | None:
    """``(values, order, words)`` as click's parse of ``args`` gives them (every
    option's value, its default if not given; the ``ordered`` options given, as
    ``(name, value)`` by first appearance, each with its last value; the other words:
    getopt-permuted, else from the first on), when ``args`` holds only ``options`` and
    plain words; None for anything else."""
    table = {opt.flag: opt for opt in options}
    table.update((opt.alias, opt) for opt in options if opt.alias is not None)
    given: dict[str, Any] = {}
    words: list[str] = []
    head, tail = split_plain_tail(args) if permute else (args, [])
    n = len(head)
    i = 0
    while i < n:
        arg = head[i]
        i += 1
        if arg[:1] != "-" or arg == "-":
            if not permute:
                return _result(options, given, list(args[i - 1:]))
            words.append(arg)
        elif arg == "--":
            words += head[i:]
            words += tail
            return _result(options, given, words)
        elif arg[:2] == "--":
            opt = table.get(arg)
            if opt is None:
                return None         # (unknown, or --name=value: click's)
            if opt.metavar is None:
                given[opt.name] = opt.value
            elif i < n:
                given[opt.name] = head[i]
                i += 1
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
                    text = head[i]
                    i += 1
                else:
                    return None     # (a missing value: click's message)
                given[opt.name] = text
                break
    words += tail
    return _result(options, given, words)


def split_plain_tail(args: list[str]) -> tuple[list[str], list[str]]:
    """``(head, tail)``: ``tail`` is what follows the last argument that starts with
    ``-`` and the one word after it (the value that option may take). Every word of
    ``tail`` is a positional argument wherever the options are (getopt permutation),
    so parsing ``head`` and appending ``tail`` gives what parsing all of ``args`` gives."""
    last = -1
    for index in range(len(args) - 1, -1, -1):
        if args[index][:1] == "-":
            last = index
            break
    cut = last + 2
    return args[:cut], args[cut:]


def _result(options: Sequence[Opt], given: dict[str, Any], words: list[str]
            ) -> tuple[dict[str, Any], list[tuple[str, Any]], list[str]] | None:
    """The parse's result, once each option's last value is known (a value that is no
    choice of its option, or that it cannot convert: None)."""
    for opt in options:
        if opt.name not in given or opt.metavar is None:
            continue
        text = given[opt.name]
        if opt.choices is not None:
            folded = text.casefold()
            choice = next((c for c in opt.choices if c.casefold() == folded), None)
            if choice is None:
                return None
            given[opt.name] = choice
        elif opt.convert is not None:
            try:
                given[opt.name] = opt.convert(text)
            except ValueError:
                return None
    ordered = {opt.name for opt in options if opt.ordered}
    order = [(name, value) for name, value in given.items() if name in ordered]
    values = {opt.name: given.get(opt.name, opt.default) for opt in options}
    return values, order, words
