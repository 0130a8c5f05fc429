"""Offline render: onsets land on the exact sample of their session time."""
from pathlib import Path

import numpy as np
import soundfile as sf

from audio.backends.file import FileBackend, sample_of, session_of
from audio.mixer import Mixer
from audio.sounds import SoundBank

SR = 48000


def first_onsets(x: np.ndarray, threshold: float = 0.05, gap: int = 2000) -> list[int]:
    idx = np.flatnonzero(np.abs(x) > threshold)
    return [int(i) for k, i in enumerate(idx) if k == 0 or i - idx[k - 1] > gap]


def render(tmp_path: Path, times_ns: list[int], end_ns: int, lag_ns: int = 0, subtype: str = "PCM_16"):
    mixer = Mixer(SR, 1)
    click = SoundBank(SR, 1).synth("click")
    be = FileBackend(tmp_path / "out.wav", mixer, subtype=subtype, render_lag_ns=lag_ns)
    be.start()
    for t in times_ns:
        be.submit(t, "click", click, 1.0)
    be.close(end_ns)
    data, rate = sf.read(tmp_path / "out.wav")
    return data, rate, be.drain()


def test_sample_of_rounds_exactly() -> None:
    assert sample_of(1_000_000_000, SR) == SR
    assert sample_of(10_417, SR) == 1  # 0.50002 samples rounds up
    assert sample_of(10_416, SR) == 0
    assert session_of(SR, SR) == 1_000_000_000


def test_click_lands_on_the_exact_sample(tmp_path: Path) -> None:
    times = [1_234_567_891, 250_000_000, 2_000_010_417, 2_999_999_999]
    data, rate, measured = render(tmp_path, times, 3_100_000_000)
    assert rate == SR and len(data) == sample_of(3_100_000_000, SR)
    expected = sorted(sample_of(t, SR) for t in times)
    assert first_onsets(data) == expected  # 0 samples off
    assert [m.sample for m in measured] == expected
    assert not any(m.late for m in measured)
    assert all(abs(m.error_ns) <= 1e9 / SR / 2 for m in measured)


def test_float_subtype_keeps_the_first_sample(tmp_path: Path) -> None:
    data, _, _ = render(tmp_path, [500_000_000], 600_000_000, subtype="FLOAT")
    n = sample_of(500_000_000, SR)
    assert data[n - 1] == 0.0 and data[n] == np.float32(1.0)


def test_late_event_is_counted_and_played_at_once(tmp_path: Path) -> None:
    mixer = Mixer(SR, 1)
    click = SoundBank(SR, 1).synth("click")
    be = FileBackend(tmp_path / "late.wav", mixer, render_lag_ns=100_000_000)
    be.start()
    be.advance(1_100_000_000)  # rendered up to 1.0 s
    assert be.written == SR
    be.submit(900_000_000, "click", click, 1.0)  # its sample is already written
    be.submit(1_050_000_000, "click", click, 1.0)  # still in time
    be.close(1_200_000_000)
    late, on_time = be.drain()
    assert late.late and late.sample == SR and late.error_ns == 100_000_000
    assert not on_time.late and on_time.sample == sample_of(1_050_000_000, SR) and on_time.error_ns == 0
    data, _ = sf.read(tmp_path / "late.wav")
    assert first_onsets(data) == [SR, sample_of(1_050_000_000, SR)]
