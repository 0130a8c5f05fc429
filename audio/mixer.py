"""Sample-exact mixing: one-shot voices that start on an absolute sample index, plus looping
engine sounds whose per-channel gains follow the vehicles (smoothed to avoid zipper noise).

The mixer knows nothing about time: callers convert session time to sample indices.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from audio.sounds import engine_loop

LOOP_VARIANTS = 8


@dataclass
class Voice:
    start: int  # absolute sample index of the sound's first sample
    sound: np.ndarray  # (n, channels) float32
    gains: np.ndarray  # (channels,)

    @property
    def end(self) -> int:
        return self.start + len(self.sound)


class Mixer:
    def __init__(self, sample_rate: int, channels: int, master_gain: float = 1.0, ramp_ms: float = 20.0) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.master_gain = master_gain
        self.ramp_samples = max(1, round(sample_rate * ramp_ms / 1000.0))
        self.voices: list[Voice] = []
        self.clipped = 0  # output samples (per channel) that had to be clipped to [-1, 1]
        self._loops = [engine_loop(sample_rate, v) for v in range(LOOP_VARIANTS)]
        self._loop_gains: dict[int, np.ndarray] = {}

    def add(self, start: int, sound: np.ndarray, gains: np.ndarray | float = 1.0) -> None:
        g = np.broadcast_to(np.asarray(gains, dtype=np.float32), (self.channels,)).copy()
        self.voices.append(Voice(start, sound, g))

    def render(self, start: int, n: int, loop_targets: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
        """Samples [start, start + n) as (n, channels) float32 in [-1, 1]."""
        out = np.zeros((n, self.channels), dtype=np.float32)
        end = start + n
        keep: list[Voice] = []
        for v in self.voices:
            lo, hi = max(start, v.start), min(end, v.end)
            if lo < hi:
                out[lo - start:hi - start] += v.sound[lo - v.start:hi - v.start] * v.gains
            if v.end > end:
                keep.append(v)
        self.voices = keep
        if loop_targets is not None or self._loop_gains:
            self._render_loops(out, start, loop_targets or {})
        if self.master_gain != 1.0:
            out *= self.master_gain
        over = np.abs(out) > 1.0
        if over.any():
            self.clipped += int(over.sum())
            np.clip(out, -1.0, 1.0, out=out)
        return out

    def _render_loops(self, out: np.ndarray, start: int, targets: Mapping[int, np.ndarray]) -> None:
        n = len(out)
        alpha = min(1.0, n / self.ramp_samples)
        ramp = (np.arange(1, n + 1, dtype=np.float32) / n)[:, None]
        zero = np.zeros(self.channels, dtype=np.float32)
        for handle in set(self._loop_gains) | set(targets):
            cur = self._loop_gains.get(handle, zero)
            target = np.asarray(targets.get(handle, zero), dtype=np.float32)
            new = cur + (target - cur) * alpha
            if not cur.any() and not new.any():
                self._loop_gains.pop(handle, None)
                continue
            loop = self._loops[handle % LOOP_VARIANTS]
            idx = (start + np.arange(n)) % len(loop)
            out += loop[idx][:, None] * (cur + (new - cur) * ramp)
            if np.abs(new).max() < 1e-5 and handle not in targets:
                self._loop_gains.pop(handle, None)
            else:
                self._loop_gains[handle] = new
