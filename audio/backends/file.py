"""The file backend: the session's audio rendered to a WAV file, sample n = session time n / rate.

Rendering trails session time by ``render_lag`` so events that arrive up to that late still land
on their exact sample; an event later than that starts on the next unwritten sample (late).
"""
from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import soundfile as sf

from audio.backends.base import Measured
from audio.errors import AudioBackendError
from audio.mixer import Mixer
from audio.scheduler import OnsetQueue, place_due

log = logging.getLogger(__name__)

NS = 1_000_000_000
BLOCK = 4096


def sample_of(t_ns: int, sample_rate: int) -> int:
    """The sample a session time falls on (round half up, exact integer arithmetic)."""
    return (t_ns * sample_rate + NS // 2) // NS


def session_of(sample: int, sample_rate: int) -> int:
    return (sample * NS + sample_rate // 2) // sample_rate


SFC_SET_UPDATE_HEADER_AUTO = 0x1061  # sndfile.h


class FileBackend:
    name = "file"

    def __init__(self, path: Path, mixer: Mixer, *, subtype: str = "PCM_16", render_lag_ns: int = 250_000_000) -> None:
        self.path = Path(path)
        self.mixer = mixer
        self.rate = mixer.sample_rate
        self.subtype = subtype
        self.lag_ns = render_lag_ns
        self.queue = OnsetQueue()
        self.written = 0
        self._loops: deque[tuple[int, Mapping[int, np.ndarray]]] = deque()
        self._measured: list[Measured] = []
        self._file: sf.SoundFile | None = None

    def start(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = sf.SoundFile(str(self.path), "w", samplerate=self.rate, channels=self.mixer.channels,
                                      subtype=self.subtype, format="WAV")
        except (OSError, sf.LibsndfileError, RuntimeError) as exc:
            raise AudioBackendError(f"cannot open {str(self.path)!r} for writing: {exc}") from None
        # libsndfile writes a WAV's sizes only on close: a process killed before leaves a header that
        # says "no data". Have it rewrite the header after every write instead.
        sf._snd.sf_command(self._file._file, SFC_SET_UPDATE_HEADER_AUTO, sf._ffi.NULL, 1)

    def submit(self, t_ns: int, kind: str, sound: np.ndarray, gains: np.ndarray | float) -> None:
        self.queue.push(t_ns, kind, sound, gains)

    def set_loops(self, t_ns: int, targets: Mapping[int, np.ndarray]) -> None:
        self._loops.append((t_ns, targets))

    def _loops_at(self, t_ns: int) -> Mapping[int, np.ndarray] | None:
        """The latest vehicle gains stamped at or before ``t_ns`` (older ones are dropped)."""
        while len(self._loops) > 1 and self._loops[1][0] <= t_ns:
            self._loops.popleft()
        if self._loops and self._loops[0][0] <= t_ns:
            return self._loops[0][1]
        return None

    def advance(self, now_ns: int) -> None:
        self.render_to(sample_of(now_ns - self.lag_ns, self.rate))

    def reset_clock(self) -> None:
        pass  # sample n is session time n / rate by definition

    def render_to(self, target: int) -> None:
        if self._file is None:
            return
        while self.written < target:
            n = min(BLOCK, target - self.written)
            start = self.written
            for pl in place_due(self.queue, self.mixer, start, n, session_of(start + n, self.rate),
                                lambda t: sample_of(t, self.rate)):
                self._measured.append(Measured(pl.onset.kind, pl.onset.t_ns, session_of(pl.sample, self.rate),
                                               pl.late, pl.sample))
            block = self.mixer.render(start, n, self._loops_at(session_of(start, self.rate)))
            self._file.write(block)
            self.written += n

    def drain(self, flush: bool = False) -> list[Measured]:
        out, self._measured = self._measured, []
        return out

    def close(self, end_ns: int | None) -> None:
        if self._file is None:
            return
        try:
            if end_ns is not None:
                self.render_to(sample_of(end_ns, self.rate))
        finally:
            self._file.close()
            self._file = None
            log.info("wrote %s: %d samples (%.3f s) at %d Hz", self.path, self.written,
                     self.written / self.rate, self.rate)

    def summary(self) -> dict[str, Any]:
        return {"backend": self.name, "xruns": 0, "drift_ppm": 0.0, "wav": str(self.path),
                "samples": self.written, "pending": len(self.queue)}
