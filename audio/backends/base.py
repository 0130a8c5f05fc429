"""What every backend offers the component, and what it reports back per onset."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol

import numpy as np


@dataclass(frozen=True)
class Measured:
    """One placed onset. ``actual_ns`` is the session time its first sample reaches the output
    (file: the sample's position; device: the sample's DAC time mapped by the clock fit)."""

    kind: str
    scheduled_ns: int
    actual_ns: int
    late: bool
    sample: int
    baseline_ns: int | None = None  # naive "start at the next callback" player, same run

    @property
    def error_ns(self) -> int:
        return self.actual_ns - self.scheduled_ns


class Backend(Protocol):
    name: str

    def start(self) -> None: ...

    def submit(self, t_ns: int, kind: str, sound: np.ndarray, gains: np.ndarray | float) -> None: ...

    def set_loops(self, t_ns: int, targets: Mapping[int, np.ndarray]) -> None: ...

    def advance(self, now_ns: int) -> None: ...

    def reset_clock(self) -> None: ...

    def drain(self, flush: bool = False) -> list[Measured]: ...

    def close(self, end_ns: int | None) -> None: ...

    def summary(self) -> dict[str, Any]: ...
