"""Turns what happened between two snapshots into timestamped events (docs/sumo.md, Events)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bridges.sumo.snapshot import RawEvent


@dataclass
class SimEvent:
    kind: str
    sim_ns: int
    subject: str = ""
    data: dict[str, bool | int | float | str] = field(default_factory=dict)


def _vehicles(ids: list[str], persons: np.ndarray | None) -> list[str]:
    return ids if persons is None else [v for v, pp in zip(ids, persons.tolist()) if not pp]


class EventDetector:
    """depart/arrive come from the source when it reports them (SUMO), else from the change of the
    vehicle set (FCD). emergency_braking fires when a vehicle's deceleration crosses the threshold."""

    def __init__(self, kinds: list[str] | tuple[str, ...], emergency_decel_ms2: float) -> None:
        self.kinds = frozenset(kinds)
        self.threshold = emergency_decel_ms2

    def detect(self, sim_ns: int, ids_a: list[str], ids_b: list[str], raw: list[RawEvent],
               decel_a: np.ndarray, decel_b: np.ndarray, speed_b: np.ndarray,
               persons_a: np.ndarray | None = None, persons_b: np.ndarray | None = None) -> list[SimEvent]:
        """``persons_a``/``persons_b``: which rows are persons (None: none), who are not vehicles here."""
        out: list[SimEvent] = []
        reported = {e.kind for e in raw}
        if "depart" not in reported or "arrive" not in reported:
            set_a = set(ids_a) if persons_a is None else {v for v, pp in zip(ids_a, persons_a.tolist()) if not pp}
            set_b = set(ids_b) if persons_b is None else {v for v, pp in zip(ids_b, persons_b.tolist()) if not pp}
            if "depart" not in reported:
                raw = raw + [RawEvent("depart", v) for v in _vehicles(ids_b, persons_b) if v not in set_a]
            if "arrive" not in reported:
                raw = raw + [RawEvent("arrive", v) for v in _vehicles(ids_a, persons_a) if v not in set_b]
        for e in raw:
            if e.kind in self.kinds:
                out.append(SimEvent(e.kind, sim_ns, e.subject, dict(e.data)))
        if "emergency_braking" in self.kinds and len(decel_b):
            hard = (decel_b >= self.threshold) & (decel_a < self.threshold)
            fired = np.flatnonzero(hard if persons_b is None else hard & ~persons_b)
            for i in fired:
                out.append(SimEvent("emergency_braking", sim_ns, ids_b[i],
                                    {"decel_ms2": round(float(decel_b[i]), 3), "speed_ms": round(float(speed_b[i]), 3)}))
        return out
