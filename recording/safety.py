"""Safety measures of the participant in the traffic, from the recording (docs/safety.md).

The participant is the pose of ``participant.device`` mapped onto the SUMO net by the rig's
calibration (``participant:`` in the config); a vehicle is its footprint, a rectangle whose front
edge is SUMO's front-bumper point (the wire's position), sized as the id table says (typical figures
for its class where the source gave none). Persons (class ``pedestrian``) are not vehicles here. Measured at up to
ANALYSIS_HZ of session time (bounded memory for any length of session):

- distance: from the participant's position to the nearest point of each vehicle's footprint;
- closest approach: the smallest such distance of the session, with the vehicle and the time;
- time-to-collision (TTC): under constant velocities, the time until the participant comes within
  ``body_radius_m`` + half the vehicle's width of its front-bumper point (the part that strikes a
  pedestrian); none when they are not on a collision course;
- post-encroachment time (PET): for every spot both passed within PET_RADIUS_M of each other, the
  time between the participant's and the vehicle's front passing it; the smallest per vehicle;
- near misses: vehicles whose TTC fell under ``near_miss_ttc_s`` or whose distance fell under
  ``near_miss_distance_m``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import msgspec
import numpy as np
import yaml
from scipy.spatial import cKDTree

from cosim import protocol as p
from cosim.config import ParticipantSettings, read_config
from cosim.errors import CosimError
from recording.vehicles import Info, VehicleNames
from recording.reader import Recording, resolve

ANALYSIS_HZ = 10.0
TRACK_HZ = 30.0
NEAR_M = 60.0  # vehicles farther than this from the participant are not measured
PET_RADIUS_M = 1.0
MAX_LISTED = 50


@dataclass
class Encounter:
    vehicle: str
    vtype: str
    closest_m: float = math.inf
    closest_at_ns: int = 0
    ttc_min_s: float | None = None
    ttc_at_ns: int = 0
    pet_s: float | None = None

    def row(self) -> dict[str, Any]:
        return {"vehicle": self.vehicle, "type": self.vtype, "closest_m": round(self.closest_m, 3),
                "closest_at_s": round(self.closest_at_ns / 1e9, 3),
                "ttc_min_s": None if self.ttc_min_s is None else round(self.ttc_min_s, 3),
                "ttc_at_s": round(self.ttc_at_ns / 1e9, 3) if self.ttc_min_s is not None else None,
                "pet_s": None if self.pet_s is None else round(self.pet_s, 3)}


@dataclass
class Analysis:
    t_ns: list[int] = field(default_factory=list)  # per analysed frame
    nearest_m: list[float] = field(default_factory=list)
    ttc_s: list[float] = field(default_factory=list)  # the smallest TTC of the frame (nan: none)
    path: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (t_ns, east, north) at TRACK_HZ
    encounters: dict[str, Encounter] = field(default_factory=dict)


def footprint_distance(px: float, py: float, bx: np.ndarray, by: np.ndarray, heading: np.ndarray,
                       length: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Distance from a point to each rectangle whose front-edge middle is (bx, by), facing ``heading``."""
    dx, dy = px - bx, py - by
    c, s = np.cos(heading), np.sin(heading)
    along, side = dx * c + dy * s, -dx * s + dy * c
    out_along = np.maximum(0.0, np.maximum(along, -length - along))
    out_side = np.maximum(0.0, np.abs(side) - width / 2)
    return np.hypot(out_along, out_side)


