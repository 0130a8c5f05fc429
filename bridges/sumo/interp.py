"""Per-frame evaluation of a segment: cubic Hermite in position (C1 across SUMO steps, because a
knot's tangent is the vehicle's velocity at that step on both sides), shortest-arc heading and
pitch (continuous across +-180), linear speed. Output columns are the wire table (docs/sumo.md)."""
from __future__ import annotations

import numpy as np

from bridges.sumo.coords import wrap180
from bridges.sumo.segment import Segment


def evaluate(seg: Segment, sim_ns: int) -> dict[str, np.ndarray]:
    """The vehicle table at ``sim_ns`` (clamped into the segment)."""
    span_ns = seg.s_b - seg.s_a
    if span_ns <= 0:
        u, span = 0.0, 0.0
    else:
        u = min(max((sim_ns - seg.s_a) / span_ns, 0.0), 1.0)
        span = span_ns * 1e-9
    u2, u3 = u * u, u * u * u
    h00, h10 = 2 * u3 - 3 * u2 + 1, (u3 - 2 * u2 + u) * span
    h01, h11 = -2 * u3 + 3 * u2, (u3 - u2) * span
    pos = h00 * seg.p0 + h10 * seg.m0 + h01 * seg.p1 + h11 * seg.m1
    return {
        "handle": seg.handles,
        "position_cm": pos.astype(np.float32),
        "yaw_deg": wrap180(seg.yaw0 + u * seg.dyaw).astype(np.float32),
        "pitch_deg": (seg.pitch0 + u * seg.dpitch).astype(np.float32),
        "speed_cms": (seg.v0 + u * (seg.v1 - seg.v0)).astype(np.float32),
    }


def velocity_cms(seg: Segment, sim_ns: int) -> np.ndarray:
    """d(position)/dt of the curve at ``sim_ns`` (cm/s), for continuity checks."""
    span_ns = seg.s_b - seg.s_a
    if span_ns <= 0:
        return np.zeros_like(seg.p0)
    u = min(max((sim_ns - seg.s_a) / span_ns, 0.0), 1.0)
    span = span_ns * 1e-9
    d00, d10 = 6 * u * u - 6 * u, 3 * u * u - 4 * u + 1
    d01, d11 = -6 * u * u + 6 * u, 3 * u * u - 2 * u
    return (d00 * seg.p0 + d01 * seg.p1) / span + d10 * seg.m0 + d11 * seg.m1
