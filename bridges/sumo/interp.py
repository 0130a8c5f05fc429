"""Per-frame evaluation of a segment: cubic Hermite in position (C1 across SUMO steps, because a
knot's tangent is the vehicle's velocity at that step on both sides), shortest-arc heading and
pitch (continuous across +-180), linear speed. Output columns are the wire table (docs/sumo.md).

The segment already holds the curve's coefficients (bridges.sumo.segment), so a frame is a handful
of whole-array operations into preallocated float64 scratch (no per-vehicle Python, no temporaries
of the table's size) and one cast into the float32 table. The table itself is a fresh array each
frame: a bus send may keep a reference to it (ZeroMQ's zero-copy for large frames) after the call.
"""
from __future__ import annotations

import numpy as np

from bridges.sumo.segment import Segment


class Workspace:
    """Float64 scratch for :func:`evaluate`, grown to the largest table seen and then reused."""

    def __init__(self) -> None:
        self._pos = np.empty(0)
        self._lin = np.empty(0)
        self._mask = np.empty(0, dtype=bool)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._pos.size < 3 * n:
            size = max(3 * n, 3 * 1024, int(self._pos.size * 1.5))
            self._pos, self._lin, self._mask = np.empty(size), np.empty(size), np.empty(size // 3, dtype=bool)
        return self._pos[:3 * n].reshape(n, 3), self._lin[:3 * n].reshape(3, n), self._mask[:n]


def _u(seg: Segment, sim_ns: int) -> float:
    span_ns = seg.s_b - seg.s_a
    if span_ns <= 0:
        return 0.0
    return min(max((sim_ns - seg.s_a) / span_ns, 0.0), 1.0)


def evaluate(seg: Segment, sim_ns: int, work: Workspace | None = None) -> dict[str, np.ndarray]:
    """The vehicle table at ``sim_ns`` (clamped into the segment)."""
    n = len(seg)
    u = _u(seg, sim_ns)
    pos, lin, mask = (work or Workspace()).get(n)
    c3, c2, c1, c0 = seg.pos_coef
    # position: Horner's rule on the power-basis cubic, in place
    np.multiply(c3, u, out=pos)
    np.add(pos, c2, out=pos)
    np.multiply(pos, u, out=pos)
    np.add(pos, c1, out=pos)
    np.multiply(pos, u, out=pos)
    np.add(pos, c0, out=pos)
    # yaw, pitch, speed: value at A + u * change
    np.multiply(seg.lin[1], u, out=lin)
    np.add(lin, seg.lin[0], out=lin)
    # yaw into (-180, 180]: yaw at A and the turn are each in (-180, 180], so one shift of 360 at most
    yaw = lin[0]
    np.greater(yaw, 180.0, out=mask)
    np.subtract(yaw, 360.0, out=yaw, where=mask)
    np.less_equal(yaw, -180.0, out=mask)
    np.add(yaw, 360.0, out=yaw, where=mask)
    out = np.empty(6 * n, dtype=np.float32)  # one table: position (n, 3), then yaw, pitch, speed rows
    position = out[:3 * n].reshape(n, 3)
    rows = out[3 * n:].reshape(3, n)
    np.copyto(position, pos, casting="same_kind")
    np.copyto(rows, lin, casting="same_kind")
    return {"handle": seg.handles, "position_cm": position, "yaw_deg": rows[0], "pitch_deg": rows[1],
            "speed_cms": rows[2], "signals": seg.signals}


def velocity_cms(seg: Segment, sim_ns: int) -> np.ndarray:
    """d(position)/dt of the curve at ``sim_ns`` (cm/s), for continuity checks."""
    span_ns = seg.s_b - seg.s_a
    c3, c2, c1, _ = seg.pos_coef
    if span_ns <= 0:
        return np.zeros_like(c1)
    u = _u(seg, sim_ns)
    return (c1 + 2.0 * u * c2 + 3.0 * u * u * c3) / (span_ns * 1e-9)
