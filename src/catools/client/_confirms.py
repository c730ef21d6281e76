"""Plain WRITEs that a circuit confirms by the ECHO it sends after them."""
from __future__ import annotations

from collections import deque

from ._pv import Operation


class Confirms:
    """Plain WRITEs that end when the ECHO sent after them returns (or when an ERROR
    quoting them comes first)."""

    __slots__ = ("ops", "queue")

    def __init__(self) -> None:
        self.ops: dict[int, Operation] = {}                 # write id -> operation
        self.queue: deque[tuple[int, int]] = deque()        # (echo number, write id)

    def add(self, write_id: int, op: Operation, echo: int) -> None:
        self.ops[write_id] = op
        self.queue.append((echo, write_id))

    def refused(self, write_id: int, error: Exception) -> bool:
        """An ERROR quoted ``write_id``: its operation fails (False: not one of ours)."""
        op = self.ops.pop(write_id, None)
        if op is not None:
            op._finish(error=error)
        return op is not None

    def echoed(self, echoes: int) -> None:
        """ECHO number ``echoes`` returned: the writes sent before it succeeded."""
        queue = self.queue
        while queue and queue[0][0] <= echoes:
            op = self.ops.pop(queue.popleft()[1], None)
            if op is not None:
                op._finish(result=None)


__all__ = ["Confirms"]
