"""Percentile blocks: every figure in a summary is reported as {p50, p95, p99, max}.

A figure that grows with the session (a value per frame, per pose) is kept in ``Samples``: every
value up to ``cap``, then a uniform random reservoir of ``cap`` values (Vitter's algorithm R), so
an hour-long session holds as much as a four-minute one. Percentiles then come from the reservoir
(an unbiased sample of the whole session); count, max, min and the newest value stay exact.
"""
from __future__ import annotations

import random
from array import array
from typing import Any, Iterable

import numpy as np
import numpy.ma  # noqa: F401  np.percentile imports it on first use: 17 ms, which landed mid-session (a late tick)

Block = dict[str, float | None]
CAP = 4096  # values kept per figure (32 KiB): full after 45 s of a 90 Hz figure, so memory is flat from then on
_rng = random.Random(0x5EED)  # reservoir replacement; seeded so that a rerun picks the same slots


class Samples:
    """The values of one figure over a session, in bounded memory (see the module's docstring)."""

    __slots__ = ("cap", "count", "max", "min", "last", "_buf")

    def __init__(self, cap: int = CAP) -> None:
        self.cap = cap
        self.count = 0
        self.max: float | None = None
        self.min: float | None = None
        self.last: float | None = None
        self._buf = array("d")

    def append(self, value: float) -> None:
        self.count += 1
        self.last = value
        if self.max is None or value > self.max:
            self.max = value
        if self.min is None or value < self.min:
            self.min = value
        if len(self._buf) < self.cap:
            self._buf.append(value)
        else:
            j = _rng.randrange(self.count)
            if j < self.cap:
                self._buf[j] = value

    def __len__(self) -> int:
        return self.count

    def __iter__(self):  # noqa: ANN204  the kept values
        return iter(self._buf)

    def __bool__(self) -> bool:
        return self.count > 0

    def values(self) -> np.ndarray:
        """The kept values (all of them, or the reservoir)."""
        return np.frombuffer(self._buf, dtype=np.float64).copy() if self._buf else np.empty(0)


def percentile_block(values: Iterable[float] | np.ndarray | Samples, scale: float = 1.0, digits: int = 3) -> Block:
    """p50/p95/p99/max of ``values`` times ``scale``; all None when there are no values."""
    if isinstance(values, Samples):
        return _block(values.values(), values.max, scale, digits)
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64)
    return _block(arr, float(arr.max()) if arr.size else None, scale, digits)


def abs_block(values: Iterable[float] | Samples, scale: float = 1.0) -> Block:
    """The block of |values|."""
    if isinstance(values, Samples):
        top = max(abs(values.max), abs(values.min)) if values.max is not None and values.min is not None else None
        return _block(np.abs(values.values()), top, scale, 3)
    arr = np.abs(np.asarray(list(values), dtype=np.float64))
    return _block(arr, float(arr.max()) if arr.size else None, scale, 3)


def _block(arr: np.ndarray, top: float | None, scale: float, digits: int) -> Block:
    if arr.size == 0 or top is None:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(arr * scale, [50, 95, 99])
    return {"p50": round(float(p50), digits), "p95": round(float(p95), digits),
            "p99": round(float(p99), digits), "max": round(float(top) * scale, digits)}


def plain(value: Any, unit: str = "") -> str:
    """A figure for people: plain notation (never 3.039e+04), thousands separated, about three
    significant digits below 100; "n/a" for None."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, int):
        text = f"{value:,}"
    elif value != value or value in (float("inf"), float("-inf")):
        text = str(value)
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 0.01 or value == 0:
        text = f"{value:.3g}" if abs(value) >= 1 else f"{value:.3f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.6f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".rstrip()
