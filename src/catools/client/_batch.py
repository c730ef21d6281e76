"""Reads sent together: one READ_NOTIFY per PV, and each read's reply or error kept in
lists in the order asked, without an Operation per read."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from ._pv import PV


class ReadBatch:
    """READ_NOTIFYs sent together (``pvs[i]`` is read i): ``replies[i]`` is read i's
    ReadNotifyResponse and ``errors[i]`` its error, once it ended; ``left`` counts the
    reads not ended yet. Its reads on one circuit are a :class:`CircuitReads`."""

    __slots__ = ("pvs", "replies", "errors", "left")

    def __init__(self, pvs: Sequence[PV]) -> None:
        n = len(pvs)
        self.pvs = pvs
        self.replies: list[Any] = [None] * n
        self.errors: list[Exception | None] = [None] * n
        self.left = n

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
        else:
            batch.errors[position] = error
        batch.left -= 1

    def end_run(self, ioids: list[int], replies: list[Any]) -> None:
        """The reads in flight as ``ioids`` (every one of them here) end with
        ``replies``, in order."""
        batch = self.batch
        stash = batch.replies
        for position, reply in zip(map(self.index.pop, ioids), replies):
            stash[position] = reply
        batch.left -= len(ioids)


__all__ = ["ReadBatch", "CircuitReads"]
