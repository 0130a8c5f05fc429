"""Percentile blocks: every figure in a summary is reported as {p50, p95, p99, max}."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import numpy.ma  # noqa: F401  np.percentile imports it on first use: 17 ms, which landed mid-session (a late tick)

Block = dict[str, float | None]


def percentile_block(values: Iterable[float] | np.ndarray, scale: float = 1.0, digits: int = 3) -> Block:
    """p50/p95/p99/max of ``values`` times ``scale``; all None when there are no values."""
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64)
    if arr.size == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    arr = arr * scale
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {"p50": round(float(p50), digits), "p95": round(float(p95), digits),
            "p99": round(float(p99), digits), "max": round(float(arr.max()), digits)}


def abs_block(values: Iterable[float], scale: float = 1.0) -> Block:
    return percentile_block(np.abs(np.asarray(list(values), dtype=np.float64)), scale)
