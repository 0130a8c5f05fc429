"""One SUMO state at one simulation time, in SUMO units, whatever the source (libsumo, traci, FCD)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RawEvent:
    kind: str
    subject: str = ""
    data: dict[str, bool | int | float | str] = field(default_factory=dict)


@dataclass
class Snapshot:
    sim_ns: int
    ids: list[str]
    types: list[str]
    x: np.ndarray  # metres, SUMO net coordinates (front bumper, as SUMO reports it)
    y: np.ndarray
    z: np.ndarray
    angle: np.ndarray  # degrees clockwise from north
    speed: np.ndarray  # m/s
    slope: np.ndarray  # degrees
    accel: np.ndarray | None = None  # m/s^2 where the source has it
    events: list[RawEvent] = field(default_factory=list)  # what happened in the step ending here

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_rows(cls, sim_ns: int, ids: list[str], types: list[str], rows: np.ndarray | list,
                  accel: np.ndarray | None = None, events: list[RawEvent] | None = None) -> Snapshot:
        """``rows``: (n, 6) of x, y, z, angle, speed, slope."""
        a = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
        return cls(sim_ns, ids, types, a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy(),
                   a[:, 4].copy(), a[:, 5].copy(), accel, events or [])
