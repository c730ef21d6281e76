"""``wait_for``: wait until a PV meets a condition (the library form of a ``cawait``),
and :func:`parse_condition`, the condition language it shares with the tools."""
from __future__ import annotations

import math
from time import monotonic
from typing import Any, Callable

from ..errors import Timeout
from ..results import Reading
from ._args import check_name, check_timeout
from ._context import Context
from ._monitor import monitor

_OPERATORS = (">=", "<=", "!=", "==", ">", "<", "=")


class Condition:
    """A test of a :class:`Reading` made from text (see :func:`parse_condition`);
    ``text`` is what it was made from."""

    __slots__ = ("text", "op", "low", "high", "number", "inside")

    def __init__(self, text: str, op: str, low: Any, high: Any = None,
                 inside: bool = True) -> None:
        self.text = text
        self.op = op            # an operator, or "..." for a range
        self.low = low
        self.high = high
        self.number = _number(low) if isinstance(low, str) else low
        self.inside = inside

    def __call__(self, reading: Any) -> bool:
        value = getattr(reading, "value", reading)
        if isinstance(value, list):
            if not value:
                return False
            value = value[0]        # an array: its first element
        if self.op == "...":
            number = _as_number(value, reading)
            if number is None:
                return False
            return (self.low <= number <= self.high) == self.inside
        operand = self.low
        number = self.number
        if number is not None:
            mine = _as_number(value, reading)
            if mine is not None:
                return _compare(self.op, mine, number)
        if self.op in ("==", "!="):
            return (str(value) == operand) == (self.op == "==")
        return False

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"


def parse_condition(text: str) -> Condition:
    """A condition from text: ``">5"``, ``">=5"``, ``"<0"``, ``"<=0"``, ``"!=3"``,
    ``"==Open"`` (``=`` alone, or no operator, means ``==``), ``"1...2"`` (an
    inclusive range) or ``"!1...2"`` (outside it).

    Numbers compare numerically (an enum by its index, a string PV whose text is a
    number by that number); other operands compare as text with ``==``/``!=`` (an
    enum by its label). An array is tested by its first element. A bad condition is a
    ValueError.
    """
    if not isinstance(text, str):
        raise ValueError(f"a condition must be a str, not {text!r}")
    stripped = text.strip()
    if "..." in stripped:
        inside = not stripped.startswith("!")
        low_text, _, high_text = stripped.lstrip("!").partition("...")
        low, high = _number(low_text), _number(high_text)
        if low is None or high is None:
            raise ValueError(f"a range condition needs two numbers (such as '1...2'), "
                             f"not {text!r}")
        return Condition(text, "...", min(low, high), max(low, high), inside)
    for op in _OPERATORS:
        if stripped.startswith(op):
            operand = stripped[len(op):].strip()
            break
    else:
        op, operand = "==", stripped
    op = "==" if op == "=" else op
    if not operand:
        raise ValueError(f"condition {text!r} has no value: use >5, >=5, <5, <=5, ==5, "
                         "!=5, ==Open, 1...2 or !1...2")
    if op not in ("==", "!=") and _number(operand) is None:
        raise ValueError(f"condition {text!r} compares with {operand!r}, which is not a "
                         "number (only == and != compare text)")
    return Condition(text, op, operand)


def wait_for(name: str, condition: str | Callable[[Any], Any], *, timeout: float | None,
             format: str = "time", context: Context | None = None) -> Reading:
    """Wait until PV ``name`` meets ``condition`` (a :func:`parse_condition` text, or
    a function of the :class:`Reading` that returns true) and return the Reading that
    met it (its current value, if it does already). After ``timeout`` seconds (None:
    no limit) it raises :class:`catools.Timeout` naming the PV and the condition."""
    check_name(name)
    seconds = check_timeout(timeout, allow_none=True)
    test = parse_condition(condition) if isinstance(condition, str) else condition
    if not callable(test):
        raise ValueError(f"condition must be a str or a callable, not {condition!r}")
    described = condition if isinstance(condition, str) else \
        getattr(condition, "__name__", repr(condition))
    deadline = None if seconds is None else monotonic() + seconds
    last: Any = None
    with monitor(name, format=format, context=context) as events:
        while True:
            left = None if deadline is None else deadline - monotonic()
            if left is not None and left <= 0:
                break
            event = events._pop(left)
            if event is None or not hasattr(event, "name"):
                break
            if isinstance(event, Reading):
                last = event
                if test(event):
                    return event
    seen = "no value was read" if last is None else f"the last value was {last.value!r}"
    within = "before the monitor closed" if seconds is None else f"within {seconds:g} s"
    raise Timeout(name, f"condition {described!r} not met {within} ({seen})")


def _number(text: str) -> float | None:
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _as_number(value: Any, reading: Any) -> float | None:
    index = getattr(reading, "index", None)
    if index is not None:
        return float(index)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return _number(value)
    return None


def _compare(op: str, a: float, b: float) -> bool:
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == "==":
        return a == b
    return a != b


__all__ = ["wait_for", "parse_condition", "Condition"]
