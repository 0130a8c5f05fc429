"""Event sounds: synthesized ones, and files read with soundfile (resampled to the stream rate).

Every sound is a float32 array of shape (n, channels). A synthesized sound starts at full
amplitude on its first sample, so its onset is visible on the exact sample it was placed at.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import soundfile as sf

from audio.config import SoundSpec, SynthName
from audio.errors import SoundFileError

log = logging.getLogger(__name__)

MAX_SOUND_S = 30.0

# What plays for each event kind when the config names no sound for it.
DEFAULT_SYNTH: dict[str, SynthName] = {
    "click": "click",
    "depart": "engine_start",
    "arrive": "chime",
    "emergency_braking": "squeal",
    "collision": "crash",
    "tls_phase": "beep",
    "horn": "horn",
}


def _t(sr: int, seconds: float) -> np.ndarray:
    return np.arange(round(sr * seconds), dtype=np.float64) / sr


def _noise(sr: int, seconds: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, round(sr * seconds))


def _decay(t: np.ndarray, tau_s: float) -> np.ndarray:
    return np.exp(-t / tau_s)


def synth_click(sr: int) -> np.ndarray:
    t = _t(sr, 0.01)
    return np.cos(2 * np.pi * 2000.0 * t) * _decay(t, 0.0015)


def synth_engine_start(sr: int) -> np.ndarray:
    t = _t(sr, 0.8)
    f = 35.0 + 45.0 * (1 - np.exp(-t / 0.25))  # revving up
    phase = 2 * np.pi * np.cumsum(f) / sr
    body = 0.6 * np.sign(np.sin(phase)) * 0.5 + 0.5 * np.sin(2 * phase)
    env = np.minimum(1.0, 0.3 + t / 0.05) * np.minimum(1.0, (t[-1] - t) / 0.1 + 1e-3)
    return body * env


def synth_chime(sr: int) -> np.ndarray:
    t = _t(sr, 0.5)
    return (0.6 * np.cos(2 * np.pi * 880.0 * t) + 0.4 * np.cos(2 * np.pi * 1320.0 * t)) * _decay(t, 0.15)


def synth_squeal(sr: int) -> np.ndarray:
    t = _t(sr, 0.7)
    tone = np.cos(2 * np.pi * (2400.0 + 300.0 * np.sin(2 * np.pi * 7.0 * t)) * t)
    return (0.7 * tone + 0.3 * _noise(sr, 0.7, 1)) * np.minimum(1.0, (t[-1] - t) / 0.2 + 1e-3)


def synth_crash(sr: int) -> np.ndarray:
    t = _t(sr, 1.0)
    noise = _noise(sr, 1.0, 2)
    low = np.convolve(noise, np.ones(8) / 8, mode="same")
    return (0.6 * noise + 0.8 * low) * _decay(t, 0.18)


def synth_beep(sr: int) -> np.ndarray:
    t = _t(sr, 0.12)
    return np.sin(2 * np.pi * 1000.0 * t + np.pi / 2) * np.minimum(1.0, (t[-1] - t) / 0.01 + 1e-3)


def synth_horn(sr: int) -> np.ndarray:
    t = _t(sr, 0.45)
    two_tone = 0.5 * np.sign(np.sin(2 * np.pi * 420.0 * t + 0.5)) + 0.5 * np.sign(np.sin(2 * np.pi * 500.0 * t + 0.5))
    return 0.7 * two_tone * np.minimum(1.0, (t[-1] - t) / 0.03 + 1e-3)


SYNTHS: dict[str, Callable[[int], np.ndarray]] = {
    "click": synth_click, "engine_start": synth_engine_start, "chime": synth_chime,
    "squeal": synth_squeal, "crash": synth_crash, "beep": synth_beep, "horn": synth_horn,
}
# Level of each synthesized sound at gain 1 (a click is a full-scale test signal; a busy scene
# starts many engines, so those are quiet).
SYNTH_LEVEL: dict[str, float] = {
    "click": 1.0, "engine_start": 0.15, "chime": 0.3, "squeal": 0.4, "crash": 0.7, "beep": 0.3, "horn": 0.5,
}


def engine_loop(sr: int, variant: int, seconds: float = 1.0) -> np.ndarray:
    """A seamless 1 s engine hum (integer frequencies, so it loops without a click); mono."""
    t = _t(sr, seconds)
    f0 = 30 + 4 * (variant % 8)
    return (0.5 * np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(2 * np.pi * 2 * f0 * t + 1.0)
            + 0.2 * np.sin(2 * np.pi * 3 * f0 * t + 2.0)).astype(np.float32)


def to_channels(mono_or_multi: np.ndarray, channels: int) -> np.ndarray:
    x = np.asarray(mono_or_multi, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[1] == channels:
        return np.ascontiguousarray(x)
    mono = x.mean(axis=1, keepdims=True)
    return np.ascontiguousarray(np.repeat(mono, channels, axis=1))


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    if src_rate == dst_rate:
        return x
    from scipy.signal import resample_poly
    g = gcd(src_rate, dst_rate)
    return resample_poly(x, dst_rate // g, src_rate // g, axis=0).astype(np.float32)


def load_sound_file(path: str | Path, sample_rate: int, channels: int) -> np.ndarray:
    """Read a sound file into (n, channels) float32 at ``sample_rate``; SoundFileError names the file."""
    path = Path(path)
    if not path.is_file():
        raise SoundFileError(f"sound file {str(path)!r} does not exist")
    try:
        info = sf.info(str(path))
        if info.frames <= 0:
            raise SoundFileError(f"sound file {str(path)!r} holds no audio frames")
        if info.duration > MAX_SOUND_S:
            raise SoundFileError(f"sound file {str(path)!r} is {info.duration:.1f} s long (max {MAX_SOUND_S:.0f} s)")
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except SoundFileError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise SoundFileError(f"sound file {str(path)!r} is not a readable sound file: {exc}") from None
    if not np.all(np.isfinite(data)):
        raise SoundFileError(f"sound file {str(path)!r} contains NaN or infinite samples")
    return to_channels(resample(data, int(rate), sample_rate), channels)


@dataclass
class SoundBank:
    """Event kind -> ready-to-mix sound. A file that cannot be loaded is reported (``errors``) and
    its kind falls back to a synthesized sound, so the process keeps running."""

    sample_rate: int
    channels: int
    sounds: dict[str, np.ndarray] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    unknown_kinds: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, specs: Mapping[str, SoundSpec], sample_rate: int, channels: int) -> SoundBank:
        bank = cls(sample_rate, channels)
        for kind, synth in DEFAULT_SYNTH.items():
            bank.sounds[kind] = bank.synth(synth)
        for kind, spec in specs.items():
            bank.configure(kind, spec)
        return bank

    def synth(self, name: str, gain: float = 1.0) -> np.ndarray:
        return to_channels(SYNTHS[name](self.sample_rate) * (SYNTH_LEVEL[name] * gain), self.channels)

    def configure(self, kind: str, spec: SoundSpec) -> None:
        fallback = spec.synth or DEFAULT_SYNTH.get(kind, "beep")
        if spec.file is not None:
            try:
                self.sounds[kind] = load_sound_file(spec.file, self.sample_rate, self.channels) * spec.gain
                return
            except SoundFileError as exc:
                msg = f"sounds.{kind}: {exc}; playing the synthesized {fallback!r} instead"
                log.error("%s", msg)
                self.errors.append(msg)
        self.sounds[kind] = self.synth(fallback, spec.gain)

    def get(self, kind: str) -> np.ndarray | None:
        sound = self.sounds.get(kind)
        if sound is None:
            self.unknown_kinds[kind] = self.unknown_kinds.get(kind, 0) + 1
        return sound
