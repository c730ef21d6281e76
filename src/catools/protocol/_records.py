"""Record: a small immutable tuple with named fields, declared like a NamedTuple.

``typing.NamedTuple`` generates and compiles code for every class (about 0.2 ms each at
import); the protocol's five table and header types built that way were a sixth of a
one-shot tool's own start-up. A Record class is an ordinary class: fields come from the
annotations, accessors are the C ones namedtuple uses.
"""
from __future__ import annotations

from ..hints import TYPE_CHECKING


if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

try:
    from _collections import _tuplegetter  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover (other Pythons)
    from operator import itemgetter

    def _tuplegetter(index: int, doc: str) -> Any:  # type: ignore[misc]
        return property(itemgetter(index), doc=doc)


class Record(tuple):
    """Base class: subclasses list their fields as annotations and set ``__slots__ = ()``."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = tuple(cls.__dict__.get("__annotations__", {}))
        if fields:
            cls._fields = cls._fields + fields
            for index, name in enumerate(cls._fields):
                setattr(cls, name, _tuplegetter(index, f"Field {index}: {name}."))

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        fields = cls._fields
        if kwargs:
            args += tuple(kwargs.pop(name) for name in fields[len(args):] if name in kwargs)
            if kwargs:
                raise TypeError(f"{cls.__name__}() got unexpected arguments {sorted(kwargs)}")
        if len(args) != len(fields):
            raise TypeError(f"{cls.__name__}() takes {len(fields)} fields "
                            f"({', '.join(fields)}), got {len(args)}")
        return tuple.__new__(cls, args)

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    def _asdict(self) -> dict[str, Any]:
        """The fields as a dict."""
        return dict(zip(self._fields, self))

    def _replace(self, **changes: Any) -> Any:
        """A copy with some fields changed."""
        values = [changes.pop(name, value) for name, value in zip(self._fields, self)]
        return type(self)(*values, **changes)

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
        return f"{type(self).__name__}({args})"
