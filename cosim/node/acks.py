"""ACK batching: in lockstep an ACK gates the next tick and goes out at once; in realtime it is
telemetry (it carries its own receive and done times) and goes out in a batch ``defer_ns`` after
the first one deferred: one socket wake-up per batch instead of one per tick on each side, and
never while the other processes are still receiving the same tick."""
from __future__ import annotations

from typing import Callable

from cosim import protocol as p


class AckBatcher:
    def __init__(self, send: Callable[[p.Message], None], now_ns: Callable[[], int], defer_ns: int) -> None:
        self._send = send
        self._now_ns = now_ns
        self.defer_ns = defer_ns
        self._acks: list[p.Ack] = []
        self._due = 0

    def add(self, msg: p.Ack, batch: bool) -> None:
        if not batch or self.defer_ns <= 0:
            self._send(msg)
            return
        if not self._acks:
            self._due = self._now_ns() + self.defer_ns
        self._acks.append(msg)

    def due_ns(self) -> int | None:
        """When the waiting batch is due (local clock), None when nothing waits."""
        return self._due if self._acks else None

    def flush(self) -> None:
        acks, self._acks = self._acks, []
        for msg in acks:
            self._send(msg)
