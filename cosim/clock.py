"""Clock domains and their mapping into session time (docs/architecture.md, "Clocks and time").

Master clock: the syncserver host's CLOCK_MONOTONIC. Session time: ``master_mono - epoch_ns``.
Each process estimates ``offset = master_mono - local_mono`` by NTP-style probes (four
timestamps, keep the minimum round trip of a burst), and foreign clocks (audio DAC, OpenVR
vsync) are mapped by a running linear fit.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass


def monotonic_ns() -> int:
    return time.monotonic_ns()


class LocalClock:
    """This process's monotonic clock. ``skew_ns`` shifts it, so tests can give a process a
    clock whose true offset from the master is known and non-zero."""

    def __init__(self, skew_ns: int = 0) -> None:
        self.skew_ns = skew_ns

    def now_ns(self) -> int:
        return time.monotonic_ns() + self.skew_ns

    def true_offset_ns(self, same_host: bool) -> int | None:
        """master - local when both read this host's CLOCK_MONOTONIC; unknown across hosts."""
        return -self.skew_ns if same_host else None


@dataclass(frozen=True)
class ProbeSample:
    t0: int  # local, client send
    t1: int  # master, server receive
    t2: int  # master, server send
    t3: int  # local, client receive

    @property
    def rtt_ns(self) -> int:
        return (self.t3 - self.t0) - (self.t2 - self.t1)

    @property
    def offset_ns(self) -> int:
        return ((self.t1 - self.t0) + (self.t2 - self.t3)) // 2


class OffsetEstimator:
    """Keeps the minimum-round-trip sample of each probe burst as the current offset estimate."""

    def __init__(self, burst: int = 8) -> None:
        if burst < 1:
            raise ValueError(f"probe burst must be >= 1, got {burst}")
        self.burst = burst
        self._current: list[ProbeSample] = []
        self.best: ProbeSample | None = None
        self.history: list[tuple[int, int, int]] = []  # (local t3, offset, rtt) per burst

    def add(self, sample: ProbeSample) -> bool:
        """Add one probe result; returns True when it completed a burst (estimate updated)."""
        if sample.rtt_ns < 0:
            return False
        self._current.append(sample)
        if len(self._current) < self.burst:
            return False
        best = min(self._current, key=lambda s: s.rtt_ns)
        self._current = []
        self.best = best
        self.history.append((best.t3, best.offset_ns, best.rtt_ns))
        return True

    @property
    def offset_ns(self) -> int | None:
        return self.best.offset_ns if self.best else None

    @property
    def rtt_ns(self) -> int | None:
        return self.best.rtt_ns if self.best else None


class LinearClockFit:
    """Running least-squares fit ``y = a + b·x`` of a foreign clock ``y`` against session time ``x``.

    Inputs are int64 ns; the fit works on values relative to the first sample so that float64 keeps
    sub-ns precision. ``drift_ppm`` is ``(b - 1)·1e6`` when both clocks tick in seconds.
    """

    def __init__(self, window: int = 0) -> None:
        self.window = window  # 0 = all samples
        self._x0: int | None = None
        self._y0: int | None = None
        self._pts: list[tuple[float, float]] = []

    def add(self, x_ns: int, y_ns: int) -> None:
        if self._x0 is None:
            self._x0, self._y0 = x_ns, y_ns
        self._pts.append((float(x_ns - self._x0), float(y_ns - self._y0)))
        if self.window and len(self._pts) > self.window:
            del self._pts[0]

    def __len__(self) -> int:
        return len(self._pts)

    def _coeffs(self) -> tuple[float, float]:
        n = len(self._pts)
        if n == 0:
            raise ValueError("no samples in clock fit")
        if n == 1:
            x, y = self._pts[0]
            return y - x, 1.0
        mx = math.fsum(p[0] for p in self._pts) / n
        my = math.fsum(p[1] for p in self._pts) / n
        sxx = math.fsum((p[0] - mx) ** 2 for p in self._pts)
        if sxx == 0.0:
            return my - mx, 1.0
        sxy = math.fsum((p[0] - mx) * (p[1] - my) for p in self._pts)
        b = sxy / sxx
        return my - b * mx, b

    @property
    def slope(self) -> float:
        return self._coeffs()[1]

    @property
    def drift_ppm(self) -> float:
        return (self.slope - 1.0) * 1e6

    def to_foreign(self, x_ns: int) -> int:
        a, b = self._coeffs()
        return self._y0 + round(a + b * (x_ns - self._x0))

    def to_session(self, y_ns: int) -> int:
        a, b = self._coeffs()
        return self._x0 + round((y_ns - self._y0 - a) / b)

    def residuals_ns(self) -> list[float]:
        a, b = self._coeffs()
        return [y - (a + b * x) for x, y in self._pts]


class StreamingFit:
    """Least-squares slope of ``y`` against ``x`` over a whole session in constant memory (running
    sums, relative to the first point so that float64 keeps its precision)."""

    __slots__ = ("n", "_x0", "_y0", "_sx", "_sy", "_sxx", "_sxy")

    def __init__(self) -> None:
        self.n = 0
        self._x0 = self._y0 = 0
        self._sx = self._sy = self._sxx = self._sxy = 0.0

    def add(self, x_ns: int, y_ns: int) -> None:
        if self.n == 0:
            self._x0, self._y0 = x_ns, y_ns
        x, y = float(x_ns - self._x0), float(y_ns - self._y0)
        self.n += 1
        self._sx += x
        self._sy += y
        self._sxx += x * x
        self._sxy += x * y

    def slope(self) -> float | None:
        """None with fewer than two distinct x."""
        if self.n < 2:
            return None
        sxx = self._sxx - self._sx * self._sx / self.n
        if sxx <= 0.0:
            return None
        return (self._sxy - self._sx * self._sy / self.n) / sxx

    def drift_ppm(self) -> float | None:
        """(slope - 1) in ppm: how much faster ``y`` runs than ``x`` (None without a slope)."""
        b = self.slope()
        return None if b is None else (b - 1.0) * 1e6


def drift_ppm(samples: list[tuple[int, int]]) -> float | None:
    """Slope of offset (ns) against time (ns), in ppm; None with fewer than two distinct times."""
    fit = StreamingFit()
    for x, offset in samples:
        fit.add(x, x + offset)
    return fit.drift_ppm()
