"""Snapshots of many PVs: save (value, native type and count, timestamp, severity) to
JSON or an autosave ``.sav`` file, compare the PVs now against one, restore one.

Each step is one client operation over every PV (:class:`catools.client.GetMany` or
:class:`catools.client.Put`), so thousands of PVs take one search burst and one batch
of reads or writes per circuit. ``catools snap`` is the command line over this module.
"""
from __future__ import annotations

import math
import time
from typing import Any, Iterable, Sequence

FORMAT_VERSION = 1
_ENUM_TYPE = "DBF_ENUM"


class Entry:
    """One PV of a snapshot. ``value`` is a number, a string or a list (an enum's state
    number; ``label`` its text); from a ``.sav`` file it is the saved text (a list of
    texts for an array) and ``type`` is None. ``error`` says why a PV has no value."""

    __slots__ = ("name", "value", "type", "count", "label", "timestamp", "severity",
                 "status", "tolerance", "error")

    def __init__(self, name: str, value: Any = None, *, type: str | None = None,
                 count: int | None = None, label: str | None = None,
                 timestamp: float | None = None, severity: int | None = None,
                 status: int | None = None, tolerance: float | None = None,
                 error: str | None = None) -> None:
        self.name, self.value, self.type, self.count, self.label = \
            name, value, type, count, label
        self.timestamp, self.severity, self.status = timestamp, severity, status
        self.tolerance, self.error = tolerance, error

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__
                if getattr(self, k) is not None}


class SnapshotError(Exception):
    """A snapshot file that cannot be read or written."""


# -- save ------------------------------------------------------------------------

def _entry(result: Any) -> Entry:
    if not result.ok:
        return Entry(result.name, error=result.message or "not read")
    from .protocol import dbf_name
    value = result.value
    label = None
    if result.index is not None:                # an enum: its number, and its label
        label = value if isinstance(value, str) else None
        value = result.index
    severity = result.severity
    status = result.status
    return Entry(result.name, value, type=dbf_name(result.native_type),
                 count=result.native_count, label=label, timestamp=result.timestamp,
                 severity=None if severity is None else int(severity),
                 status=None if status is None else int(status))


def read(names: Sequence[str], *, timeout: float = 1.0, ctx: Any = None) -> list[Entry]:
    """Read every PV (DBR_TIME of its native type, an array at its current length, enum
    labels too); one Entry each,
    in order (a PV not read has ``error``)."""
    from .client import GetMany
    op = GetMany(names, data_type="time", dynamic=True, timeout=timeout, labels={})
    _run(op, ctx)
    return [_entry(r) for r in op.results]


# -- files -------------------------------------------------------------------------

def dump(entries: Iterable[Entry], path: str) -> None:
    """Write ``entries`` to ``path``: autosave format for a ``.sav`` name, else JSON."""
    entries = list(entries)
    text = dump_sav(entries) if path.endswith(".sav") else dump_json(entries)
    try:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
    except OSError as exc:
        raise SnapshotError(f"cannot write {path}: {exc.strerror or exc}") from None


def load(path: str) -> list[Entry]:
    """Read a snapshot file (``.sav``: autosave format; else our JSON)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
    return load_sav(text) if path.endswith(".sav") else load_json(text, path)


def dump_json(entries: Sequence[Entry]) -> str:
    import json
    data = {"catools_snapshot": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "pvs": [e.as_dict() for e in entries]}
    return json.dumps(data, indent=1) + "\n"


def load_json(text: str, path: str = "snapshot") -> list[Entry]:
    import json
    try:
        data = json.loads(text)
        rows = data["pvs"]
        return [Entry(**row) for row in rows]
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"{path}: not a catools snapshot ({exc})") from None


def _sav_text(item: Any) -> str:
    return repr(item) if isinstance(item, float) and not item.is_integer() else \
        str(int(item)) if isinstance(item, float) else str(item)


def dump_sav(entries: Sequence[Entry]) -> str:
    """autosave's ``.sav`` text: ``NAME VALUE`` lines (an enum by its label), arrays as
    ``NAME @array@ { "1" "2" }``, unread PVs as comments, ``<END>`` last."""
    missing = sum(1 for e in entries if e.error is not None)
    out = [f"# save/restore V5.11\tAutomatically generated - DO NOT MODIFY - "
           f"{time.strftime('%y%m%d-%H%M%S')}\n"]
    if missing:
        out.append(f"! {missing} channel(s) not connected - or not all gets were "
                   "successful\n")
    for e in entries:
        if e.error is not None:
            out.append(f"#{e.name} Search Issued\n")
        elif isinstance(e.value, list):
            items = " ".join('"' + _sav_text(v).replace("\\", "\\\\").replace('"', '\\"')
                             + '"' for v in e.value)
            out.append(f"{e.name} @array@ {{ {items} }}\n")
        else:
            value = e.label if e.label is not None else _sav_text(e.value)
            out.append(f"{e.name} {value}\n")
    out.append("<END>\n")
    return "".join(out)


def _sav_array(text: str) -> list[str]:
    items: list[str] = []
    i = text.index("{") + 1
    while True:
        start = text.find('"', i)
        if start < 0:
            return items
        j, item = start + 1, []
        while j < len(text) and text[j] != '"':
            if text[j] == "\\" and j + 1 < len(text):
                j += 1
            item.append(text[j])
            j += 1
        items.append("".join(item))
        i = j + 1


def load_sav(text: str) -> list[Entry]:
    """The entries of autosave ``.sav`` text (values as the saved text)."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line[0] in "#!" or line.startswith("<END>"):
            continue
        name, _, value = line.partition(" ")
        if value.startswith("@array@"):
            try:
                out.append(Entry(name, _sav_array(value)))
            except ValueError:
                raise SnapshotError(f"bad array line for {name}") from None
        else:
            out.append(Entry(name, value))
    return out


