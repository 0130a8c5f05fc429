"""The DAC clock fit against synthetic callbacks with known drift, offset and one-sided delays."""
import numpy as np

from audio.clockmap import NS, StreamClock

SR = 48000
FRAMES = 256


def simulate(clock: StreamClock, seconds: float, drift_ppm: float, offset_ns: float, seed: int = 0,
             lost_after: float | None = None) -> list[int]:
    """Stream clock = (session + offset)·(1 + drift); callbacks wake late by a random amount."""
    rng = np.random.default_rng(seed)
    period = FRAMES * NS / SR
    n = 0
    starts = []
    k = 0
    skipped = False
    while k * period < seconds * NS:
        if lost_after is not None and not skipped and k * period >= lost_after * NS:
            k += 1  # one cycle's frames never reached us (an xrun)
            skipped = True
        cycle_session = 1e9 + k * period / (1 + drift_ppm * 1e-6)
        wake = rng.exponential(150_000)  # the C callback starts late
        py = rng.exponential(80_000)  # and our clock read comes later still
        stream_now = (cycle_session + wake + offset_ns) * (1 + drift_ppm * 1e-6)
        latency = 2 * period
        clock.observe(round(cycle_session + wake + py), stream_now, stream_now + latency, n, FRAMES)
        starts.append(round(cycle_session))
        n += FRAMES
        k += 1
    return starts


def test_fit_recovers_drift_and_places_samples() -> None:
    clock = StreamClock(SR)
    starts = simulate(clock, 12.0, drift_ppm=40.0, offset_ns=3e6)
    snap = clock.snapshot
    assert abs(clock.drift_ppm - 40.0) < 3.0
    # buffer k's first sample reaches the DAC two periods after its cycle started
    period = FRAMES * NS / SR
    k = len(starts) - 5
    dac_session = starts[k] + 2 * period
    assert abs(snap.sample_of_session(dac_session) - k * FRAMES) < 0.1 * SR / 1000  # < 0.1 ms
    assert abs(snap.measured_session_of_sample(k * FRAMES) - dac_session) < 100_000


def test_anchor_rejumps_after_lost_frames() -> None:
    clock = StreamClock(SR)
    simulate(clock, 3.0, drift_ppm=0.0, offset_ns=0.0, lost_after=1.5)
    assert clock.discontinuities == 1


def test_measured_interpolates_between_points() -> None:
    clock = StreamClock(SR, fit_window_ns=100_000_000)
    simulate(clock, 2.0, drift_ppm=0.0, offset_ns=0.0)
    snap = clock.snapshot
    x0, y0 = snap.points[2]
    n = (y0 - snap.anchor_ns) * SR / NS
    assert abs(snap.measured_session_of_sample(n) - x0) < 1000
