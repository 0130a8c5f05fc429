"""OpenVR's clocks mapped into session time by running linear fits (docs/architecture.md, "Clocks and time").

- The vsync clock: ``getTimeSinceLastVsync`` gives (seconds since the last vsync, frame counter).
  Each new counter value yields one point (session time of that vsync, counter × nominal period);
  the fit then places any vsync index in session time and measures the display's drift.
- The compositor clock: ``Compositor_FrameTiming.m_flSystemTimeInSeconds`` (the vsync a frame's
  timing is relative to) is fitted against the session time of the same frame index's vsync.
"""
from __future__ import annotations

from typing import Any

from cosim.clock import LinearClockFit
from cosim.stats import abs_block


class VsyncClock:
    def __init__(self, period_ns: int, window: int = 256) -> None:
        self.period_ns = period_ns
        self.fit = LinearClockFit(window)
        self.last_counter: int | None = None
        self._next_vsync_ns: int | None = None
        self.residuals: list[float] = []

    def observe(self, now_ns: int, since_vsync_s: float, counter: int) -> bool:
        """Add the vsync seen at ``now - since_vsync``; returns True when it was a new vsync."""
        if counter == self.last_counter:
            return False
        vsync_ns = now_ns - round(since_vsync_s * 1e9)
        if len(self.fit) >= 2:
            self.residuals.append(vsync_ns - self.vsync_ns(counter))
        self.fit.add(vsync_ns, counter * self.period_ns)
        self.last_counter = counter
        self._next_vsync_ns = self.vsync_ns(counter + 1)
        return True

    def vsync_ns(self, counter: int) -> int:
        """Session time of vsync number ``counter``."""
        return self.fit.to_session(counter * self.period_ns)

    def next_vsync_ns(self, now_ns: int) -> int | None:
        """The first vsync after ``now`` (session time), None before the first observation."""
        t = self._next_vsync_ns
        if t is None:
            return None
        if t <= now_ns:
            t += -(-(now_ns - t + 1) // self.period_ns) * self.period_ns
        return t

    def stats(self) -> dict[str, Any]:
        return {"vsyncs": len(self.residuals) + min(len(self.fit), 2),
                "drift_ppm": round(self.fit.drift_ppm, 3) if len(self.fit) >= 2 else None,
                "fit_residual_us": abs_block(self.residuals, 1e-3)}


class CompositorClock:
    """Maps the compositor's system-time seconds into session time via the vsync clock."""

    def __init__(self, window: int = 256) -> None:
        self.fit = LinearClockFit(window)
        self.last_frame: int | None = None

    def observe(self, frame_index: int, system_time_s: float, vsync_session_ns: int) -> bool:
        if frame_index == self.last_frame:
            return False
        self.fit.add(vsync_session_ns, round(system_time_s * 1e9))
        self.last_frame = frame_index
        return True

    def to_session(self, system_time_s: float) -> int:
        return self.fit.to_session(round(system_time_s * 1e9))

    @property
    def drift_ppm(self) -> float | None:
        return round(self.fit.drift_ppm, 3) if len(self.fit) >= 2 else None
