"""A segment: everything needed to draw every vehicle between two consecutive SUMO states A and B,
already in Unreal units and aligned by handle, so a frame only evaluates a polynomial.

The vehicle set of a segment is the set of A. A vehicle also in B follows the cubic Hermite curve
from (A position, A velocity) to (B position, B velocity); one missing from B (arrived, teleported)
moves on in a straight line at its A velocity until B's time, then is gone; one new in B (departed)
appears when B's time is reached, exactly where SUMO inserted it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bridges.sumo.coords import CoordinateFrame, wrap180
from bridges.sumo.events import EventDetector, SimEvent
from bridges.sumo.handles import HandleTable
from bridges.sumo.snapshot import Snapshot

ARRAY_FIELDS = ("handles", "p0", "m0", "p1", "m1", "yaw0", "dyaw", "pitch0", "dpitch", "v0", "v1")


@dataclass
class IdTable:
    version: int
    handles: list[int]
    ids: list[str]
    types: list[str]


@dataclass
class Segment:
    s_a: int  # sim ns
    s_b: int  # sim ns; == s_a for the terminal segment (source ended)
    handles: np.ndarray  # (n,) u4, sorted
    p0: np.ndarray  # (n, 3) cm
    m0: np.ndarray  # (n, 3) cm/s
    p1: np.ndarray
    m1: np.ndarray
    yaw0: np.ndarray  # (n,) deg
    dyaw: np.ndarray  # shortest signed turn from A to B, deg
    pitch0: np.ndarray
    dpitch: np.ndarray
    v0: np.ndarray  # speed cm/s
    v1: np.ndarray
    ids_version: int
    table: IdTable | None = None  # set when the active set differs from the previous segment's
    events: list[SimEvent] = field(default_factory=list)
    step_ms: float = 0.0  # cost of producing B (wall time)
    step_cpu_ms: float = 0.0  # the stepping process's CPU time for it (wall minus time it was descheduled)
    epoch: int = 0  # seek generation; segments of an older epoch are stale
    terminal: bool = False

    def __len__(self) -> int:
        return len(self.handles)


@dataclass
class _State:
    """A snapshot converted once: sorted by handle, in Unreal units."""

    snap: Snapshot
    handles: np.ndarray
    ids: list[str]
    types: list[str]
    pos: np.ndarray
    vel: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    speed: np.ndarray  # cm/s
    decel: np.ndarray  # m/s^2, >0 braking


class SegmentBuilder:
    def __init__(self, frame: CoordinateFrame, detector: EventDetector) -> None:
        self.frame = frame
        self.detector = detector
        self.table = HandleTable()
        self._prev: _State | None = None

    def reset(self) -> None:
        """Forget the previous state (after a seek); handles stay."""
        self._prev = None

    def _convert(self, snap: Snapshot, prev: _State | None) -> _State:
        raw_handles = self.table.handles(snap.ids)
        order = np.argsort(raw_handles, kind="stable")
        handles = raw_handles[order]
        ids = [snap.ids[i] for i in order]
        types = [snap.types[i] for i in order]
        f = self.frame
        pos = f.position_cm(snap.x[order], snap.y[order], snap.z[order])
        yaw = f.yaw_deg(snap.angle[order])
        pitch = f.pitch_deg(snap.slope[order])
        speed_ms = snap.speed[order]
        vel = f.velocity_cms(speed_ms, yaw, pitch)
        if snap.accel is not None:
            decel = -np.asarray(snap.accel, dtype=np.float64)[order]
        elif prev is not None and snap.sim_ns > prev.snap.sim_ns:
            idx, found = _match(prev.handles, handles)
            dt = (snap.sim_ns - prev.snap.sim_ns) * 1e-9
            decel = np.where(found, (prev.speed[idx] / 100.0 - speed_ms) / dt, 0.0) if len(prev.handles) else np.zeros(len(handles))
        else:
            decel = np.zeros(len(handles))
        return _State(snap, handles, ids, types, pos, vel, yaw, pitch, speed_ms * 100.0, decel)

    def first(self, snap: Snapshot) -> None:
        self._prev = self._convert(snap, None)

    def next(self, snap: Snapshot | None) -> Segment:
        """The segment from the previous snapshot to ``snap`` (None: the source ended)."""
        a = self._prev
        if a is None:
            raise RuntimeError("SegmentBuilder.next() before first()")
        if snap is None:
            return self._segment(a, None)
        b = self._convert(snap, a)
        seg = self._segment(a, b)
        self._prev = b
        return seg

    def _segment(self, a: _State, b: _State | None) -> Segment:
        s_a = a.snap.sim_ns
        changed = self.table.activate(a.handles)
        table = IdTable(self.table.version, a.handles.tolist(), a.ids, a.types) if changed else None
        if b is None:
            return Segment(s_a, s_a, a.handles, a.pos, np.zeros_like(a.vel), a.pos, np.zeros_like(a.vel),
                           a.yaw, np.zeros_like(a.yaw), a.pitch, np.zeros_like(a.pitch), a.speed, a.speed,
                           self.table.version, table, terminal=True)
        s_b = b.snap.sim_ns
        span = (s_b - s_a) * 1e-9
        idx, found = _match(b.handles, a.handles)
        p1 = a.pos + a.vel * span  # straight on for vehicles that leave
        m1 = a.vel.copy()
        yaw1, pitch1, v1 = a.yaw.copy(), a.pitch.copy(), a.speed.copy()
        if found.any():
            j = idx[found]
            p1[found], m1[found] = b.pos[j], b.vel[j]
            yaw1[found], pitch1[found], v1[found] = b.yaw[j], b.pitch[j], b.speed[j]
        ai, a_found = _match(a.handles, b.handles)
        decel_a = np.where(a_found, a.decel[ai], 0.0) if len(a.handles) else np.zeros(len(b.handles))
        events = self.detector.detect(s_b, a.ids, b.ids, b.snap.events, decel_a, b.decel, b.speed / 100.0)
        return Segment(s_a, s_b, a.handles, a.pos, a.vel, p1, m1, a.yaw, wrap180(yaw1 - a.yaw), a.pitch,
                       wrap180(pitch1 - a.pitch), a.speed, v1, self.table.version, table, events)


def _match(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query, its index in ``sorted_keys`` (clipped) and whether it is there."""
    if len(sorted_keys) == 0:
        return np.zeros(len(queries), dtype=np.intp), np.zeros(len(queries), dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return idx, sorted_keys[idx] == queries
