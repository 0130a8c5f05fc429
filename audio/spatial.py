"""Listener and sources: distance attenuation and a constant-power pan from the head's yaw.

Vehicles arrive in Unreal coordinates (cm; X forward, Y right, Z up, left-handed). The head pose
arrives in OpenVR tracking space (metres; +X right, +Y up, -Z forward, right-handed). Tracking
space maps into Unreal by X = -z, Y = x, Z = y (times 100) plus ``origin_cm``.
"""
from __future__ import annotations

import numpy as np

from audio.config import ListenerSettings, VehicleSounds

CM_PER_M = 100.0


def tracking_to_unreal_cm(position_m: np.ndarray, origin_cm: np.ndarray) -> np.ndarray:
    x, y, z = np.asarray(position_m, dtype=np.float64)
    return np.array([-z, x, y]) * CM_PER_M + origin_cm


def unreal_to_tracking(vectors_cm: np.ndarray) -> np.ndarray:
    """Direction vectors (n, 3), Unreal cm -> OpenVR tracking metres."""
    v = np.asarray(vectors_cm, dtype=np.float64) / CM_PER_M
    return np.stack([v[:, 1], v[:, 2], -v[:, 0]], axis=1)


def rotate_inverse(q_wxyz: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors (n, 3) by the inverse of unit quaternion q (w, x, y, z)."""
    w, u = q_wxyz[0], -np.asarray(q_wxyz[1:], dtype=np.float64)
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


class Listener:
    def __init__(self, settings: ListenerSettings) -> None:
        self.origin_cm = np.asarray(settings.origin_cm, dtype=np.float64)
        self.position_cm = np.asarray(settings.default_position_cm, dtype=np.float64)
        self.orientation = np.array([1.0, 0.0, 0.0, 0.0])
        self.poses = 0

    def update(self, position_m: tuple[float, float, float], orientation_wxyz: tuple[float, float, float, float]) -> None:
        q = np.asarray(orientation_wxyz, dtype=np.float64)
        norm = float(np.linalg.norm(q))
        if not np.all(np.isfinite(q)) or norm < 1e-6 or not np.all(np.isfinite(position_m)):
            return
        self.position_cm = tracking_to_unreal_cm(np.asarray(position_m), self.origin_cm)
        self.orientation = q / norm
        self.poses += 1


def source_gains(listener: Listener, positions_cm: np.ndarray, settings: VehicleSounds,
                 channels: int, gain: float) -> np.ndarray:
    """Per-source channel gains (n, channels): ``gain``·ref/max(d, ref) within max distance, 0 beyond;
    panned left/right by the source's direction in the head frame."""
    rel = np.asarray(positions_cm, dtype=np.float64).reshape(-1, 3) - listener.position_cm
    dist_m = np.linalg.norm(rel, axis=1) / CM_PER_M
    ok = np.isfinite(dist_m)
    level = np.where(ok & (dist_m <= settings.max_distance_m),
                     gain * settings.ref_distance_m / np.maximum(np.nan_to_num(dist_m), settings.ref_distance_m), 0.0)
    if channels == 1:
        return level[:, None]
    head = rotate_inverse(listener.orientation, unreal_to_tracking(np.nan_to_num(rel)))
    norm = np.linalg.norm(head, axis=1)
    pan = np.divide(head[:, 0], norm, out=np.zeros_like(norm), where=norm > 1e-9)  # -1 left .. +1 right
    angle = (np.clip(pan, -1.0, 1.0) + 1.0) * np.pi / 4
    return np.stack([level * np.cos(angle), level * np.sin(angle)], axis=1)
