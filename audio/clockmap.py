"""The stream's DAC clock mapped onto session time, so that onsets land on the right sample.

Each audio callback observes, for the buffer starting at stream sample ``n``:
  - ``session_ns``: session time read on entry to the (Python) callback,
  - ``current_ns``: the stream clock "now" (PortAudio ``currentTime``, read in C before we run),
  - ``dac_ns``: when the buffer's first sample reaches the DAC (``outputBufferDacTime``).

Two lower envelopes remove the one-sided delays in those observations:
  - the DAC time of sample 0, ``anchor = min(dac_ns - n/sr)`` over recent callbacks (PortAudio's
    JACK host API reports ``outputBufferDacTime`` relative to the callback's wake-up, which jitters
    late; the minimum is the buffer's true position on the stream clock). A jump that persists
    (frames lost in an xrun) re-anchors.
  - session time vs. the stream clock: per fit window the observation with the smallest
    ``session_ns - current_ns`` (least delay between PortAudio's timestamp and our clock read)
    becomes one clock point. A ``LinearClockFit`` over the recent points gives the drift (slope,
    held at 1 until the points span ``min_span``); the offset follows the newest points, because a
    stream clock can wander (JACK's dummy driver catching up after the machine stalled it).

Placement extrapolates from the newest points (causal). Measurement, later, interpolates between
the clock points on both sides of an onset (a posteriori), so it does not just repeat the prediction.
"""
from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

from cosim.clock import LinearClockFit

NS = 1_000_000_000
RECENT_POINTS = 2  # points the offset is averaged over


@dataclass(frozen=True)
class ClockSnapshot:
    """An immutable view of the mapping (safe to hand from the audio thread to the main thread)."""

    sample_rate: int
    anchor_ns: float  # stream-clock time of stream sample 0 at the DAC
    ref_session_ns: int
    ref_stream_ns: float
    slope: float  # stream ns per session ns
    points: tuple[tuple[int, int], ...] = ()  # clock points (session, stream), oldest first
    earlier_anchors: tuple[tuple[int, float], ...] = ()  # (first sample, anchor) before each re-anchor

    def stream_of_session(self, t_ns: float) -> float:
        return self.ref_stream_ns + (t_ns - self.ref_session_ns) * self.slope

    def session_of_stream(self, y_ns: float) -> float:
        return self.ref_session_ns + (y_ns - self.ref_stream_ns) / self.slope

    def sample_of_session(self, t_ns: float) -> float:
        return (self.stream_of_session(t_ns) - self.anchor_ns) * self.sample_rate / NS

    def session_of_sample(self, n: float) -> float:
        return self.session_of_stream(self.anchor_ns + n * NS / self.sample_rate)

    def measured_session_of_sample(self, n: float) -> float:
        """Session time of stream sample ``n``, interpolated between the clock points around it."""
        anchor = self.anchor_ns
        for first, a in reversed(self.earlier_anchors):
            if n >= first:
                break
            anchor = a
        y = anchor + n * NS / self.sample_rate
        pts = self.points
        i = bisect.bisect_left(pts, y, key=lambda p: p[1])
        if i == 0 or i == len(pts):
            return self.session_of_stream(y)
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
        return x0 + (y - y0) * (x1 - x0) / (y1 - y0) if y1 > y0 else float(x0)

    @property
    def drift_ppm(self) -> float:
        return (self.slope - 1.0) * 1e6


