"""Reads sent together: one READ_NOTIFY per PV, and each read's reply or error kept in
lists in the order asked, without an Operation per read."""
from __future__ import annotations

from operator import sub

from ..hints import TYPE_CHECKING
from ..protocol import FIRST_VALUE
from ._pv import PV

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Sequence


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
        self.runs: list[tuple[Sequence[int], Any]] = []
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
            if positions.__class__ is range:        # (in order, following on: C loops)
                start, k = positions[0], len(positions)
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

    def fail(self, position: int, error: Exception) -> None:
        """Read ``position`` ends with ``error`` before it was sent."""
        self.errors[position] = error
        self.left -= 1

    def __repr__(self) -> str:
        return f"<ReadBatch {len(self.pvs)} reads, {self.left} in flight>"


class CircuitReads:
    """The reads of a ReadBatch sent on one circuit (IOIDs are the circuit's own). The
    circuit's IOID table holds this for each of them (it is asked about an IOID only
    while that is in the table), and ends them with :meth:`end` (one) and
    :meth:`end_run` (a run of replies)."""

    __slots__ = ("batch", "first", "start", "index")

    def __init__(self, batch: ReadBatch, ioids: list[int], positions: Sequence[int]) -> None:
        self.batch = batch
        n = len(ioids)
        # (IOIDs are taken in order, positions ascend: when both follow on, as for a
        # circuit's first batch, a read's position is its IOID's offset)
        if n and ioids[-1] - ioids[0] == n - 1 and positions[-1] - positions[0] == n - 1:
            self.first, self.start = ioids[0], positions[0]
            self.index: dict[int, int] | None = None
        else:
            self.first = self.start = 0
            self.index = dict(zip(ioids, positions))

    def _position(self, ioid: int) -> int:
        index = self.index
        return ioid - self.first + self.start if index is None else index[ioid]

    def pv_for(self, ioid: int) -> PV:
        """The PV of the read in flight as ``ioid``."""
        return self.batch.pvs[self._position(ioid)]

    def end(self, ioid: int, result: Any = None, error: Exception | None = None) -> None:
        """The read in flight as ``ioid`` ends with ``result`` or ``error``."""
        position = self._position(ioid)
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
        n = len(ioids)
        index = self.index
        if index is not None:
            positions: Sequence[int] = list(map(index.__getitem__, ioids))
        elif not any(map((1).__ne__, map(sub, ioids[1:], ioids))):
            start = ioids[0] - self.first + self.start      # (each the last one's next)
            positions = range(start, start + n)
        else:
            offset = self.start - self.first
            positions = [ioid + offset for ioid in ioids]
        batch.runs.append((positions, run))
        batch.left -= n


__all__ = ["ReadBatch", "CircuitReads"]
