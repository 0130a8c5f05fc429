"""Onsets waiting for their sample: a hand-off from the main thread to the audio thread, and the
placement of due onsets into a block of samples.

The main thread ``push``es onsets (any time, lock-free: ``deque`` appends are atomic); the thread
that renders audio moves them into its own heap and places those due in the block it renders.
An onset whose sample lies before the block (it arrived too late) starts on the block's first
sample and is marked late.
"""
from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from audio.mixer import Mixer


@dataclass(order=True)
class Onset:
    t_ns: int  # session time the sound's first sample belongs to
    seq: int
    kind: str = field(compare=False)
    sound: np.ndarray = field(compare=False, repr=False)
    gains: np.ndarray | float = field(compare=False, default=1.0)


@dataclass
class Placed:
    onset: Onset
    sample: int  # stream sample index the onset starts on
    late: bool
    baseline_sample: int | None = None  # where a naive "start at the next callback" player puts it


class OnsetQueue:
    def __init__(self) -> None:
        self._inbox: deque[Onset] = deque()
        self._heap: list[Onset] = []
        self._seq = itertools.count()

    def push(self, t_ns: int, kind: str, sound: np.ndarray, gains: np.ndarray | float = 1.0) -> Onset:
        onset = Onset(int(t_ns), next(self._seq), kind, sound, gains)
        self._inbox.append(onset)
        return onset

    def _take_inbox(self) -> None:
        while self._inbox:
            heapq.heappush(self._heap, self._inbox.popleft())

    def pop_due(self, horizon_ns: float) -> list[Onset]:
        """Onsets with ``t_ns < horizon_ns``, earliest first (audio thread)."""
        self._take_inbox()
        due = []
        while self._heap and self._heap[0].t_ns < horizon_ns:
            due.append(heapq.heappop(self._heap))
        return due

    def requeue(self, onset: Onset) -> None:
        heapq.heappush(self._heap, onset)

    def __len__(self) -> int:
        return len(self._heap) + len(self._inbox)


def place_due(queue: OnsetQueue, mixer: Mixer, start: int, n: int, horizon_ns: float,
              sample_of: Callable[[int], int]) -> list[Placed]:
    """Put every onset due before ``horizon_ns`` (session time of sample ``start + n``) on its sample
    in the block ``[start, start + n)``; late ones on ``start``."""
    placed: list[Placed] = []
    for onset in queue.pop_due(horizon_ns):
        s = sample_of(onset.t_ns)
        if s >= start + n:  # rounding at the block edge: it belongs to the next block
            queue.requeue(onset)
            continue
        late = s < start
        at = start if late else s
        mixer.add(at, onset.sound, onset.gains)
        placed.append(Placed(onset, at, late))
    return placed
