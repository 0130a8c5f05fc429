"""LSL outlets (pylsl ships liblsl in its wheel): an event reaches an inlet stamped in LSL's clock."""
from __future__ import annotations

import time

import pytest

from recording.config import LslSettings
from recording.lsl import LslOutlets, load_pylsl
from cosim import protocol as p

pylsl = load_pylsl()


@pytest.mark.skipif(pylsl is None, reason="pylsl/liblsl not usable on this machine")
def test_event_sample_carries_session_time_mapped_into_lsl_clock():
    t0 = time.monotonic_ns()
    sid = f"test{t0}"
    outlets = LslOutlets(LslSettings(enabled=True, source_id=sid), lambda: time.monotonic_ns() - t0, pylsl)
    found = pylsl.resolve_byprop("source_id", f"{sid}.cosim_events", timeout=5)
    if not found:
        pytest.skip("LSL stream discovery does not work on this host's network")
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(timeout=5)
    time.sleep(0.3)
    event_t = time.monotonic_ns() - t0 - 200_000_000  # an event 200 ms ago in session time
    outlets.on_message(p.Event(kind="click", subject="button", t_ns=event_t))
    sample, stamp = inlet.pull_sample(timeout=5)
    now = pylsl.local_clock()
    assert sample == ["click:button"]
    assert 0.15 < now - stamp < 5.0  # stamped about 200 ms in the past, in LSL's clock
    assert outlets.pushed == 1
    inlet.close_stream()


@pytest.mark.skipif(pylsl is None, reason="pylsl/liblsl not usable on this machine")
def test_streams_declare_their_true_rates_and_formats():
    """What LabRecorder and XDF readers go by: numeric streams at their nominal rates, events as string markers."""
    sid = f"rates{time.monotonic_ns()}"
    outlets = LslOutlets(LslSettings(enabled=True, source_id=sid), time.monotonic_ns, pylsl,
                         tick_rate_hz=90.0, pose_rate_hz=500.0)
    want = {"cosim_ticks": ("FrameTiming", 90.0, pylsl.cf_double64, 2),
            "cosim_poses": ("Mocap", 500.0, pylsl.cf_float32, 7),
            "cosim_events": ("Markers", pylsl.IRREGULAR_RATE, pylsl.cf_string, 1)}
    for name, (kind, rate, fmt, channels) in want.items():
        found = pylsl.resolve_byprop("source_id", f"{sid}.{name}", timeout=5)
        if not found:
            pytest.skip("LSL stream discovery does not work on this host's network")
        info = found[0]
        assert (info.type(), info.nominal_srate(), info.channel_format(), info.channel_count()) == \
            (kind, rate, fmt, channels), name
    del outlets
