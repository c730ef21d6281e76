"""Reads sent together: one READ_NOTIFY per PV, and each read's reply or error kept in
lists in the order asked, without an Operation per read."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..protocol import FIRST_VALUE
from ._pv import PV


class ReadBatch:
    """READ_NOTIFYs sent together (``pvs[i]`` is read i): ``errors[i]`` is read i's
    error and :meth:`all_replies` gives ``[i]`` its ReadNotifyResponse, once it ended;
    ``left`` counts the reads not ended yet. Its reads on one circuit are a
    :class:`CircuitReads`. Reads ended by a run of replies (a ReadNotifyRun) keep the run
    until a reply is asked for."""

    __slots__ = ("pvs", "replies", "errors", "left", "runs", "singles")

    def __init__(self, pvs: Sequence[PV]) -> None:
        n = len(pvs)
        self.pvs = pvs
        self.replies: list[Any] = [None] * n
        self.errors: list[Exception | None] = [None] * n
        self.left = n
        #: ``(positions, run)``: the reads that run of replies ended, in its order
        self.runs: list[tuple[list[int], Any]] = []
        #: how many reads ended with a reply of their own
        self.singles = 0

    def all_replies(self) -> list[Any]:
        """Each read's reply (None if it has none), in order."""
        replies = self.replies
        for positions, run in self.runs:
            for position, reply in zip(positions, run.replies()):
                replies[position] = reply
        self.runs.clear()
        return replies

    def scalar_values(self) -> tuple[list[int], list[Any]] | None:
        """Each read's DBR type and value, in order, when every read ended with a reply
        of one number; None otherwise (a run's strings are raw bytes here)."""
        n = len(self.pvs)
        types: list[Any] = [None] * n
        values: list[Any] = [None] * n
        for positions, run in self.runs:
            if run.data_count != 1:
                return None
            start, k = positions[0], len(positions)
            if positions == list(range(start, start + k)):     # (in order: C loops)
                types[start:start + k] = [run.data_type] * k
                values[start:start + k] = run.first_values()
                continue
            data_type = run.data_type
            for position, value in zip(positions, run.first_values()):
                types[position] = data_type
                values[position] = value
        if self.singles:
            for position, reply in enumerate(self.replies):
                if reply is not None:
                    if reply.data_count != 1:
                        return None
                    first = FIRST_VALUE[reply.data_type]
                    if first is None:       # (not a number)
                        return None
                    unpack_from, offset = first
                    types[position] = reply.data_type
                    values[position] = unpack_from(reply[-1], offset)[0]
        if None in types:
            return None
        return types, values

    @property
    def done(self) -> bool:
        """Every read ended."""
        return not self.left

    def fail(self, position: int, error: Exception) -> None:
        """Read ``position`` ends with ``error`` before it was sent."""
        self.errors[position] = error
        self.left -= 1

    def __repr__(self) -> str:
        return f"<ReadBatch {len(self.pvs)} reads, {self.left} in flight>"


class CircuitReads:
    """The reads of a ReadBatch sent on one circuit (IOIDs are the circuit's own). The
    circuit's IOID table holds this for each of them, and ends them with :meth:`end`
    (one) and :meth:`end_run` (a run of replies)."""

    __slots__ = ("batch", "index")

    def __init__(self, batch: ReadBatch, ioids: Iterable[int],
                 positions: Iterable[int]) -> None:
        self.batch = batch
        #: IOID -> position in the batch, for the reads in flight
        self.index: dict[int, int] = dict(zip(ioids, positions))

    def pv_for(self, ioid: int) -> PV:
        """The PV of the read in flight as ``ioid``."""
        return self.batch.pvs[self.index[ioid]]

    def end(self, ioid: int, result: Any = None, error: Exception | None = None) -> None:
        """The read in flight as ``ioid`` ends with ``result`` or ``error``."""
        position = self.index.pop(ioid, None)
        if position is None:
            return
        batch = self.batch
        if error is None:
            batch.replies[position] = result
            batch.singles += 1
        else:
            batch.errors[position] = error
        batch.left -= 1

    def end_run(self, ioids: list[int], run: Any) -> None:
        """The reads in flight as ``ioids`` (every one of them here) end with the
        replies of ``run`` (a ReadNotifyRun), in order."""
        batch = self.batch
        batch.runs.append((list(map(self.index.pop, ioids)), run))
        batch.left -= len(ioids)


__all__ = ["ReadBatch", "CircuitReads"]
