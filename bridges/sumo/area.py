"""The area of interest: the part of the scene a renderer draws (docs/sumo.md, "Area of interest").

Per frame the bridge publishes the whole table on ``sumo.vehicles`` (the recorder takes that) and,
while an area is set, the rows within ``radius_m`` of its centre on ``area.vehicles``, with an id
table of its own on ``area.ids`` that changes only when something enters or leaves the area. A row
enters inside the radius and leaves beyond radius + ``hysteresis_m``, so a vehicle driving along the
edge does not flicker in and out (and does not make a new id table every frame). The centre follows
the participant where the config calibrates one, else it stays where the settings put it. With
``at_source`` SUMO itself reports only the area's outer edge (bridges/sumo/sourcearea.py).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from bridges.sumo.config import AreaOfInterest
from bridges.sumo.coords import CM_PER_M


class Area:
    def __init__(self, s: AreaOfInterest, origin_m: tuple[float, float, float]) -> None:
        self.radius_cm = s.radius_m * CM_PER_M
        self.hysteresis_cm = s.hysteresis_m * CM_PER_M
        centre = s.center_m if s.center_m is not None else origin_m[:2]
        self.centre_cm = self.wire(centre[0] - origin_m[0], centre[1] - origin_m[1])
        self._members: np.ndarray | None = None  # the handles of the area's id table (sorted)
        self.at_source = s.at_source
        self.max_radius_m = s.radius_m if s.at_source else 100_000.0  # at the source SUMO reports no farther
        self.version = 0
        self.rows: list[int] = []  # per frame, bounded by the bridge's Samples

    @staticmethod
    def wire(east_m: float, north_m: float) -> tuple[float, float]:
        """Net metres relative to the origin -> the wire's X, Y centimetres (Y points south)."""
        return east_m * CM_PER_M, -north_m * CM_PER_M

    @property
    def active(self) -> bool:
        return self.radius_cm > 0

    def set_radius(self, radius_m: float) -> None:
        self.radius_cm = radius_m * CM_PER_M
        self.restart()

    def restart(self) -> None:
        """Nobody is inside through the band, and the next frame gets a new id table (a new radius, a seek)."""
        self._members = None

    def select(self, handles: np.ndarray, position_cm: np.ndarray) -> tuple[np.ndarray, bool]:
        """The rows of a frame's table inside the area, and whether the area's set changed."""
        d2 = (position_cm[:, 0] - self.centre_cm[0]) ** 2 + (position_cm[:, 1] - self.centre_cm[1]) ** 2
        # only the last frame's members may stay through the band (a vehicle that left the table and
        # comes back, or a seek, enters like anyone else)
        was = np.isin(handles, self._members, assume_unique=True) if self._members is not None \
            else np.zeros(len(handles), dtype=bool)
        keep = (d2 < self.radius_cm ** 2) | (was & (d2 < (self.radius_cm + self.hysteresis_cm) ** 2))
        members = handles[keep]
        changed = self._members is None or not np.array_equal(members, self._members)
        if changed:
            self._members = members
            self.version += 1
        return keep, changed

    @staticmethod
    def subset(arrays: Mapping[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
        """The rows ``keep`` of every column of a table (the id table's or the frame's)."""
        return {k: np.ascontiguousarray(a[keep]) for k, a in arrays.items()}
