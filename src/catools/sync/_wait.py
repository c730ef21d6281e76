"""``wait_for``: wait until a PV meets a condition (the library form of ``cawait``),
:func:`parse_condition`, the condition language it shares with the tools, and
:class:`Waiter`, the engine both drive: it takes the events of a monitor and says when
the conditions hold (all or any, for ``stable`` seconds)."""
from __future__ import annotations

import math
from time import monotonic
from typing import Any, Callable

from ..errors import Timeout
from ..results import Reading
from ._args import check_name, check_timeout
from ._context import Context
from ._monitor import ConnectionLost, monitor

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

    def __call__(self, reading: Any, baseline: Any = None) -> bool:
        """Whether ``reading`` meets the condition (``changed``: whether it differs from
        ``baseline``, the first reading seen, in value, time or alarm)."""
        if self.op == "changed":
            return baseline is not None and reading is not baseline and \
                _identity(reading) != _identity(baseline)
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
    inclusive range), ``"!1...2"`` (outside it) or ``"changed"`` (an update that
    differs from the first one seen, in value, timestamp or alarm).

    Numbers compare numerically (an enum by its index, a string PV whose text is a
    number by that number); other operands compare as text with ``==``/``!=`` (an
    enum by its label). An array is tested by its first element. A bad condition is a
    ValueError.
    """
    if not isinstance(text, str):
        raise ValueError(f"a condition must be a str, not {text!r}")
    stripped = text.strip()
    if stripped == "changed":
        return Condition(text, "changed", None)
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


class Waiter:
    """The state of a wait on many PVs, fed with a monitor's events: it knows the
    last reading of each PV and since when its condition holds. It is done when every
    condition (``any``: one) has held for ``stable`` seconds. It never reads a clock:
    the caller passes ``now`` (monotonic seconds)."""

    def __init__(self, conditions: dict[str, Condition | Callable[[Any], Any]], *,
                 any: bool = False, stable: float = 0.0) -> None:
        self.conditions = dict(conditions)
        self.any = any
        self.stable = stable
        self.last: dict[str, Any] = {}
        self.first: dict[str, Any] = {}
        self.since: dict[str, float | None] = dict.fromkeys(self.conditions)
        self.ever_connected: set[str] = set()

    def update(self, name: str, reading: Any, now: float) -> None:
        """A new reading of ``name``."""
        if name not in self.conditions:
            return
        self.ever_connected.add(name)
        first = self.first.setdefault(name, reading)
        self.last[name] = reading
        test = self.conditions[name]
        holds = test(reading, first) if isinstance(test, Condition) else test(reading)
        if not holds:
            self.since[name] = None
        elif self.since[name] is None:
            self.since[name] = now

    def connected(self, name: str) -> None:
        """``name`` is connected (its first update follows)."""
        self.ever_connected.add(name)

    def disconnected(self, name: str) -> None:
        """``name`` lost its server: its condition no longer holds."""
        if name in self.since:
            self.since[name] = None

    def holding(self, now: float) -> list[str]:
        """The PVs whose condition has held for ``stable`` seconds at ``now``."""
        stable = self.stable
        return [name for name, since in self.since.items()
                if since is not None and now - since >= stable]

    def done(self, now: float) -> bool:
        """Whether the wait is over: all (``any``: one) conditions held long enough."""
        held = self.holding(now)
        return bool(held) if self.any else len(held) == len(self.since)

    def due(self, now: float) -> float | None:
        """When :meth:`done` may next change without a new event (None: not before
        one)."""
        times = [since + self.stable for since in self.since.values()
                 if since is not None and since + self.stable > now]
        return min(times) if times else None

    def failing(self, now: float) -> list[str]:
        """The PVs whose condition does not hold (long enough) at ``now``."""
        held = set(self.holding(now))
        return [name for name in self.since if name not in held]

    def describe(self, name: str) -> str:
        """``name``, its condition and what was last seen, for a timeout message."""
        test = self.conditions[name]
        text = test.text if isinstance(test, Condition) else getattr(
            test, "__name__", repr(test))
        if name not in self.ever_connected:
            return f"{name} ({text}: PV not found)"
        last = self.last.get(name)
        seen = "no value read" if last is None else f"last {last.value!r}"
        if self.since[name] is not None:
            seen += f", not yet stable for {self.stable:g} s"
        return f"{name} ({text}: {seen})"


def wait_for(name: str, condition: str | Callable[[Any], Any], *, timeout: float | None,
             format: str = "time", context: Context | None = None,
             stable: float = 0.0) -> Reading:
    """Wait until PV ``name`` meets ``condition`` (a :func:`parse_condition` text, or
    a function of the :class:`Reading` that returns true) and return the Reading that
    met it (its current value, if it does already); with ``stable``, the condition must
    hold that many seconds without a break (no update against it, no disconnection).
    After ``timeout`` seconds (None: no limit) it raises :class:`catools.Timeout`
    naming the PV and the condition. The engine is :class:`Waiter`, as in ``cawait``."""
    seconds, test, described = wait_arguments(name, condition, timeout)
    deadline = None if seconds is None else monotonic() + seconds
    if isinstance(stable, bool) or not isinstance(stable, (int, float)) or \
            not stable >= 0:
        raise ValueError(f"stable must be a number of seconds >= 0, not {stable!r}")
    waiter = Waiter({name: test}, stable=float(stable))
    with monitor(name, format=format, context=context) as events:
        while True:
            now = monotonic()
            if waiter.done(now):
                return waiter.last[name]
            left = None if deadline is None else deadline - now
            if left is not None and left <= 0:
                break
            due = waiter.due(now)
            if due is not None:
                left = due - now if left is None else min(left, due - now)
            event = events._pop(left)
            if event is None:
                continue            # (a time-out of the pop: look at the clock again)
            if not hasattr(event, "name"):
                break
            if isinstance(event, Reading):
                waiter.update(name, event, monotonic())
            elif isinstance(event, ConnectionLost):
                waiter.disconnected(name)
    raise not_met(name, described, seconds, waiter.last.get(name))


def wait_arguments(name: Any, condition: Any, timeout: Any
                   ) -> tuple[float | None, Callable[[Any], Any], str]:
    """``wait_for``'s checks, for both twins: the timeout in seconds (None: no limit),
    the test (a :func:`parse_condition` text made callable) and the condition as a
    Timeout names it; ValueError for a bad one."""
    check_name(name)
    seconds = check_timeout(timeout, allow_none=True)
    test = parse_condition(condition) if isinstance(condition, str) else condition
    if not callable(test):
        raise ValueError(f"condition must be a str or a callable, not {condition!r}")
    described = condition if isinstance(condition, str) else \
        getattr(condition, "__name__", repr(condition))
    return seconds, test, described


def not_met(name: str, described: str, seconds: float | None, last: Any) -> Timeout:
    """The Timeout of a ``wait_for`` whose condition was not met (``last``: the last
    Reading, or None)."""
    seen = "no value was read" if last is None else f"the last value was {last.value!r}"
    within = "before the monitor closed" if seconds is None else f"within {seconds:g} s"
    return Timeout(name, f"condition {described!r} not met {within} ({seen})")


def _identity(reading: Any) -> Any:
    """What ``changed`` compares: the value, the timestamp and the alarm."""
    metadata = getattr(reading, "metadata", None)
    stamp = getattr(metadata, "timestamp", None)
    return (repr(getattr(reading, "value", reading)), stamp,
            getattr(metadata, "status", None), getattr(metadata, "severity", None))


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


__all__ = ["wait_for", "parse_condition", "Condition", "Waiter", "wait_arguments", "not_met"]
