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


class EventDetector:
    """depart/arrive come from the source when it reports them (SUMO), else from the change of the
    vehicle set (FCD). emergency_braking fires when a vehicle's deceleration crosses the threshold."""

    def __init__(self, kinds: list[str] | tuple[str, ...], emergency_decel_ms2: float) -> None:
        self.kinds = frozenset(kinds)
        self.threshold = emergency_decel_ms2

    def detect(self, sim_ns: int, ids_a: list[str], ids_b: list[str], raw: list[RawEvent],
               decel_a: np.ndarray, decel_b: np.ndarray, speed_b: np.ndarray) -> list[SimEvent]:
        out: list[SimEvent] = []
        reported = {e.kind for e in raw}
        if "depart" not in reported or "arrive" not in reported:
            set_a, set_b = set(ids_a), set(ids_b)
            if "depart" not in reported:
                raw = raw + [RawEvent("depart", v) for v in ids_b if v not in set_a]
            if "arrive" not in reported:
                raw = raw + [RawEvent("arrive", v) for v in ids_a if v not in set_b]
        for e in raw:
            if e.kind in self.kinds:
                out.append(SimEvent(e.kind, sim_ns, e.subject, dict(e.data)))
        if "emergency_braking" in self.kinds and len(decel_b):
            fired = np.flatnonzero((decel_b >= self.threshold) & (decel_a < self.threshold))
            for i in fired:
                out.append(SimEvent("emergency_braking", sim_ns, ids_b[i],
                                    {"decel_ms2": round(float(decel_b[i]), 3), "speed_ms": round(float(speed_b[i]), 3)}))
        return out