def time_to_collision(rx: np.ndarray, ry: np.ndarray, vx: np.ndarray, vy: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Smallest t >= 0 with |r + v t| <= radius (nan where never; 0 where already within)."""
    a = vx * vx + vy * vy
    b = 2 * (rx * vx + ry * vy)
    c = rx * rx + ry * ry - radius * radius
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t1 = (-b - np.sqrt(disc)) / (2 * a)
    out = np.where((disc >= 0) & (a > 1e-12) & (t1 >= 0), t1, np.nan)
    return np.where(c <= 0, 0.0, out)


@dataclass
class Measured:
    """One vehicle table measured against the participant: per vehicle (of those selected)."""

    names: list[Info]
    distance_m: np.ndarray  # to its footprint
    ttc_s: np.ndarray  # nan: not on a collision course
    bumper_x: np.ndarray  # net metres of its front bumper
    bumper_y: np.ndarray


def bumpers(arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The front-bumper points of a vehicle table in net metres (the wire's Y points south)."""
    return arrays["position_cm"][:, 0] / 100.0, -arrays["position_cm"][:, 1] / 100.0


def measure(position: tuple[float, float], velocity: tuple[float, float], arrays: Mapping[str, np.ndarray],
            names: list[Info], body_radius_m: float, select: Any = slice(None)) -> Measured:
    """Distance and time-to-collision of the participant at ``position`` moving at ``velocity`` (net
    metres, m/s) to each vehicle of the table (``select``: a mask or slice of its rows; ``names``
    are of the selected rows). A person is at no distance (inf) and on no collision course (nan)."""
    px, py = position
    bx, by = (v[select] for v in bumpers(arrays))
    dims = np.array([i.size_m for i in names], dtype=np.float64).reshape(-1, 3)
    person = np.array([i.person for i in names], dtype=bool)
    heading = -np.radians(arrays["yaw_deg"][select].astype(np.float64))  # the wire's yaw turns towards south
    speed = arrays["speed_cms"][select].astype(np.float64) / 100.0 if "speed_cms" in arrays else np.zeros(len(bx))
    dist = footprint_distance(px, py, bx, by, heading, dims[:, 0], dims[:, 1])
    ttc = time_to_collision(px - bx, py - by, velocity[0] - speed * np.cos(heading),
                            velocity[1] - speed * np.sin(heading), dims[:, 1] / 2 + body_radius_m)
    dist[person], ttc[person] = math.inf, math.nan
    return Measured(names, dist, ttc, bx, by)


class Track:
    """The participant's net position over time, thinned to TRACK_HZ."""

    def __init__(self, cfg: ParticipantSettings) -> None:
        self.cfg = cfg
        self.rows: list[tuple[int, float, float]] = []

    def add(self, pose: p.Pose) -> None:
        if not self.cfg.follows(pose.device, pose.device_class):
            return
        if self.rows and pose.sample_ns - self.rows[-1][0] < 1e9 / TRACK_HZ:
            return
        east, north = self.cfg.to_net(pose.position[0], pose.position[2])
        self.rows.append((pose.sample_ns, east, north))

    def array(self) -> np.ndarray:
        return np.array(self.rows, dtype=np.float64).reshape(-1, 3)


_last: tuple[tuple, Analysis] | None = None  # the runner analyses for the summary, then for the report


def analyse(source: str | Path, cfg: ParticipantSettings) -> Analysis:
    """The measures of a recording (the same file and settings again: the result of the last call)."""
    global _last
    path = resolve(source)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, msgspec.json.encode(cfg))
    if _last is None or _last[0] != key:
        _last = (key, _analyse(path, cfg))
    return _last[1]


