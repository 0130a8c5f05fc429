"""The audio component inside a real session (run_session.py: syncserver, headless client, audio)."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO

CLIENT = {"module": "client", "required": True}


def run_session(config: Path, out: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_session.py", "--config", str(config), "--out", str(out), "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def audio_section(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())["audio"]


def test_demo_renders_clicks_on_exact_samples_despite_bad_sound_files(
        tmp_path: Path, write_config: Callable[..., Path]) -> None:
    corrupt = tmp_path / "horn.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt garbage")
    cfg = write_config(session={"duration_s": 2.5}, components={"client": CLIENT, "audio": {
        "module": "audio", "settings": {
            "backend": "file", "file": {"path": "audio.wav", "render_lag_ms": 200},
            "test_clicks": {"period_s": 0.2, "start_s": 0.3},
            "sounds": {"horn": {"file": str(corrupt)}, "collision": {"file": str(tmp_path / "missing.flac")}}}}})
    out = tmp_path / "session"
    res = run_session(cfg, out)
    assert res.returncode == 0, res.stdout + res.stderr
    sec = audio_section(out)
    log = (out / "logs" / "audio.log").read_text()
    assert sec["backend"] == "file" and sec["late"] == 0 and sec["xruns"] == 0
    assert sec["events"] >= 10 and sec["received"]["click"] >= sec["events"]
    assert sec["onset_error_ms"]["max"] <= 1e3 / 48000 / 2 + 1e-3  # sample quantisation only
    assert len(sec["sound_errors"]) == 2 and "error" not in sec
    assert "horn.wav" in log and "missing.flac" in log  # a clear error naming each file...
    assert "session ended" in log  # ...and the process kept running to the end
    rows = list(csv.DictReader(open(out / "audio_onsets.csv")))
    assert len(rows) == sec["events"]
    data, rate = sf.read(out / "audio.wav")
    assert rate == 48000 and abs(len(data) / rate - 2.5) < 0.1
    idx = np.flatnonzero(np.abs(data[:, 0]) > 0.05)
    played = [int(i) for k, i in enumerate(idx) if k == 0 or i - idx[k - 1] > 1000]
    expected = [(int(r["scheduled_ns"]) * 48000 + 500_000_000) // 1_000_000_000 for r in rows]
    assert played == expected  # every click on the exact sample of its session time


@pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd (Debian jackd2) is not installed")
def test_session_on_jack_dummy_driver(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    cfg = write_config(session={"duration_s": 2.5}, components={"client": CLIENT, "audio": {
        "module": "audio", "settings": {"backend": "jack", "device": {"jack": {"start": True}},
                                        "test_clicks": {"period_s": 0.1, "start_s": 0.5}}}})
    out = tmp_path / "session"
    res = run_session(cfg, out)
    log = (out / "logs" / "audio.log").read_text()
    if "did not come up" in log:
        pytest.skip(f"JACK session test skipped: jackd could not be started: {log[-300:]}")
    assert res.returncode == 0, res.stdout + res.stderr + log
    sec = audio_section(out)
    assert sec["backend"] == "jack" and sec["device"] and "error" not in sec
    assert sec["events"] >= 15 and sec["drift_ppm"] is not None
    assert sec["jack_server"] is not None and sec["callbacks"] > 100
    print({k: sec[k] for k in ("events", "late", "xruns", "onset_error_ms", "drift_ppm")})


def test_ctrl_c_closes_the_wav_and_writes_the_section(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    import signal
    import time
    cfg = write_config(session={"duration_s": 30}, components={"client": CLIENT, "audio": {
        "module": "audio", "settings": {"test_clicks": {"period_s": 0.25}}}})
    out = tmp_path / "session"
    proc = subprocess.Popen([sys.executable, "run_session.py", "--config", str(cfg), "--out", str(out), "--quiet"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _started(out):
            time.sleep(0.1)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    sec = audio_section(out)
    assert sec["events"] >= 3
    data, rate = sf.read(out / "audio.wav")  # a complete, readable file
    assert 1.0 < len(data) / rate < 25


def _started(out: Path) -> bool:
    log = out / "logs" / "syncserver.log"
    return log.exists() and "session starts" in log.read_text(errors="replace")


def test_a_killed_audio_process_leaves_a_wav_that_python_wave_opens(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    """The header was written only on close: kill -9 left data size 0, which the standard library's
    wave module refuses. Now the header is rewritten after every write."""
    import signal
    import time
    import wave

    import psutil
    cfg = write_config(session={"duration_s": 30, "on_crash": "continue"}, components={"client": CLIENT, "audio": {
        "module": "audio", "settings": {"test_clicks": {"period_s": 0.25}, "file": {"render_lag_ms": 100}}}})
    out = tmp_path / "session"
    proc = subprocess.Popen([sys.executable, "run_session.py", "--config", str(cfg), "--out", str(out), "--quiet"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _started(out):
            time.sleep(0.1)
        time.sleep(2.0)
        [audio] = [p for p in psutil.Process(proc.pid).children() if "audio" in p.cmdline()]
        audio.send_signal(signal.SIGKILL)
        time.sleep(0.5)
        with wave.open(str(out / "audio.wav")) as w:
            seconds = w.getnframes() / w.getframerate()
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert 1.0 < seconds < 3.0
