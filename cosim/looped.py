"""A recorded motion played looped on the master clock: the one blend the refine runtime and the
headless client both use, so that a residual refines exactly the base the client displays."""
from __future__ import annotations

import numpy as np


def blend_looped(frames: np.ndarray, fps: float, t_ns: int, out: np.ndarray | None = None) -> np.ndarray:
    """Positions at session time ``t_ns`` of ``frames`` (F, n, 3) recorded at ``fps``, looped:
    the linear blend of the two recorded frames around it."""
    pos = (t_ns * 1e-9 * fps) % len(frames)
    i = int(pos)
    a = pos - i
    out = np.empty(frames.shape[1:], np.float32) if out is None else out
    np.multiply(frames[i], 1 - a, out=out)
    out += a * frames[(i + 1) % len(frames)]
    return out
