"""Formatting options shared by the caget/caput/camonitor text formatters."""

from __future__ import annotations

from ..hints import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

__all__ = ["FormatOptions", "float_format", "parse_timestamp_keys", "MAX_FLOAT_DIGITS"]

#: Largest precision accepted by ``-e/-f/-g`` (``VALID_DOUBLE_DIGITS``).
MAX_FLOAT_DIGITS = 18

_MODES = ("plain", "terse", "wide", "dbr")
_BASES = (None, "x", "o", "b")
_TS_TYPES = ("absolute", "relative", "incremental", "incremental_by_channel")


_DEFAULTS: dict[str, Any] = {
    "mode": "plain", "separator": " ", "count": 0, "enum_as_number": False,
    "char_as_string": False, "float_as_string": False, "float_format": "%g",
    "float_base": None, "int_base": None, "ts_server": True, "ts_client": False,
    "ts_type": "absolute"}


class FormatOptions:
    """Everything that changes how a reading is printed.

    ``mode``: ``plain`` (``name value``), ``terse`` (``-t``), ``wide`` (``-a`` of caget,
    ``-l`` of caput, every camonitor line) or ``dbr`` (``caget -d``).
    ``separator``: the ``-F`` character (only its first character counts; a separator
    other than a space turns off the ``%-30s`` name padding).
    ``count``: the ``-#`` value, 0 when not given.
    ``float_format``: a printf format for doubles, ``%g`` or ``%-.<n>e|f|g``.
    ``float_base`` / ``int_base``: ``-lx/-lo/-lb`` and ``-0x/-0o/-0b`` as ``x``/``o``/``b``.
    ``ts_server``/``ts_client``/``ts_type``: camonitor ``-t`` keys.
    ``enum_as_number`` (``-n``), ``char_as_string`` (``-S``), ``float_as_string`` (``-s``,
    used only to choose the request type).
    """

    __slots__ = tuple(_DEFAULTS)
    # (the same names, typed for checkers; a test keeps the two lists equal)
    mode: str
    separator: str
    count: int
    enum_as_number: bool
    char_as_string: bool
    float_as_string: bool
    float_format: str
    float_base: str | None
    int_base: str | None
    ts_server: bool
    ts_client: bool
    ts_type: str

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown format option(s): {', '.join(sorted(unknown))}")
        for name, default in _DEFAULTS.items():
            object.__setattr__(self, name, options.get(name, default))
        self.__post_init__()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FormatOptions is immutable; use .replace()")

    def replace(self, **changes: Any) -> "FormatOptions":
        """A copy with some options changed."""
        values = {name: getattr(self, name) for name in _DEFAULTS}
        values.update(changes)
        return FormatOptions(**values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FormatOptions) and all(
            getattr(self, n) == getattr(other, n) for n in _DEFAULTS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _DEFAULTS))

    def __repr__(self) -> str:
        return "FormatOptions(" + ", ".join(
            f"{n}={getattr(self, n)!r}" for n in _DEFAULTS) + ")"

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, not {self.mode!r}")
        if not self.separator:
            raise ValueError("separator must not be empty")
        if len(self.separator) != 1:
            object.__setattr__(self, "separator", self.separator[0])
        if self.count < 0:
            raise ValueError("count must be >= 0")
        if self.float_base not in _BASES or self.int_base not in _BASES:
            raise ValueError("float_base/int_base must be None, 'x', 'o' or 'b'")
        if self.ts_type not in _TS_TYPES:
            raise ValueError(f"ts_type must be one of {_TS_TYPES}")
        try:
            self.float_format % 1.0
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad float_format {self.float_format!r}") from exc

    @property
    def padded(self) -> bool:
        """True when scalar names are padded to 30 columns (separator is a space)."""
        return self.separator == " "


def float_format(kind: str, digits: int) -> str:
    """printf format for ``-e/-f/-g <digits>``; raises ValueError outside 0..18."""
    if kind not in ("e", "f", "g"):
        raise ValueError(f"kind must be 'e', 'f' or 'g', not {kind!r}")
    if not 0 <= digits <= MAX_FLOAT_DIGITS:
        raise ValueError(f"Precision {digits} for option '-{kind}' out of range")
    return f"%-.{digits}{kind}"


def parse_timestamp_keys(keys: str) -> tuple[bool, bool, str, list[str]]:
    """Parse a camonitor ``-t`` argument.

    Returns ``(server, client, ts_type, invalid_chars)``. As in camonitor, any ``-t``
    first clears both sources; ``n`` selects nothing; unknown characters are returned
    so the caller can warn about each one.
    """
    server = client = False
    ts_type = "absolute"
    bad: list[str] = []
    for c in keys:
        if c == "s":
            server = True
        elif c == "c":
            client = True
        elif c == "n":
            pass
        elif c == "r":
            ts_type = "relative"
        elif c == "i":
            ts_type = "incremental"
        elif c == "I":
            ts_type = "incremental_by_channel"
        else:
            bad.append(c)
    return server, client, ts_type, bad
