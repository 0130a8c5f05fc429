"""A segment: everything needed to draw every vehicle between two consecutive SUMO states A and B,
already in Unreal units and aligned by handle, so a frame only evaluates a polynomial.

The vehicle set of a segment is the set of A. A vehicle also in B follows the cubic Hermite curve
from (A position, A velocity) to (B position, B velocity); one missing from B (arrived, teleported)
moves on in a straight line at its A velocity until B's time, then is gone; one new in B (departed)
appears when B's time is reached, exactly where SUMO inserted it.

The segment carries that curve already in the form a frame evaluates (computed once per SUMO step,
in the stepping process): the position's cubic in u = (sim - A) / (B - A) as power-basis
coefficients (Horner's rule per frame), and for yaw, pitch and speed the value at A and the change
to B (shortest arc for the angles).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np

from bridges.sumo.coords import CoordinateFrame, wrap180
from bridges.sumo.events import EventDetector, SimEvent
from bridges.sumo.handles import HandleTable
from bridges.sumo.snapshot import PERSON_KEY, Snapshot
from cosim import protocol as p

ARRAY_FIELDS = ("handles", "pos_coef", "lin", "signals")


@dataclass
class IdTable:
    """What each handle of the active set is, already the VEHICLE_IDS payload
    (protocol.vehicle_ids_arrays, names clipped to the wire's limit), built once in the stepping
    process when the set changes. They cross the pipe (bridges.sumo.pipe) as raw frames and go onto
    the bus as they are: the bridge never touches the names one by one."""

    version: int
    arrays: dict[str, np.ndarray]


@dataclass
class LightTable:
    """Every traffic light's state, already the TRAFFIC_LIGHTS payload; a new version when any changes."""

    version: int
    sim_ns: int
    arrays: dict[str, np.ndarray]


@dataclass
class Segment:
    s_a: int  # sim ns
    s_b: int  # sim ns; == s_a for the terminal segment (source ended)
    handles: np.ndarray  # (n,) u4, sorted
    # (4, n, 3) float64, cm: position = ((c3*u + c2)*u + c1)*u + c0 with u = (sim - s_a) / (s_b - s_a),
    # stored [c3, c2, c1, c0]; the cubic Hermite curve from (A position, A velocity) to (B position,
    # B velocity): c0 = p0, c1 = T*m0, c2 = 3*(p1 - p0) - T*(2*m0 + m1), c3 = -2*(p1 - p0) + T*(m0 + m1)
    pos_coef: np.ndarray
    # (2, 3, n) float64: [value at A, change from A to B] of [yaw deg, pitch deg, speed cm/s]; the
    # angle changes are the shortest signed turn, so yaw at A + u * change lies in (-360, 360]
    lin: np.ndarray
    ids_version: int
    signals: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<u2"))  # (n,) at A, held to B
    table: IdTable | None = None  # set when the active set differs from the previous segment's
    lights_version: int = 0  # 0: no traffic lights
    lights: LightTable | None = None  # set when the lights differ from the previous segment's
    events: list[SimEvent] = field(default_factory=list)
    step_ms: float = 0.0  # cost of producing B (wall time)
    step_cpu_ms: float = 0.0  # the stepping process's CPU time for it (wall minus time it was descheduled)
    sumo_step_ms: float = 0.0  # of which SUMO's own simulationStep (live SUMO; 0 for FCD)
    sumo_step_cpu_ms: float = 0.0
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
    what: dict[str, np.ndarray | list[str]]  # the id table's classes, size_cm, color columns
    signals: np.ndarray  # (n,) <u2
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
        self._lights: dict[str, str] | None = None
        self.lights_version = 0

    def reset(self) -> None:
        """Forget the previous state (after a seek); handles stay, the lights are sent again."""
        self._prev = None
        self._lights = None
        self.table.forget_active()  # the bridge dropped segments in flight: the first one after must carry its table

    def _convert(self, snap: Snapshot, prev: _State | None) -> _State:
        n, persons = len(snap), snap.persons
        keys = snap.ids if not persons else snap.ids[:n - persons] + [PERSON_KEY + i for i in snap.ids[n - persons:]]
        raw_handles = self.table.handles(keys)
        order = np.argsort(raw_handles, kind="stable")
        handles = raw_handles[order]
        ids, types = _take(snap.ids, order), _take(snap.types, order)
        classes = _take(snap.classes, order) if snap.classes is not None else [""] * n
        size = snap.size_m[order] * 100.0 if snap.size_m is not None else np.zeros((n, 3))
        color = snap.color[order] if snap.color is not None else np.zeros((n, 4))
        signals = (snap.signals[order] if snap.signals is not None else np.zeros(n)).astype("<u2")
        what = {"classes": classes, "size_cm": size, "color": color}
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
        return _State(snap, handles, ids, types, what, signals, pos, vel, yaw, pitch, speed_ms * 100.0, decel)

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
        table = IdTable(self.table.version, p.vehicle_ids_arrays(a.handles, a.ids, a.types, **a.what)) if changed else None
        lights = self._light_table(a.snap)
        state = dict(signals=a.signals, table=table, lights_version=self.lights_version, lights=lights)
        if b is None:
            zero = np.zeros_like(a.vel)
            return Segment(s_a, s_a, a.handles, hermite_coef(a.pos, zero, a.pos, zero, 0.0),
                           linear_coef(a.yaw, a.pitch, a.speed, np.zeros_like(a.yaw), np.zeros_like(a.pitch), a.speed),
                           self.table.version, terminal=True, **state)
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
        events = self.detector.detect(s_b, a.ids, b.ids, b.snap.events, decel_a, b.decel, b.speed / 100.0,
                                      _persons(a), _persons(b))
        return Segment(s_a, s_b, a.handles, hermite_coef(a.pos, a.vel, p1, m1, span),
                       linear_coef(a.yaw, a.pitch, a.speed, wrap180(yaw1 - a.yaw), wrap180(pitch1 - a.pitch), v1),
                       self.table.version, events=events, **state)

    def _light_table(self, snap: Snapshot) -> LightTable | None:
        """The lights of ``snap`` when they differ from the previous segment's (a new version)."""
        if snap.lights is None or snap.lights == self._lights:
            return None
        self._lights = snap.lights
        self.lights_version += 1
        return LightTable(self.lights_version, snap.sim_ns,
                          p.traffic_lights_arrays(list(snap.lights), list(snap.lights.values())))


def hermite_coef(p0: np.ndarray, m0: np.ndarray, p1: np.ndarray, m1: np.ndarray, span_s: float) -> np.ndarray:
    """Power-basis coefficients [c3, c2, c1, c0], (4, n, 3), of the cubic Hermite curve through
    (p0, m0) at u=0 and (p1, m1) at u=1 for a segment of ``span_s`` seconds (tangents in cm/s)."""
    d = p1 - p0  # small (one step's travel), so c2 and c3 carry no cancellation of large positions
    t0, t1 = m0 * span_s, m1 * span_s
    out = np.empty((4, *p0.shape), dtype=np.float64)
    out[0] = t0 + t1 - 2.0 * d
    out[1] = 3.0 * d - 2.0 * t0 - t1
    out[2] = t0
    out[3] = p0
    return out


def linear_coef(yaw0: np.ndarray, pitch0: np.ndarray, v0: np.ndarray, dyaw: np.ndarray, dpitch: np.ndarray,
                v1: np.ndarray) -> np.ndarray:
    """(2, 3, n): [value at A, change to B] of yaw, pitch, speed."""
    out = np.empty((2, 3, len(yaw0)), dtype=np.float64)
    out[0, 0], out[0, 1], out[0, 2] = yaw0, pitch0, v0
    out[1, 0], out[1, 1], out[1, 2] = dyaw, dpitch, v1 - v0
    return out


def _persons(state: _State) -> np.ndarray | None:
    """Which rows of a state are persons (None: none are)."""
    if not state.snap.persons:
        return None
    return np.array([c == p.PERSON_CLASS for c in state.what["classes"]], dtype=bool)


def _take(items: list[str], order: np.ndarray) -> list[str]:
    """``[items[i] for i in order]``, without a Python-level loop."""
    return list(itemgetter(*order.tolist())(items)) if len(order) > 1 else [items[i] for i in order]


def _match(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query, its index in ``sorted_keys`` (clipped) and whether it is there."""
    if len(sorted_keys) == 0:
        return np.zeros(len(queries), dtype=np.intp), np.zeros(len(queries), dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return idx, sorted_keys[idx] == queries
