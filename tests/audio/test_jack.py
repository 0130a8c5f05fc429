"""PortAudio on JACK's dummy driver (a real clocked stream without a sound card): onsets land within
1 ms of their session time as measured on the stream's DAC clock; late ones are counted."""
from __future__ import annotations

import time

import numpy as np
import pytest

from audio.backends.device import DeviceBackend
from audio.config import DeviceBackendSettings
from audio.jack import JACK_HOSTAPI, JackServer
from audio.mixer import Mixer
from audio.sounds import SoundBank

SR = 48000
MS = 1_000_000


def test_sounddevice_sees_the_jack_host_api(jack_server: JackServer) -> None:
    import sounddevice as sd
    apis = [a["name"] for a in sd.query_hostapis()]
    assert JACK_HOSTAPI in apis, apis
    jack = sd.query_hostapis(apis.index(JACK_HOSTAPI))
    assert jack["default_output_device"] >= 0


def click_onsets(tap: list[tuple[int, np.ndarray]], threshold: float = 0.5, gap: int = 1000) -> list[int]:
    first = tap[0][0]
    x = np.concatenate([b[:, 0] for _, b in tap])
    idx = np.flatnonzero(np.abs(x) > threshold)
    return [first + int(i) for k, i in enumerate(idx) if k == 0 or i - idx[k - 1] > gap]


def run_clicks(n: int = 40) -> tuple[DeviceBackend, list[int]]:
    """Clicks at known session times (off any buffer or sample grid), one late event at the end."""
    epoch = time.monotonic_ns()
    mixer = Mixer(SR, 2)
    click = SoundBank(SR, 2).synth("click")
    backend = DeviceBackend(DeviceBackendSettings(), mixer, lambda: time.monotonic_ns() - epoch, jack=True, tap_s=4.0)
    backend.start()
    try:
        start = time.monotonic_ns() - epoch + 600 * MS
        times = [start + k * 47 * MS + k * 13_579 for k in range(n)]
        for t in times:
            backend.submit(t, "click", click, 0.9)
        while time.monotonic_ns() - epoch < times[-1] + 800 * MS:
            time.sleep(0.05)
        backend.submit(time.monotonic_ns() - epoch - 30 * MS, "late", click, 0.9)  # already past: late
        time.sleep(0.1)
    finally:
        backend.close(None)
    return backend, times


def judge_alignment(backend: DeviceBackend, times: list[int]) -> str | None:
    """None when every click not disturbed by an xrun landed within 1 ms on the DAC clock, each
    played click sits on its scheduled sample (judged without xruns) and the late event was counted;
    otherwise what failed."""
    measured = backend.drain(flush=True)
    summary = backend.summary()
    on_time = [m for m in measured if m.kind == "click"]
    late = [m for m in measured if m.kind == "late"]
    if [m.scheduled_ns for m in on_time] != times:
        return "scheduled clicks missing from the measurements"
    errors_ms = np.array([m.error_ns for m in on_time]) / MS
    off = int((np.abs(errors_ms) > 1.0).sum())
    print(f"onset error ms: p50 |e| {np.median(np.abs(errors_ms)):.4f}, max |e| {np.abs(errors_ms).max():.4f}; "
          f"{off} of {len(times)} beyond 1 ms with {backend.xruns} xruns; drift {summary['drift_ppm']} ppm, "
          f"clock prediction error {summary['clock_prediction_error_us']} us")
    if any(m.late for m in on_time):
        return "a click scheduled in time was counted late"
    if off > backend.xruns:
        return f"{off} clicks beyond 1 ms but only {backend.xruns} xruns"
    if backend.xruns == 0:  # an xrun drops a buffer, and with it a click, from what was played
        played = click_onsets(backend.tap)
        if len(played) < 20 or played != [m.sample for m in measured][:len(played)]:
            return "played clicks are not on the samples the scheduler placed them on"
    if not (len(late) == 1 and late[0].late and late[0].error_ns >= 30 * MS):
        return "the event that came too late was not counted as late, with how late"
    return None


def test_onsets_land_within_1ms_on_the_dac_clock(jack_server: JackServer) -> None:
    """Every click lands within 1 ms on the DAC clock, except those an xrun disturbed: clicks are 47 ms
    apart and a buffer is 5.3 ms, so one xrun can disturb at most one click. This VM sometimes stalls
    JACK's dummy clock (with or without reported xruns), so up to 3 attempts are made: one attempt
    meeting every criterion passes; attempts with more than 2 xruns are not assessable (a stalled
    machine also disturbs the DAC clock fit); if every assessable attempt failed, the test fails."""
    failures, stalled = [], []
    for attempt in range(3):
        backend, times = run_clicks()
        if backend.xruns > 2:
            stalled.append(backend.xruns)
            print(f"attempt {attempt}: {backend.xruns} xruns (the machine stalled the audio thread)")
            continue
        failure = judge_alignment(backend, times)
        if failure is None:
            return
        failures.append(failure)
        print(f"attempt {attempt}: {failure}")
    if not failures:
        pytest.skip(f"the machine stalled the audio thread in every attempt ({stalled} xruns); "
                    "alignment not assessable here")
    pytest.fail("; ".join(failures))
