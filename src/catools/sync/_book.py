"""ChannelBook: what a library Context keeps between its calls, for both twins."""
from __future__ import annotations

from typing import Any, Iterable

from ..errors import NotFound


class ChannelBook:
    """The channels a library Context (``catools.Context``, ``catools.aio.Context``)
    keeps between calls, kept by the side that runs its client: ``known``, the names a
    get, put or info reached (their channels stay for the next call); ``in_use``, the
    names monitors use, counted (never released while used); ``labels``, the enum
    labels read once per channel; ``monitors``, the monitors open (closed with it).
    The Context releases the channels this book gives up."""

    def __init__(self) -> None:
        self.labels: dict[str, list[str]] = {}
        self.in_use: dict[str, int] = {}
        self.known: set[str] = set()
        self.monitors: list[Any] = []

    def settle(self, results: Iterable[Any]) -> list[str]:
        """Keep the names a call reached; the names it did not find (to release)."""
        missing = []
        for result in results:
            if isinstance(result.error, NotFound):
                missing.append(result.name)
            else:
                self.known.add(result.name)
        return missing

    def drop(self, names: Iterable[str], force: bool = False) -> list[str]:
        """Forget ``names`` that no monitor uses (all of them with ``force``); the names
        whose channels are to be released."""
        dropped = []
        for name in names:
            if not force and self.in_use.get(name):
                continue
            self.labels.pop(name, None)
            self.known.discard(name)
            dropped.append(name)
        return dropped

    def use(self, names: Iterable[str]) -> list[str]:
        """A monitor takes ``names`` (each once): the ones it opens, neither known nor in
        use before (released again when it lets go of them, unless a call keeps them)."""
        opened = []
        for name in dict.fromkeys(names):
            if name not in self.known and not self.in_use.get(name):
                opened.append(name)
            self.in_use[name] = self.in_use.get(name, 0) + 1
        return opened

    def unuse(self, names: Iterable[str], opened: Iterable[str]) -> list[str]:
        """A monitor lets go of ``names``: of those it ``opened``, the ones no call keeps
        (to :meth:`drop` and release)."""
        in_use = self.in_use
        for name in dict.fromkeys(names):
            left = in_use.get(name, 0) - 1
            if left > 0:
                in_use[name] = left
            else:
                in_use.pop(name, None)
        return [name for name in opened if name not in self.known]


def book_view(name: str, doc: str) -> Any:
    """A read-only property giving ``self.book.<name>`` (a Context's view of its book)."""
    def get(self: Any) -> Any:
        return getattr(self.book, name)
    return property(get, doc=doc)


#: A Context's views of its book, as both twins show them.
MONITORS_VIEW = book_view("monitors", "The monitors open on this Context (a view of "
                                      "``book.monitors``).")
IN_USE_VIEW = book_view("in_use", "The names monitors use, counted (a view of "
                                  "``book.in_use``).")


__all__ = ["ChannelBook", "MONITORS_VIEW", "IN_USE_VIEW"]
