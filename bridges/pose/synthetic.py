"""Synthetic poses: still, sinusoidal yaw, or a realistic random head motion, at up to 1 kHz.

Every motion is a smooth function of session time (sums of sinusoids on yaw, pitch, roll and
position), so the true pose at any instant is known: that is what makes injected latencies and
prediction errors measurable. Angular velocity is in tracking-space axes (rad/s), like OpenVR's.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from cosim import quat
from bridges.pose.config import SyntheticSettings
from bridges.pose.source import Periodic
from cosim import protocol as p

Wave = tuple[float, float, float]  # amplitude, angular frequency (rad/s), phase (rad)

_X, _Y, _Z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
_H = 1e-4  # s, half-step of the central difference for angular velocity


def _value(waves: list[Wave], t: float) -> float:
    return sum(a * math.sin(w * t + ph) for a, w, ph in waves)


def _rate(waves: list[Wave], t: float) -> float:
    return sum(a * w * math.cos(w * t + ph) for a, w, ph in waves)


@dataclass
class Motion:
    """Yaw (about +Y), pitch (about +X) and roll (about +Z) in radians, position in metres."""

    base: tuple[float, float, float]
    yaw: list[Wave] = field(default_factory=list)
    pitch: list[Wave] = field(default_factory=list)
    roll: list[Wave] = field(default_factory=list)
    pos: tuple[list[Wave], list[Wave], list[Wave]] = field(default_factory=lambda: ([], [], []))
    walk: tuple[float, float, float] | None = None  # (start s, speed m/s, distance m) straight ahead (-Z)

    def orientation(self, t: float) -> quat.Quat:
        q = quat.mul(quat.axis_angle(_Y, _value(self.yaw, t)), quat.axis_angle(_X, _value(self.pitch, t)))
        return quat.mul(q, quat.axis_angle(_Z, _value(self.roll, t)))

    def sample(self, t: float) -> tuple[quat.Vec3, quat.Quat, quat.Vec3, quat.Vec3]:
        """Position, orientation, velocity and angular velocity (tracking-space axes) at ``t`` s."""
        position = [b + _value(w, t) for b, w in zip(self.base, self.pos)]
        velocity = [_rate(w, t) for w in self.pos]
        if self.walk is not None:
            start, speed, distance = self.walk
            walked = min(max(0.0, t - start) * speed, distance)
            position[2] -= walked
            if 0.0 < walked < distance:
                velocity[2] -= speed
        q = self.orientation(t)
        if self.yaw or self.pitch or self.roll:
            d = quat.to_rotvec(quat.mul(self.orientation(t + _H), quat.conj(self.orientation(t - _H))))
            omega = (d[0] / (2 * _H), d[1] / (2 * _H), d[2] / (2 * _H))
        else:
            omega = (0.0, 0.0, 0.0)
        return tuple(position), q, tuple(velocity), omega  # type: ignore[return-value]


def _random_waves(rng: random.Random, n: int, amp: tuple[float, float], freq_hz: tuple[float, float],
                  scale: float = 1.0) -> list[Wave]:
    return [(rng.uniform(*amp) * scale, 2 * math.pi * rng.uniform(*freq_hz), rng.uniform(0, 2 * math.pi))
            for _ in range(n)]


def head_motion(seed: int, base: tuple[float, float, float]) -> Motion:
    """Band-limited random motion of a seated/standing viewer looking around: yaw sweeps of tens of
    degrees at up to ~1 Hz (peaks of 100-300 deg/s), smaller pitch and roll, centimetre sway."""
    rng = random.Random(seed)
    deg = math.pi / 180
    return Motion(base=base,
                  yaw=_random_waves(rng, 3, (6, 18), (0.08, 1.0), deg),
                  pitch=_random_waves(rng, 3, (2, 6), (0.1, 1.2), deg),
                  roll=_random_waves(rng, 2, (1, 3), (0.1, 0.8), deg),
                  pos=tuple(_random_waves(rng, 2, (0.005, 0.025), (0.1, 0.7)) for _ in range(3)))  # type: ignore[arg-type]


def make_motion(settings: SyntheticSettings, index: int) -> Motion:
    """Device ``index`` 0 is the HMD; 1.. are controllers held in front of the body."""
    if index == 0:
        base = (0.0, settings.height_m, 0.0)
    else:
        side = -1.0 if index % 2 else 1.0
        base = (0.25 * side, settings.height_m - 0.5, -0.35)
    if settings.motion == "still":
        return Motion(base=base)
    if settings.motion == "sine_yaw":
        w = 2 * math.pi * settings.frequency_hz
        return Motion(base=base, yaw=[(math.radians(settings.amplitude_deg), w, 0.0)])
    motion = head_motion(settings.seed + 7919 * index, base)
    if settings.motion == "walk":
        motion.walk = (settings.walk_start_s, settings.walk_speed_ms, settings.walk_distance_m)
    return motion


class SyntheticSource:
    kind = "synthetic"

    def __init__(self, settings: SyntheticSettings, rate_hz: float, latency_ns: int = 0) -> None:
        self.settings = settings
        self.schedule = Periodic(rate_hz)
        self.latency_ns = latency_ns
        self.devices = [("hmd", "hmd", "SYNTH-HMD")] + [
            (f"controller{i}", "controller", f"SYNTH-CTL{i}") for i in range(settings.controllers)]
        self.motions = [make_motion(settings, i) for i in range(len(self.devices))]

    def start(self, now_ns: int) -> None:
        self.schedule.start(now_ns)

    def next_due_ns(self) -> int:
        return self.schedule.next_due_ns()

    def truth(self, device_index: int, t_ns: int) -> tuple[quat.Vec3, quat.Quat, quat.Vec3, quat.Vec3]:
        return self.motions[device_index].sample(t_ns * 1e-9)

    def read(self, now_ns: int) -> list[p.Pose]:
        """The pose at ``now - latency``: the injected latency makes every sample that much stale."""
        sample_ns = now_ns - self.latency_ns
        out = []
        for i, (name, cls, serial) in enumerate(self.devices):
            pos, q, vel, omega = self.truth(i, sample_ns)
            out.append(p.Pose(device=name, device_class=cls, serial=serial, sample_ns=sample_ns,
                              position=pos, orientation=q, velocity=vel, angular_velocity=omega))
        self.schedule.advance(now_ns)
        return out

    def stats(self) -> dict[str, Any]:
        return {"motion": self.settings.motion, "devices": len(self.devices), "skipped_slots": self.schedule.skipped}

    def events(self) -> list[p.Event]:
        return []

    def close(self) -> None:
        pass
