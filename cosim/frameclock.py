"""The frame clock: the one definition of frame k's times (docs/architecture.md "The frame clock").

- ``content_ns(k)``: where frame k is on the content timeline, ``floor(k · period)`` with the exact
  period (1e9 / rate_hz as a fraction). Simulations advance by it (SUMO's sim time is a scaled
  content time), so a frame always covers one period of content, whatever the pace.
- ``t_ns(k)``: frame k's scheduled session time, ``floor(k · period / pace)``: in realtime pace is
  1; in lockstep ``pace`` slows or speeds the schedule. TICK k carries it as ``t_ns``, and every
  producer stamps its frame-k data (VEHICLES, EVENTS, RESIDUALS, ...) with that same value.
- Unpaced lockstep (``pace: 0``) has no schedule: TICK k carries its emission time, known only
  when it is sent, so ``t_ns`` returns None and frame-k data takes the value from TICK k.

Everyone builds it from WELCOME (``FrameClock.from_welcome``); the syncserver from its settings.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from cosim import protocol as p

DENOMINATOR_LIMIT = 10**6  # rate_hz and pace are read as fractions with denominators up to this


@dataclass(frozen=True)
class FrameClock:
    rate_hz: float
    mode: str = "realtime"
    pace: float = 1.0
    period: Fraction = field(init=False)  # ns of content per frame, exact
    speed: Fraction | None = field(init=False)  # content ns per session ns; None: unpaced lockstep

    def __post_init__(self) -> None:
        if not self.rate_hz > 0:
            raise ValueError(f"rate_hz must be > 0, got {self.rate_hz}")
        object.__setattr__(self, "period",
                           Fraction(10**9) / Fraction(self.rate_hz).limit_denominator(DENOMINATOR_LIMIT))
        speed: Fraction | None = Fraction(1)
        if self.mode == "lockstep":
            speed = Fraction(self.pace).limit_denominator(DENOMINATOR_LIMIT) if self.pace > 0 else None
        object.__setattr__(self, "speed", speed)

    @classmethod
    def from_welcome(cls, w: p.Welcome) -> FrameClock:
        return cls(w.rate_hz, w.mode, w.pace)

    @property
    def paced(self) -> bool:
        return self.speed is not None

    @property
    def dt_ns(self) -> int:
        """The period rounded to whole ns (TICK's ``dt_ns``); never multiply it by a frame index."""
        return round(self.period)

    def content_ns(self, k: int) -> int:
        return math.floor(k * self.period)

    def t_ns(self, k: int) -> int | None:
        """Scheduled session time of frame k; None in unpaced lockstep (TICK k then carries it)."""
        if self.speed is None:
            return None
        return math.floor(k * self.period / self.speed)

    def frame_of_content(self, content_ns: int) -> int:
        """The first frame whose content time is at or after ``content_ns`` (the frame an event at
        that content time belongs to)."""
        return max(0, math.ceil(content_ns / self.period))

    def frame_at(self, session_ns: int) -> int | None:
        """The first frame whose scheduled time is at or after ``session_ns``; None when unpaced."""
        if self.speed is None:
            return None
        k = max(0, math.ceil(session_ns * self.speed / self.period))
        while self.t_ns(k) < session_ns:  # type: ignore[operator]  (floor rounding: at most a step)
            k += 1
        while k > 0 and self.t_ns(k - 1) >= session_ns:  # type: ignore[operator]
            k -= 1
        return k

    def session_of_content(self, content_ns: int) -> int | None:
        """The session time at which content time ``content_ns`` is due; None when unpaced."""
        if self.speed is None:
            return None
        return math.floor(content_ns / self.speed)

    def content_of_session(self, session_ns: int) -> int | None:
        """The content time due at session time ``session_ns``; None when unpaced."""
        if self.speed is None:
            return None
        return math.floor(session_ns * self.speed)