def _analyse(source: Path, cfg: ParticipantSettings) -> Analysis:
    rec = Recording.open(source)
    track = Track(cfg)
    for d in rec.messages([p.TOPIC_POSE]):
        track.add(d.msg)
    path = track.array()
    out = Analysis(path=path)
    if len(path) < 2:
        return out
    t, east, north = path[:, 0], path[:, 1], path[:, 2]
    names = VehicleNames()
    vehicle_points: dict[str, list[tuple[int, float, float]]] = {}
    next_ns = -math.inf
    for d in rec.messages([p.TOPIC_VEHICLE_IDS, p.TOPIC_VEHICLES]):
        m = d.msg
        if isinstance(m, p.VehicleIds):
            names.on_ids(m, d.arrays)
            continue
        if m.t_ns < next_ns or not (t[0] - 0.5e9 <= m.t_ns <= t[-1] + 0.5e9):
            continue
        next_ns = m.t_ns + 1e9 / ANALYSIS_HZ
        a = d.arrays
        if "handle" not in a or len(a["handle"]) == 0:
            continue
        px, py = float(np.interp(m.t_ns, t, east)), float(np.interp(m.t_ns, t, north))
        dt = 0.1e9
        pvx = (np.interp(m.t_ns + dt, t, east) - np.interp(m.t_ns - dt, t, east)) / (2 * dt / 1e9)
        pvy = (np.interp(m.t_ns + dt, t, north) - np.interp(m.t_ns - dt, t, north)) / (2 * dt / 1e9)
        bx, by = bumpers(a)
        near = np.hypot(bx - px, by - py) < NEAR_M
        out.t_ns.append(m.t_ns)
        if not near.any():
            out.nearest_m.append(math.nan)
            out.ttc_s.append(math.nan)
            continue
        got = measure((px, py), (pvx, pvy), a, names.of(m.ids_version, a["handle"][near].tolist()),
                      cfg.body_radius_m, near)
        dist, ttc = got.distance_m, got.ttc_s
        out.nearest_m.append(float(dist.min()) if np.isfinite(dist).any() else math.nan)
        out.ttc_s.append(float(np.nanmin(ttc)) if np.isfinite(ttc).any() else math.nan)
        for info, dd, tt, x, y in zip(got.names, dist.tolist(), ttc.tolist(), got.bumper_x.tolist(),
                                      got.bumper_y.tolist()):
            if info.person:
                continue
            vid = info.id
            e = out.encounters.get(vid) or out.encounters.setdefault(vid, Encounter(vid, info.type))
            if dd < e.closest_m:
                e.closest_m, e.closest_at_ns = dd, m.t_ns
            if tt == tt and (e.ttc_min_s is None or tt < e.ttc_min_s):
                e.ttc_min_s, e.ttc_at_ns = tt, m.t_ns
            if dd < 20.0:  # near enough for a spot both pass to matter for PET
                vehicle_points.setdefault(vid, []).append((m.t_ns, x, y))
    tree = cKDTree(path[:, 1:])
    for vid, pts in vehicle_points.items():
        arr = np.array(pts, dtype=np.float64)
        best = None
        for (tv, x, y), hits in zip(arr, tree.query_ball_point(arr[:, 1:], PET_RADIUS_M)):
            if hits:
                gap = float(np.min(np.abs(t[hits] - tv))) / 1e9
                best = gap if best is None else min(best, gap)
        out.encounters[vid].pet_s = best
    return out


def participant_settings(config_text: str | None) -> ParticipantSettings | None:
    """The ``participant:`` block of a session's config text (None when absent or unreadable)."""
    if not config_text:
        return None
    try:
        return read_config(raw=yaml.safe_load(config_text)).participant
    except (CosimError, yaml.YAMLError):
        return None


def section(a: Analysis, cfg: ParticipantSettings) -> dict[str, Any]:
    """The summary's ``safety`` section."""
    enc = sorted(a.encounters.values(), key=lambda e: e.closest_m)
    closest = enc[0] if enc else None
    ttcs = [e for e in enc if e.ttc_min_s is not None]
    ttc = min(ttcs, key=lambda e: e.ttc_min_s) if ttcs else None
    pets = [e for e in enc if e.pet_s is not None]
    near = [e for e in enc if e.closest_m < cfg.near_miss_distance_m
            or (e.ttc_min_s is not None and e.ttc_min_s < cfg.near_miss_ttc_s)]
    return {
        "device": cfg.device, "calibration": {"origin_m": list(cfg.origin_m), "yaw_deg": cfg.yaw_deg, "scale": cfg.scale},
        "frames_analysed": len(a.t_ns), "analysis_hz": ANALYSIS_HZ, "vehicles_met": len(enc),
        "path_m": round(float(np.sum(np.hypot(np.diff(a.path[:, 1]), np.diff(a.path[:, 2])))), 2) if len(a.path) > 1 else 0.0,
        "closest_approach_m": None if closest is None else round(closest.closest_m, 3),
        "closest_vehicle": None if closest is None else closest.vehicle,
        "closest_at_s": None if closest is None else round(closest.closest_at_ns / 1e9, 3),
        "ttc_min_s": None if ttc is None else round(ttc.ttc_min_s, 3),
        "ttc_vehicle": None if ttc is None else ttc.vehicle,
        "pet_min_s": round(min(e.pet_s for e in pets), 3) if pets else None,
        "near_misses": len(near),
        "thresholds": {"ttc_s": cfg.near_miss_ttc_s, "distance_m": cfg.near_miss_distance_m},
        "encounters": [e.row() for e in enc[:MAX_LISTED]],
    }
