"""The headless display model: a fixed vsync grid plus a stated vsync-to-photon delay.

A frame whose rendering finishes at session time ``ready_ns`` is presented at the first vsync at or
after it; its photons appear ``vsync_to_photon`` later. This is what stands in for OpenVR's
compositor frame timing when no headset exists.
"""
from __future__ import annotations

from dataclasses import dataclass

from client.config import DisplaySettings


@dataclass(frozen=True)
class Presented:
    present_ns: int
    photon_ns: int
    vsync_index: int


class DisplayModel:
    def __init__(self, settings: DisplaySettings) -> None:
        self.period_ns = round(1e9 / settings.refresh_hz)
        self.phase_ns = round(settings.vsync_phase_ms * 1e6)
        self.photon_ns = round(settings.vsync_to_photon_ms * 1e6)
        self.render_ns = round(settings.render_ms * 1e6)
        self.last_vsync: int | None = None
        self.missed_vsyncs = 0  # vsyncs that went by without a new frame (the previous one repeats)
        self.replaced = 0  # frames superseded on the same vsync by a newer one (never seen)

    def vsync_at_or_after(self, t_ns: int) -> int:
        k = -((self.phase_ns - t_ns) // self.period_ns)  # ceil((t - phase) / period)
        return max(k, 0)

    def present(self, ready_ns: int) -> Presented:
        k = self.vsync_at_or_after(ready_ns)
        if self.last_vsync is not None:
            if k <= self.last_vsync:
                self.replaced += 1
            else:
                self.missed_vsyncs += k - self.last_vsync - 1
        self.last_vsync = max(k, self.last_vsync or 0)
        present = self.phase_ns + k * self.period_ns
        return Presented(present, present + self.photon_ns, k)
