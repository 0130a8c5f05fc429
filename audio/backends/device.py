"""The device backend: a PortAudio output stream (any host API; JACK's dummy driver without a
sound card) whose callback places each onset on the sample that reaches the DAC at its session time.

Everything the callback touches is either owned by the audio thread (the onset heap, the mixer,
the stream clock) or handed over atomically (a deque of onsets in, a deque of placements out, and
the vehicle gains replaced as a whole).
"""
from __future__ import annotations

import csv
import heapq
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from audio.backends.base import Measured
from audio.clockmap import NS, StreamClock
from audio.config import DeviceBackendSettings
from audio.errors import AudioBackendError
from audio.jack import JACK_HOSTAPI, JackServer, hostapi_index, use_jack_server
from audio.mixer import Mixer
from audio.scheduler import OnsetQueue, Placed, place_due
from cosim.stats import percentile_block
from cosim.timing import realtime_priority

log = logging.getLogger(__name__)


class DeviceBackend:
    def __init__(self, settings: DeviceBackendSettings, mixer: Mixer, session_clock: Callable[[], int], *,
                 jack: bool = False, tap_s: float = 0.0) -> None:
        self.settings = settings
        self.mixer = mixer
        self.rate = mixer.sample_rate
        self.session_clock = session_clock
        self.jack = jack
        self.name = "jack" if jack else "device"
        self.queue = OnsetQueue()
        self.clock = self._new_clock()
        self._reset = False
        self.samples = 0
        self.callbacks = 0
        self.xruns = 0
        self.underflow_flags = 0
        self.callback_errors = 0
        self.no_dac_time = 0
        self.max_callback_ns = 0
        self.stream: Any = None
        self.server: JackServer | None = None
        self.device_name = ""
        self.latency_ms: float | None = None
        self.jack_server_name: str | None = None
        self.main_thread_rt = False
        self._last_flag_callback = -1000
        self.settle_ns = 2 * round(settings.fit_window_s * NS)  # a clock point on each side
        self._closed = False
        self._loops: Mapping[int, np.ndarray] | None = None
        self._placed: deque[Placed] = deque()
        self._baseline_heap: list[tuple[int, int]] = []  # (t_ns, seq) waiting for the naive trigger
        self._baseline_in: deque[tuple[int, int]] = deque()
        self._baseline: dict[int, int] = {}
        self._tap_left = round(tap_s * self.rate)
        self.tap: list[tuple[int, np.ndarray]] = []  # (first sample index, block) for tests

    def _new_clock(self) -> StreamClock:
        return StreamClock(self.rate, fit_window_ns=round(self.settings.fit_window_s * NS),
                           fit_points=self.settings.fit_points)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        os.environ.setdefault("JACK_NO_START_SERVER", "1")  # PortAudio probing JACK must not spawn a server
        import sounddevice as sd
        hostapi = self.settings.hostapi
        if self.jack:
            hostapi = hostapi or JACK_HOSTAPI
            js = self.settings.jack
            if js.start:
                self.server = JackServer(js.server_name or None, rate=self.rate, period=js.period,
                                         timeout_s=js.start_timeout_s)
                self.server.start()
                self.jack_server_name = self.server.name
                use_jack_server(self.server.name)
            elif js.server_name:
                use_jack_server(js.server_name)
                self.jack_server_name = js.server_name
        try:
            device = self._device(sd, hostapi)
            self.device_name = sd.query_devices(device)["name"]
            self.stream = sd.OutputStream(device=device, samplerate=self.rate, channels=self.mixer.channels,
                                          dtype="float32", blocksize=self.settings.blocksize,
                                          latency=self.settings.latency, callback=self._callback)
            self.stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._shutdown()
            raise AudioBackendError(f"cannot open audio output on host API {hostapi or 'default'!r}: {exc}") from None
        except AudioBackendError:
            self._shutdown()
            raise
        self.latency_ms = round(self.stream.latency * 1e3, 3)
        self.main_thread_rt = realtime_priority(self.settings.main_thread_rt_priority,
                                                "the audio callback may wait for the GIL under load")
        log.info("audio stream on %r: %d Hz, %d ch, output latency %.1f ms", self.device_name, self.rate,
                 self.mixer.channels, self.stream.latency * 1e3)


    def _device(self, sd: Any, hostapi: str | None) -> int | str | None:
        if hostapi is None:
            return self.settings.device
        api = sd.query_hostapis(hostapi_index(hostapi))
        if self.settings.device is not None:
            return self.settings.device
        if api["default_output_device"] < 0:
            raise AudioBackendError(f"host API {api['name']!r} has no output device"
                                    + (" (is a JACK server running? set device.jack.start: true)" if self.jack else ""))
        return api["default_output_device"]

    def close(self, end_ns: int | None) -> None:
        self._shutdown()
        self._closed = True

    def _shutdown(self) -> None:
        import sounddevice as sd
        if self.stream is not None:
            try:
                self.stream.stop()
                self.stream.close()
            except sd.PortAudioError as exc:
                log.warning("closing the audio stream: %s", exc)
            self.stream = None
        if self.server is not None:
            sd._terminate()  # noqa: SLF001 - PortAudio must let go of JACK before the server stops
            self.server.stop()
            self.server = None
            sd._initialize()  # noqa: SLF001

    # --- main thread ----------------------------------------------------------------------

    def submit(self, t_ns: int, kind: str, sound: np.ndarray, gains: np.ndarray | float) -> None:
        onset = self.queue.push(t_ns, kind, sound, gains)
        self._baseline_in.append((onset.t_ns, onset.seq))

    def set_loops(self, t_ns: int, targets: Mapping[int, np.ndarray]) -> None:
        self._loops = targets

    def advance(self, now_ns: int) -> None:
        pass

    def reset_clock(self) -> None:
        """Session time was redefined (the epoch arrived): start a new clock fit in the next callback."""
        self._reset = True

    def drain(self, flush: bool = False) -> list[Measured]:
        """Measured onsets, each once the clock fit has a point ``settle`` after it (so its DAC time
        is mapped by observations from both sides of it, not by the prediction that placed it)."""
        clock = self.clock
        snap, last = clock.snapshot, clock.last_point_ns
        out: list[Measured] = []
        while self._placed and snap is not None and last is not None:
            if not (flush or self._closed) and self._placed[0].onset.t_ns > last - self.settle_ns:
                break
            pl = self._placed.popleft()
            base = self._baseline.pop(pl.onset.seq, None)
            out.append(Measured(pl.onset.kind, pl.onset.t_ns, round(snap.measured_session_of_sample(pl.sample)), pl.late,
                                pl.sample, None if base is None else round(snap.measured_session_of_sample(base))))
        return out

    # --- audio thread ---------------------------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        t_enter = time.perf_counter_ns()
        session_ns = self.session_clock()
        n0 = self.samples
        self.samples += frames
        self.callbacks += 1
        try:
            self._fill(outdata, frames, n0, session_ns, time_info, status)
        except Exception:  # noqa: BLE001 - never let an exception kill the stream; count and go on
            self.callback_errors += 1
            if self.callback_errors <= 3:
                log.exception("audio callback failed; writing silence")
            outdata.fill(0)
        self.max_callback_ns = max(self.max_callback_ns, time.perf_counter_ns() - t_enter)

    def _fill(self, outdata: np.ndarray, frames: int, n0: int, session_ns: int, time_info: Any, status: Any) -> None:
        current = time_info.currentTime * NS
        dac = time_info.outputBufferDacTime * NS
        if dac == 0.0:  # the host API gave no DAC time (e.g. an unconnected JACK port)
            self.no_dac_time += 1
            dac = current
        if self._reset:
            self.clock, self._reset = self._new_clock(), False
        jumped = self.clock.observe(session_ns, current, dac, n0, frames)
        # an xrun: PortAudio flags it, or lost frames show up as a jump of the DAC anchor (which is
        # seen a few callbacks after a flagged one: not counted twice)
        if status.output_underflow:
            self.underflow_flags += 1
            self.xruns += 1
            self._last_flag_callback = self.callbacks
        elif jumped and self.callbacks - self._last_flag_callback > 8:
            self.xruns += 1
        snap = self.clock.snapshot
        for pl in place_due(self.queue, self.mixer, n0, frames, snap.session_of_sample(n0 + frames),
                            lambda t: round(snap.sample_of_session(t))):
            self._placed.append(pl)
        self._naive_trigger(session_ns, n0)
        block = self.mixer.render(n0, frames, self._loops)
        outdata[:] = block
        if self._tap_left > 0:
            self.tap.append((n0, block.copy()))
            self._tap_left -= frames

    def _naive_trigger(self, session_ns: int, n0: int) -> None:
        """Baseline: where a player without the DAC clock fit (start each sound at the first
        callback that runs at or after its time) would have put each onset."""
        while self._baseline_in:
            heapq.heappush(self._baseline_heap, self._baseline_in.popleft())
        heap = self._baseline_heap
        while heap and heap[0][0] <= session_ns:
            _, seq = heapq.heappop(heap)
            self._baseline[seq] = n0

    def write_clock_log(self, path: Path) -> None:
        """The DAC clock points (session ns, stream ns) and the final line, one row each (CSV)."""
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(("session_ns", "stream_ns", "offset_ns"))
            for x, y in self.clock.history:
                w.writerow((x, y, y - x))

    def summary(self) -> dict[str, Any]:
        snap = self.clock.snapshot
        return {
            "backend": self.name, "device": self.device_name, "xruns": self.xruns,
            "underflow_flags": self.underflow_flags, "discontinuities": self.clock.discontinuities,
            "drift_ppm": None if self.clock.drift_ppm is None else round(self.clock.drift_ppm, 3),
            "callbacks": self.callbacks, "callback_errors": self.callback_errors,
            "callback_max_ms": round(self.max_callback_ns / 1e6, 3),
            "no_dac_time_callbacks": self.no_dac_time, "samples": self.samples,
            "block_frames": round(self.samples / self.callbacks) if self.callbacks else None,
            "output_latency_ms": self.latency_ms,
            "clock_points": len(self.clock.history),
            "clock_prediction_error_us": percentile_block(np.abs(self.clock.local_residuals_ns()), 1e-3),
            "dac_anchor_ms": None if snap is None else round(snap.anchor_ns / 1e6, 3),
            "jack_server": self.jack_server_name,
            "main_thread_realtime": self.main_thread_rt,
            "pending": len(self.queue),
        }
