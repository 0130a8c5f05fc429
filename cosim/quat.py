"""Small quaternion and rotation helpers on plain tuples (w, x, y, z): the pose path handles a few
vectors per sample, where Python floats are faster than numpy arrays."""
from __future__ import annotations

import math
from typing import Sequence

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]

IDENTITY: Quat = (1.0, 0.0, 0.0, 0.0)


def mul(a: Quat, b: Quat) -> Quat:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw)


def conj(q: Quat) -> Quat:
    return (q[0], -q[1], -q[2], -q[3])


def norm(q: Sequence[float]) -> float:
    return math.sqrt(sum(c * c for c in q))


def normalize(q: Quat) -> Quat:
    n = norm(q)
    if n == 0.0:
        return IDENTITY
    return (q[0] / n, q[1] / n, q[2] / n, q[3] / n)


def axis_angle(axis: Vec3, angle: float) -> Quat:
    s = math.sin(angle / 2.0)
    return (math.cos(angle / 2.0), axis[0] * s, axis[1] * s, axis[2] * s)


def from_rotvec(v: Vec3) -> Quat:
    """Rotation vector (axis times angle, radians) to a unit quaternion."""
    angle = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    if angle < 1e-12:
        return normalize((1.0, v[0] / 2.0, v[1] / 2.0, v[2] / 2.0))
    return axis_angle((v[0] / angle, v[1] / angle, v[2] / angle), angle)


def to_rotvec(q: Quat) -> Vec3:
    """Unit quaternion to rotation vector (shortest rotation)."""
    w, x, y, z = q if q[0] >= 0 else (-q[0], -q[1], -q[2], -q[3])
    s = math.sqrt(x * x + y * y + z * z)
    if s < 1e-12:
        return (2.0 * x, 2.0 * y, 2.0 * z)
    angle = 2.0 * math.atan2(s, w)
    return (x / s * angle, y / s * angle, z / s * angle)


def angle_between(a: Quat, b: Quat) -> float:
    """Rotation angle (radians, 0..pi) taking orientation a to orientation b."""
    d = mul(conj(a), b)
    return 2.0 * math.atan2(math.sqrt(d[1] * d[1] + d[2] * d[2] + d[3] * d[3]), abs(d[0]))


def slerp(a: Quat, b: Quat, t: float) -> Quat:
    """Spherical interpolation from a (t=0) to b (t=1) along the shorter arc."""
    d = mul(conj(a), b)
    if d[0] < 0:
        d = (-d[0], -d[1], -d[2], -d[3])
    r = to_rotvec(d)
    return normalize(mul(a, from_rotvec((r[0] * t, r[1] * t, r[2] * t))))


def from_matrix(m: Sequence[Sequence[float]]) -> Quat:
    """Rotation part of a 3x3 (or 3x4) row-major matrix to a unit quaternion with w >= 0."""
    r00, r01, r02 = m[0][0], m[0][1], m[0][2]
    r10, r11, r12 = m[1][0], m[1][1], m[1][2]
    r20, r21, r22 = m[2][0], m[2][1], m[2][2]
    trace = r00 + r11 + r22
    if trace > 0:
        s = 2.0 * math.sqrt(1.0 + trace)
        q = (0.25 * s, (r21 - r12) / s, (r02 - r20) / s, (r10 - r01) / s)
    elif r00 > r11 and r00 > r22:
        s = 2.0 * math.sqrt(1.0 + r00 - r11 - r22)
        q = ((r21 - r12) / s, 0.25 * s, (r01 + r10) / s, (r02 + r20) / s)
    elif r11 > r22:
        s = 2.0 * math.sqrt(1.0 + r11 - r00 - r22)
        q = ((r02 - r20) / s, (r01 + r10) / s, 0.25 * s, (r12 + r21) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + r22 - r00 - r11)
        q = ((r10 - r01) / s, (r02 + r20) / s, (r12 + r21) / s, 0.25 * s)
    q = normalize(q)
    return q if q[0] >= 0 else (-q[0], -q[1], -q[2], -q[3])


def to_matrix(q: Quat) -> tuple[Vec3, Vec3, Vec3]:
    w, x, y, z = q
    return ((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
            (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
            (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)))


def integrate(q: Quat, angular_velocity: Vec3, dt_s: float) -> Quat:
    """Rotate q by a constant angular velocity given in tracking-space (world) axes, rad/s."""
    w = angular_velocity
    return normalize(mul(from_rotvec((w[0] * dt_s, w[1] * dt_s, w[2] * dt_s)), q))
