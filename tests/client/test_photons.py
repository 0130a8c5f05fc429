"""Matching photons to flash frames (client/photons.py), without a session."""
from client.config import FlashSettings
from client.photons import Photons

MS = 1_000_000


def test_a_missed_photon_does_not_shift_the_later_matches():
    """Flashes 33 ms apart (every 3rd frame at 90 Hz), photons 20 ms after each, one missed."""
    ph = Photons(FlashSettings(every_frames=3))
    matched = []
    for k in range(12):
        signal = k * 33 * MS
        ph.on_frame(k * 3, signal, signal - 5 * MS, signal + 15 * MS)
        if k == 3:
            continue  # the photodiode missed this one
        got = ph.on_photon(signal + 20 * MS)
        matched.append(got[0].frame if got else None)
    assert matched == [k * 3 for k in range(12) if k != 3]
    assert ph.matched == 11 and ph.unmatched == 1 and ph.stray == 0


def test_a_photon_no_flash_explains_is_stray_and_figures_need_no_pose():
    ph = Photons(FlashSettings(every_frames=90, max_latency_ms=50))
    ph.on_frame(0, 0, None, 10 * MS)
    assert ph.on_photon(80 * MS) is None  # too late for the flash
    assert ph.stray == 1 and ph.unmatched == 1
    ph.on_frame(90, 1000 * MS, None, 1010 * MS)
    got = ph.on_photon(1020 * MS)
    assert got is not None and got[0].frame == 90
    assert "measured_mtp_ms" not in got[1] and got[1]["model_error_ms"] == 10.0  # no pose: the model's error only
    assert ph.on_photon(990 * MS) is None  # before any pending flash
