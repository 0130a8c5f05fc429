"""An animated body proxy made of capsules: it stands, sways, sits down and stands up again, and
(``stride_deg`` > 0) walks in place, the thighs swinging in opposition.

The pose is a function of time only, so the recorded sequence loops cleanly. Units: metres, +Y up,
+Z forward (the skirt's front panel).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BodyPose:
    a: np.ndarray  # (C, 3) capsule segment starts
    b: np.ndarray  # (C, 3) capsule segment ends
    radius: np.ndarray  # (C,)
    pelvis: np.ndarray  # (3,) translation of the waist frame
    yaw: float  # rotation of the waist frame about +Y (radians)

    def waist_transform(self, rest: np.ndarray, waist_height: float) -> np.ndarray:
        """Where waistband vertices (given at rest around the origin axis) are in this pose."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        local = rest - np.array([0.0, waist_height, 0.0])
        rotated = np.stack([c * local[:, 0] + s * local[:, 2], local[:, 1], -s * local[:, 0] + c * local[:, 2]], -1)
        return rotated + self.pelvis + np.array([0.0, waist_height, 0.0])


def _smooth(x: np.ndarray | float) -> np.ndarray | float:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class SwaySitBody:
    """Pelvis at the waist; torso, hips, thighs and shins as capsules."""

    def __init__(self, duration_s: float, waist_height: float = 1.0, sway_m: float = 0.05,
                 yaw_deg: float = 12.0, sway_period_s: float = 1.6, sit_drop_m: float = 0.35,
                 stride_deg: float = 0.0, step_period_s: float = 1.0) -> None:
        self.duration_s = duration_s
        self.waist_height = waist_height
        self.sway_m = sway_m
        self.yaw = np.radians(yaw_deg)
        self.period = sway_period_s
        self.sit_drop = sit_drop_m
        self.stride = np.radians(stride_deg)
        self.step_period = step_period_s

    def sit_level(self, t: float) -> float:
        u = (t % self.duration_s) / self.duration_s
        return float(_smooth((u - 0.30) / 0.18) - _smooth((u - 0.72) / 0.18))

    def pose(self, t: float) -> BodyPose:
        sit = self.sit_level(t)
        phase = 2 * np.pi * (t % self.duration_s) / self.duration_s
        cycles = max(1, round(self.duration_s / self.period))
        sway = np.sin(cycles * phase)
        yaw = self.yaw * np.sin(cycles * phase + 0.7)
        pelvis = np.array([self.sway_m * sway, -self.sit_drop * sit, 0.0])
        c, s = np.cos(yaw), np.sin(yaw)
        rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
        origin = pelvis + np.array([0.0, self.waist_height, 0.0])

        def world(p: np.ndarray) -> np.ndarray:
            return origin + rot @ p

        sit_pitch = 0.5 * np.pi * sit  # thighs swing from pointing down to pointing forward
        steps = max(1, round(self.duration_s / self.step_period))
        caps_a, caps_b, radii = [], [], []
        for a, b, r in [
            (np.array([0.0, -0.02, 0.0]), np.array([0.0, 0.45, 0.0]), 0.10),  # torso
            (np.array([-0.08, -0.12, 0.0]), np.array([0.08, -0.12, 0.0]), 0.115),  # hips
        ]:
            caps_a.append(world(a)), caps_b.append(world(b)), radii.append(r)
        for side in (-1.0, 1.0):
            pitch = sit_pitch + self.stride * np.sin(steps * phase + (0.0 if side < 0 else np.pi))
            thigh = 0.45 * np.array([0.0, -np.cos(pitch), np.sin(pitch)])
            hip = np.array([0.09 * side, -0.16, 0.0])
            knee = hip + thigh
            caps_a += [world(hip), world(knee)]
            caps_b += [world(knee), world(knee + np.array([0.0, -0.45, 0.0]))]
            radii += [0.075, 0.05]
        return BodyPose(np.array(caps_a), np.array(caps_b), np.array(radii), pelvis, float(yaw))
