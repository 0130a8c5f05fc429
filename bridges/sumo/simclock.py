"""Maps a frame's content time (cosim.frameclock: ``content_ns(k)``) to simulation time:
``sim = sim0 + (t - t0) * scale``, with pause (scale 0 until resumed) and seek (a new anchor).
Without either, sim_ns(frame k) = start_ns + content_ns(k) * time_scale."""
from __future__ import annotations


class SimClock:
    def __init__(self, start_ns: int, time_scale: float = 1.0) -> None:
        self.t0 = 0
        self.sim0 = start_ns
        self.scale = time_scale
        self.paused = False

    def sim_at(self, t_ns: int) -> int:
        if self.paused:
            return self.sim0
        return self.sim0 + round((t_ns - self.t0) * self.scale)

    def session_at(self, sim_ns: int) -> int | None:
        """Session time at which ``sim_ns`` is (or was) shown; None while paused."""
        if self.paused:
            return None
        return self.t0 + round((sim_ns - self.sim0) / self.scale)

    def pause(self, t_ns: int) -> None:
        if not self.paused:
            self.sim0, self.t0, self.paused = self.sim_at(t_ns), t_ns, True

    def resume(self, t_ns: int) -> None:
        if self.paused:
            self.t0, self.paused = t_ns, False

    def seek(self, t_ns: int, sim_ns: int) -> None:
        self.sim0, self.t0 = sim_ns, t_ns

    def set_speed(self, t_ns: int, scale: float) -> None:
        """From ``t_ns`` on, ``scale`` sim seconds per session second (the past keeps its times)."""
        if not self.paused:
            self.sim0, self.t0 = self.sim_at(t_ns), t_ns
        self.scale = scale
