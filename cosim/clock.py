"""Clock domains and their mapping into session time (docs/architecture.md, "Clocks and time").

Master clock: the syncserver host's CLOCK_MONOTONIC. Session time: ``master_mono - epoch_ns``.
Each process estimates ``offset = master_mono - local_mono`` by NTP-style probes (four
timestamps, keep the minimum round trip of a burst), and foreign clocks (audio DAC, OpenVR
vsync) are mapped by a running linear fit.
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass


def monotonic_ns() -> int:
    return time.monotonic_ns()


FAKE_PPM_ENV = "COSIM_FAKE_CLOCK_PPM"


def timens_monotonic_offset_ns(pid: int | str = "self") -> int | None:
    """How far a process's CLOCK_MONOTONIC is set ahead of the host's by its time namespace, as the
    kernel says (``/proc/PID/timens_offsets``, Linux 5.6+); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/timens_offsets") as f:
            for line in f:
                name, secs, nsecs = line.split()
                if name in ("monotonic", "1"):  # a name on Linux 5.6+, the clock id on some kernels
                    return int(secs) * 1_000_000_000 + int(nsecs)
    except (OSError, ValueError):
        return None
    return None


class LocalClock:
    """This process's monotonic clock. ``skew_ns`` shifts it and ``ppm`` makes it run fast (a FAKE
    clock for tests: a process whose offset from the master is known, or drifts at a known rate).
    ``from_env`` gives the fake drift to a whole process (``COSIM_FAKE_CLOCK_PPM``)."""

    def __init__(self, skew_ns: int = 0, ppm: float = 0.0) -> None:
        self.skew_ns = skew_ns
        self.ppm = ppm
        self._start = time.monotonic_ns()

    @classmethod
    def from_env(cls) -> LocalClock:
        ppm = float(os.environ.get(FAKE_PPM_ENV) or 0.0)
        if ppm:
            logging.getLogger("cosim.clock").warning(
                "FAKE clock: this process's clock runs %+g ppm against CLOCK_MONOTONIC (%s)", ppm, FAKE_PPM_ENV)
        return cls(ppm=ppm)

    def now_ns(self) -> int:
        t = time.monotonic_ns()
        if self.ppm:
            return t + self.skew_ns + round((t - self._start) * self.ppm * 1e-6)
        return t + self.skew_ns

    def true_offset_ns(self, same_host: bool) -> int | None:
        """master - local when both read this host's CLOCK_MONOTONIC (same host, no time namespace
        here, no drift); otherwise unknown to this process."""
        if not same_host or self.ppm or timens_monotonic_offset_ns() not in (0, None):
            return None
        return -self.skew_ns


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
    """The offset estimate of each probe burst: the interquartile mean of the offsets of its faster
    half (by round trip): their mean without the quarter farthest on either side.

    The faster half drops the probes that waited behind a busy scheduler or a queue (one-sided
    delays that would bias the offset); the interquartile mean of what is left shrinks the
    symmetric jitter of the path (a LAN, a relay) by about the square root of its size, where the single fastest probe
    keeps all of it (tests/multihost: p99 error 220 us with one probe, 0.5 ms +- 0.1 ms each way),
    and stays put when a few of the faster half were delayed on one side all the same (a loaded
    machine), which a plain mean would follow."""

    def __init__(self, burst: int = 8) -> None:
        if burst < 1:
            raise ValueError(f"probe burst must be >= 1, got {burst}")
        self.burst = burst
        self._current: list[ProbeSample] = []
        self._offset: int | None = None
        self._rtt: int | None = None
        self._bound: int | None = None
        self.bursts = 0  # completed

    def add(self, sample: ProbeSample) -> bool:
        """Add one probe result; returns True when it completed a burst (estimate updated)."""
        if sample.rtt_ns < 0:
            return False
        self._current.append(sample)
        if len(self._current) < self.burst:
            return False
        fast = sorted(self._current, key=lambda s: s.rtt_ns)[:(self.burst + 1) // 2]
        self._current = []
        offsets = sorted(s.offset_ns for s in fast)
        k = len(offsets) // 4
        middle = offsets[k:len(offsets) - k]
        self._offset = sum(middle) // len(middle)
        self._rtt = fast[0].rtt_ns
        self._bound = fast[-1].rtt_ns // 2
        self.bursts += 1
        return True

    @property
    def offset_ns(self) -> int | None:
        return self._offset

    @property
    def rtt_ns(self) -> int | None:
        """The burst's smallest round trip."""
        return self._rtt

    @property
    def bound_ns(self) -> int | None:
        """How far the estimate can be from the truth whatever the path's asymmetry: a sample's
        true offset lies within half its round trip of its offset, so any mean of the faster half
        within half the slowest round trip among them."""
        return self._bound


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
