"""Whole sessions through run_session.py: the recording, a lockstep replay of it, the report in a real
headless browser, and the comparison of the two."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from recording.compare import compare_main
from recording.reader import Recording
from recording.report import build_report
from recording.report.data import load
from tests.conftest import REPO, free_endpoints

REPLAYED = ["pose", "sumo.vehicles", "sumo.ids", "events"]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "build" / "test-artifacts" / "recording"


def run_session(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "run_session.py"), "--quiet", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("sessions")
    cfg = base / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "session": {"name": "rec", "mode": "realtime", "rate_hz": 90, "duration_s": 1.5, "ready_timeout_s": 30},
        "network": {"host": "127.0.0.1", "base_port": 0, **free_endpoints()},
        "components": {"client": {"module": "client", "required": True},
                       "producer": {"module": "tests.recording.producer", "required": True},
                       "recorder": {"module": "recording"}}}))
    a, b = base / "a", base / "b"
    r = run_session("--config", str(cfg), "--out", str(a))
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_session("--replay", str(a), "--out", str(b))
    assert r.returncode == 0, r.stdout + r.stderr
    return a, b


def streams(folder: Path) -> list[tuple[bytes, bytes, list[bytes]]]:
    return [(r.topic, r.header, r.payloads) for r in Recording.open(folder).records(REPLAYED)]


def test_demo_style_session_writes_the_recording_and_the_report(sessions):
    a, _ = sessions
    assert (a / "session.mcap").is_file() and (a / "report.html").is_file() and (a / "summary.json").is_file()


def test_the_report_reads_the_vehicle_id_table(sessions):
    for folder in sessions:  # recorded, and recorded from the replay
        assert load(folder).vehicle_ids == {h: (f"veh{h}", "car") for h in range(6)}


def test_lockstep_replay_reproduces_vehicles_and_poses_exactly(sessions):
    a, b = sessions
    original, replayed = streams(a), streams(b)
    topics = {t for t, _, _ in original}
    assert {b"pose", b"sumo.vehicles", b"sumo.ids", b"events"} <= topics
    assert len(original) >= 2 * 135  # a pose and a vehicle table per frame
    assert replayed == original
    cfg = yaml.safe_load((b / "config.yaml").read_text())
    assert cfg["session"]["mode"] == "lockstep"
    assert "producer" not in cfg["components"] and cfg["components"]["replay"]["module"] == "recording.replay"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_the_report_opens_in_a_headless_browser_with_its_plots(sessions, tmp_path):
    a, _ = sessions
    url = (a / "report.html").resolve().as_uri()
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium'}"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    images = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]{200,})"', dom)
    alts = " | ".join(alt for alt, _ in images)
    for needed in ("Tick timing", "Delivery latency", "Motion-to-photon", "Sync drift", "SUMO real-time factor",
                   "Scene from above", "depth-weighted splats", "Late and dropped"):
        assert needed in alts, f"no {needed!r} plot in the rendered DOM: {alts}"
    assert dom.count("not in this session") >= 2  # this session has no audio and no refine stream
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1400,3000", url], capture_output=True,
                   timeout=120)
    assert shot.is_file() and shot.stat().st_size > 50_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "report.png")


def test_report_of_a_session_without_recording_says_what_is_absent(tmp_path):
    (tmp_path / "summary.json").write_text('{"status": "ok", "session": {"name": "bare"}}')
    (tmp_path / "session.mcap").write_bytes(b"not an mcap at all")
    html = build_report(tmp_path).read_text()
    assert "not an MCAP file" in html
    assert html.count("not in this session") >= 8
    assert "<img" not in html


def test_compare_prints_a_table_and_writes_compare_html(sessions, tmp_path, capsys):
    a, b = sessions
    assert compare_main(str(a), str(b), out=str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert re.search(r"ticks\.lateness_us\.p99\s+\S+\s+\S+", out)
    page = (tmp_path / "compare.html").read_text()
    assert page.count("<img") >= 10 and "A: rec" in page and "B: rec-replay" in page
    assert compare_main(str(a), str(tmp_path / "nope")) == 2
