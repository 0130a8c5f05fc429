"""One SUMO state at one simulation time, in SUMO units, whatever the source (libsumo, traci, FCD).

Rows are vehicles, then ``persons`` rows of persons (class ``pedestrian``): everything that moves."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


# a person's key where ids are kept (handle table, FCD parse): SUMO keeps persons' ids apart from vehicles'
PERSON_KEY = "\0person:"


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
    persons: int = 0  # the last rows are persons
    signals: np.ndarray | None = None  # (n,) SUMO's signal bits (brake light 8, blinkers 1 right 2 left, ...)
    # what each row is, where the source knows it: SUMO class, (length, width, height) m, RGBA 0-255
    classes: list[str] | None = None
    size_m: np.ndarray | None = None
    color: np.ndarray | None = None
    lights: dict[str, str] | None = None  # traffic light id -> SUMO state string (None: the source has none)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_rows(cls, sim_ns: int, ids: list[str], types: list[str], rows: np.ndarray | list,
                  accel: np.ndarray | None = None, events: list[RawEvent] | None = None) -> Snapshot:
        """``rows``: (n, 6) of x, y, z, angle, speed, slope."""
        a = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
        return cls(sim_ns, ids, types, a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy(),
                   a[:, 4].copy(), a[:, 5].copy(), accel, events or [])
