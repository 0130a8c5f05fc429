"""SUMO -> Unreal coordinates: the only place where the conversion lives (docs/sumo.md mirrors it,
and the C++ core of the Unreal plugin implements the same formulas).

SUMO network coordinates: metres, right-handed, x east, y north, z up; the network's netOffset is
already applied (net = projected + netOffset). Heading ``angle`` is degrees clockwise from north;
``slope`` is degrees, positive uphill.

Unreal: centimetres, left-handed, X forward (= east), Y right (= south), Z up. Yaw is degrees about
Z, 0 along +X, positive turning +X towards +Y (clockwise seen from above), in (-180, 180];
pitch is degrees, positive nose up.

    X = (x - ox) * 100      Y = -(y - oy) * 100      Z = (z - oz) * 100
    yaw = wrap180(angle - 90)                          pitch = slope

where (ox, oy, oz) is ``origin_m``, the SUMO net point placed at Unreal's origin.
"""
from __future__ import annotations

import numpy as np

CM_PER_M = 100.0


def wrap180(deg: np.ndarray | float) -> np.ndarray:
    """Map degrees to (-180, 180]."""
    out = np.mod(np.asarray(deg, dtype=np.float64) + 180.0, 360.0) - 180.0
    return np.where(out == -180.0, 180.0, out)


class CoordinateFrame:
    def __init__(self, origin_m: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        self.origin = np.asarray(origin_m, dtype=np.float64)

    def position_cm(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """(n,) SUMO metres -> (n, 3) Unreal centimetres."""
        out = np.empty((np.size(x), 3), dtype=np.float64)
        out[:, 0] = (np.asarray(x, dtype=np.float64) - self.origin[0]) * CM_PER_M
        out[:, 1] = -(np.asarray(y, dtype=np.float64) - self.origin[1]) * CM_PER_M
        out[:, 2] = (np.asarray(z, dtype=np.float64) - self.origin[2]) * CM_PER_M
        return out

    @staticmethod
    def yaw_deg(angle: np.ndarray) -> np.ndarray:
        return wrap180(np.asarray(angle, dtype=np.float64) - 90.0)

    @staticmethod
    def pitch_deg(slope: np.ndarray) -> np.ndarray:
        return np.asarray(slope, dtype=np.float64)

    @staticmethod
    def velocity_cms(speed_ms: np.ndarray, yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> np.ndarray:
        """Velocity along the vehicle's heading, (n, 3) Unreal cm/s, from Unreal yaw/pitch."""
        yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
        v = np.asarray(speed_ms, dtype=np.float64) * CM_PER_M
        out = np.empty((np.size(v), 3), dtype=np.float64)
        out[:, 0] = v * np.cos(yaw) * np.cos(pitch)
        out[:, 1] = v * np.sin(yaw) * np.cos(pitch)
        out[:, 2] = v * np.sin(pitch)
        return out
