"""Pose prediction (constant linear and angular velocity) and pose comparison, for one device.

A pose's reference time is its ``photon_ns`` when the source already predicted it (OpenVR live),
else its ``sample_ns``. Angular velocity is in tracking-space axes (rad/s), as OpenVR reports it.
"""
from __future__ import annotations

import math

from cosim import quat
from cosim import protocol as p

Vec3 = quat.Vec3
Quat = quat.Quat
Rigid = tuple[Vec3, Quat]  # position (m), orientation


def reference_ns(pose: p.Pose) -> int:
    return pose.photon_ns if pose.photon_ns is not None else pose.sample_ns


def extrapolate(position: Vec3, orientation: Quat, velocity: Vec3, angular_velocity: Vec3, dt_s: float) -> Rigid:
    pos = (position[0] + velocity[0] * dt_s, position[1] + velocity[1] * dt_s, position[2] + velocity[2] * dt_s)
    return pos, quat.integrate(orientation, angular_velocity, dt_s)


def predict(pose: p.Pose, t_ns: int, velocity: Vec3 | None = None, angular_velocity: Vec3 | None = None) -> Rigid:
    """The pose at ``t_ns`` assuming the velocities stay constant (the message's own by default)."""
    dt = (t_ns - reference_ns(pose)) * 1e-9
    return extrapolate(pose.position, pose.orientation, velocity or pose.velocity,
                       angular_velocity or pose.angular_velocity, dt)


def estimate_velocities(older: p.Pose, newer: p.Pose) -> tuple[Vec3, Vec3] | None:
    """Finite-difference velocities between two samples; None when they share a time."""
    dt = (reference_ns(newer) - reference_ns(older)) * 1e-9
    if dt <= 0:
        return None
    a, b = older.position, newer.position
    v = ((b[0] - a[0]) / dt, (b[1] - a[1]) / dt, (b[2] - a[2]) / dt)
    r = quat.to_rotvec(quat.mul(newer.orientation, quat.conj(older.orientation)))
    return v, (r[0] / dt, r[1] / dt, r[2] / dt)


def interpolate(a: p.Pose, b: p.Pose, t_ns: int) -> Rigid:
    """The pose at ``t_ns`` between samples a and b (lerp position, slerp orientation)."""
    ta, tb = reference_ns(a), reference_ns(b)
    f = 0.0 if tb == ta else (t_ns - ta) / (tb - ta)
    pa, pb = a.position, b.position
    pos = (pa[0] + (pb[0] - pa[0]) * f, pa[1] + (pb[1] - pa[1]) * f, pa[2] + (pb[2] - pa[2]) * f)
    return pos, quat.slerp(a.orientation, b.orientation, f)


def error(estimate: Rigid, truth: Rigid) -> tuple[float, float]:
    """(position error in mm, orientation error in degrees)."""
    (pa, qa), (pb, qb) = estimate, truth
    mm = 1000.0 * math.sqrt((pa[0] - pb[0]) ** 2 + (pa[1] - pb[1]) ** 2 + (pa[2] - pb[2]) ** 2)
    return mm, math.degrees(quat.angle_between(qa, qb))