# -- compare -----------------------------------------------------------------------

class Difference:
    """One PV compared: ``state`` is "equal", "different" or "error" (``detail``)."""

    __slots__ = ("name", "saved", "current", "state", "detail")

    def __init__(self, name: str, saved: Any, current: Any, state: str,
                 detail: str = "") -> None:
        self.name, self.saved, self.current = name, saved, current
        self.state, self.detail = state, detail

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def _same(saved: Any, now: Entry, tolerance: float) -> bool:
    if now.type == _ENUM_TYPE:          # a state: by its label or number, exactly
        return saved in (now.label, now.value) or str(saved) == str(now.value)
    a = saved if isinstance(saved, list) else [saved]
    b = now.value if isinstance(now.value, list) else [now.value]
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(y, str) or (isinstance(x, str) and isinstance(y, str)):
            if str(x) != y:
                return False
            continue
        try:
            fx, fy = float(x), float(y)
        except (TypeError, ValueError):
            return False
        if not (fx == fy or abs(fx - fy) <= tolerance or
                (math.isnan(fx) and math.isnan(fy))):
            return False
    return True


def compare(saved: Sequence[Entry], current: Sequence[Entry], tolerance: float = 0.0
            ) -> list[Difference]:
    """Each saved PV against its value now; an entry's own ``tolerance`` wins over
    ``tolerance``."""
    out = []
    for old, now in zip(saved, current):
        shown = old.label if old.label is not None else old.value
        if old.error is not None:
            out.append(Difference(old.name, None, now.value, "error", "not in the snapshot"))
        elif now.error is not None:
            out.append(Difference(old.name, shown, None, "error", now.error))
        else:
            tol = old.tolerance if old.tolerance is not None else tolerance
            ok = _same(old.value, now, tol)
            out.append(Difference(old.name, shown, now.label if now.label is not None
                                  else now.value, "equal" if ok else "different"))
    return out


# -- restore -----------------------------------------------------------------------

class Outcome:
    """One PV restored: ``error`` None if the write succeeded."""

    __slots__ = ("name", "value", "error")

    def __init__(self, name: str, value: Any, error: str | None) -> None:
        self.name, self.value, self.error = name, value, error

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "error": self.error}


def _value(entry: Entry) -> Any:
    if entry.type == "DBF_CHAR" and isinstance(entry.value, list):
        return bytes(v & 0xFF for v in entry.value)
    return entry.value


def restore(entries: Sequence[Entry], *, wait: bool = True, timeout: float = 1.0,
            ctx: Any = None) -> list[Outcome]:
    """Write every saved value, in file order, in one :class:`catools.client.Put` (with
    put-callback unless ``wait`` is False); a failure never stops the others."""
    from .client import Put, python_value
    todo = [e for e in entries if e.error is None]
    op = Put([(e.name, python_value(_value(e))) for e in todo], wait=wait, timeout=timeout)
    _run(op, ctx)
    done = {id(e): r for e, r in zip(todo, op.results)}
    out = []
    for e in entries:
        result = done.get(id(e))
        if result is None:
            out.append(Outcome(e.name, None, "no value in the snapshot"))
        else:
            out.append(Outcome(e.name, e.value, None if result.ok else
                               (result.message or "failed")))
    return out


def _run(op: Any, ctx: Any) -> None:
    """Run ``op`` on ``ctx``, or on a quiet client Context of its own (closed after)."""
    from .client import Context, run
    own = ctx is None
    ctx = Context(on_warning=lambda m, c: None) if own else ctx
    try:
        run(ctx, op)
    finally:
        if own:
            ctx.close()


__all__ = ["Entry", "Difference", "Outcome", "SnapshotError", "read", "dump", "load",
           "dump_json", "load_json", "dump_sav", "load_sav", "compare", "restore"]
