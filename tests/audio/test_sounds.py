from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio.config import SoundSpec
from audio.errors import SoundFileError
from audio.sounds import DEFAULT_SYNTH, SYNTHS, SoundBank, load_sound_file


@pytest.mark.parametrize("name", sorted(SYNTHS))
def test_synth_sounds_start_on_their_first_sample(name: str) -> None:
    bank = SoundBank(48000, 2)
    sound = bank.synth(name)
    assert sound.dtype == np.float32 and sound.ndim == 2 and sound.shape[1] == 2
    assert abs(sound[0, 0]) > 0.01
    assert np.abs(sound).max() <= 1.0


def test_load_resamples_and_mixes_channels(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    sf.write(path, np.sin(np.arange(44100) / 10.0) * 0.5, 44100)
    sound = load_sound_file(path, 48000, 2)
    assert sound.shape == (48000, 2)
    assert np.allclose(sound[:, 0], sound[:, 1])


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SoundFileError, match="nope.wav.*does not exist"):
        load_sound_file(tmp_path / "nope.wav", 48000, 2)


def test_corrupt_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" + bytes(range(200)))
    with pytest.raises(SoundFileError, match="broken.wav.*not a readable sound file"):
        load_sound_file(path, 48000, 2)


def test_nan_samples_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    data = np.zeros(100, dtype=np.float32)
    data[10] = np.nan
    sf.write(path, data, 48000, subtype="FLOAT")
    with pytest.raises(SoundFileError, match="nan.wav.*NaN"):
        load_sound_file(path, 48000, 1)


def test_bank_falls_back_to_synth_and_reports(tmp_path: Path) -> None:
    good = tmp_path / "horn.wav"
    sf.write(good, np.full(480, 0.25), 48000)
    bad = tmp_path / "crash.wav"
    bad.write_text("not audio")
    bank = SoundBank.build({"horn": SoundSpec(file=str(good)), "collision": SoundSpec(file=str(bad)),
                            "siren": SoundSpec(synth="beep", gain=0.5)}, 48000, 2)
    assert np.allclose(bank.get("horn"), 0.25)
    assert len(bank.errors) == 1 and "sounds.collision" in bank.errors[0] and "crash.wav" in bank.errors[0]
    assert bank.get("collision") is not None  # synthesized fallback
    assert bank.get("siren") is not None
    assert set(DEFAULT_SYNTH) <= set(bank.sounds)
    assert bank.get("unheard_of") is None and bank.unknown_kinds == {"unheard_of": 1}