class StreamClock:
    def __init__(self, sample_rate: int, *, fit_window_ns: int = 100_000_000, fit_points: int = 100,
                 anchor_callbacks: int = 256, rejump_callbacks: int = 4, min_span_ns: int = 4 * NS) -> None:
        self.sample_rate = sample_rate
        self.fit = LinearClockFit(window=fit_points)
        self.fit_window_ns = fit_window_ns
        self.min_span_ns = min_span_ns
        self._anchor_obs: deque[tuple[float, int]] = deque(maxlen=anchor_callbacks)  # (anchor, sample)
        self._earlier_anchors: tuple[tuple[int, float], ...] = ()
        self._rejump = rejump_callbacks
        self._win_start: int | None = None
        self._win_best: tuple[int, int] | None = None  # (session, stream) with the least delay
        self._points: deque[tuple[int, int]] = deque(maxlen=fit_points)
        self._line: tuple[int, float, float] = (0, 0.0, 1.0)  # (ref session, ref stream, slope)
        self._frozen_points: tuple[tuple[int, int], ...] = ()
        self._prediction_errors: list[float] = []
        self.history: list[tuple[int, int]] = []  # every clock point of the session (for the clock log)
        self.snapshot: ClockSnapshot | None = None
        self.discontinuities = 0
        self.observations = 0

    def observe(self, session_ns: int, current_ns: float, dac_ns: float, n: int, frames: int) -> bool:
        """Add one callback's timestamps; returns True when the sample<->DAC anchor jumped (lost frames)."""
        self.observations += 1
        jumped = self._observe_anchor(dac_ns - n * NS / self.sample_rate, n, frames * NS / self.sample_rate)
        self._observe_fit(session_ns, round(current_ns))
        ref_x, ref_y, slope = self._line
        self.snapshot = ClockSnapshot(self.sample_rate, self._anchor(), ref_x, ref_y, slope,
                                      self._frozen_points, self._earlier_anchors)
        return jumped

    def _anchor(self) -> float:
        return min(a for a, _ in self._anchor_obs)

    def _observe_anchor(self, a: float, n: int, period_ns: float) -> bool:
        obs = self._anchor_obs
        obs.append((a, n))
        if len(obs) <= self._rejump:
            return False
        recent = list(obs)[-self._rejump:]
        base = min(a for a, _ in list(obs)[:-self._rejump])
        if min(a for a, _ in recent) - base > 0.5 * period_ns:
            self._earlier_anchors += ((recent[0][1], base),)
            obs.clear()
            obs.extend(recent)
            self.discontinuities += 1
            return True
        return False

    def _observe_fit(self, session_ns: int, stream_ns: int) -> None:
        if self._win_start is None:
            self._win_start = session_ns
        best = self._win_best
        if best is None or session_ns - stream_ns < best[0] - best[1]:
            self._win_best = best = (session_ns, stream_ns)
        if not self._points:  # provisional until the first window closes
            self._line = (best[0], float(best[1]), 1.0)
        if session_ns - self._win_start >= self.fit_window_ns:
            if self._points:
                ref_x, ref_y, slope = self._line
                self._prediction_errors.append(best[1] - (ref_y + (best[0] - ref_x) * slope))
            self.fit.add(*best)
            self._points.append(best)
            self.history.append(best)
            self._frozen_points = tuple(self._points)
            self._line = self._fit_line()
            self._win_start, self._win_best = session_ns, None

    def _fit_line(self) -> tuple[int, float, float]:
        pts = self._points
        slope = self.fit.slope if pts[-1][0] - pts[0][0] >= self.min_span_ns else 1.0
        recent = list(pts)[-RECENT_POINTS:]
        ref_x = recent[-1][0]
        ref_y = sum(y + (ref_x - x) * slope for x, y in recent) / len(recent)
        return ref_x, ref_y, slope

    @property
    def last_point_ns(self) -> int | None:
        """Session time of the newest clock point."""
        return self._points[-1][0] if self._points else None

    def session_fit(self) -> LinearClockFit | None:
        """One line through every clock point of the session (its drift is the session's trend)."""
        if len(self.history) < 2:
            return None
        fit = LinearClockFit()
        for x, y in self.history:
            fit.add(x, y)
        return fit

    @property
    def drift_ppm(self) -> float | None:
        fit = self.session_fit()
        return None if fit is None else fit.drift_ppm

    def local_residuals_ns(self) -> list[float]:
        """Each clock point minus the line the placement used just before it (the prediction error)."""
        return list(self._prediction_errors)
