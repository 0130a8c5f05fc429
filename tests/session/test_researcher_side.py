"""The researcher's side, through run_session.py as a person runs it: three sessions of a study
(two conditions) with a participant placed among real SUMO traffic; one runs in a real terminal
(tmux, 80 columns) and gets a marker from another terminal; then the study commands."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from recording.reader import Recording
from tests.conftest import REPO, free_endpoints

TMUX = shutil.which("tmux")
RUNS = [("P01", "A", 1), ("P01", "B", 2), ("P02", "A", 1)]


def config(base: Path) -> Path:
    cfg = base / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "session": {"name": "study", "mode": "realtime", "rate_hz": 90, "duration_s": 4, "ready_timeout_s": 60},
        "network": {"host": "127.0.0.1", "base_port": 0, **free_endpoints()},
        "participant": {"origin_m": [85.0, 235.0], "yaw_deg": 0.0},  # beside a junction of the demo net
        "components": {
            "client": {"module": "client", "settings": {"residuals": {"enabled": False}}},
            "sumo": {"module": "bridges.sumo", "settings": {"scenario": "scenarios/demo/demo.sumocfg", "start_s": 60}},
            "pose": {"module": "bridges.pose", "settings": {"source": "synthetic", "rate_hz": 250}},
            "recorder": {"module": "recording"}}}))
    return cfg


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))


def in_tmux(base: Path, cfg: Path, out: Path, who: tuple[str, str, int]) -> list[str]:
    """Run one session in a detached tmux terminal 80 columns wide, mark a moment from outside
    while it runs, and return the terminal's lines at the end (wrapped lines joined)."""
    name = f"cosim{os.getpid()}"
    cmd = (f"cd {REPO} && {sys.executable} run_session.py --config {cfg} --out {out} --participant {who[0]} "
           f"--condition {who[1]} --trial {who[2]}; echo RUNNER-EXITED; sleep 30")
    subprocess.run([TMUX, "new-session", "-d", "-x", "80", "-y", "40", "-s", name, cmd], check=True)
    try:
        deadline = time.monotonic() + 120
        marked = None
        while time.monotonic() < deadline:
            pane = subprocess.run([TMUX, "capture-pane", "-p", "-J", "-t", name, "-S", "-200"],
                                  capture_output=True, text=True).stdout
            if marked is None and " | " in pane:  # the status line shows: the session runs
                marked = run("-m", "session.mark", str(out), "hesitated")
                paused = run("-m", "session.mark", str(out), "--traffic", "pause")
                assert paused.returncode == 0, paused.stderr
            if "RUNNER-EXITED" in pane:
                break
            time.sleep(0.2)
        assert marked is not None and marked.returncode == 0, marked and marked.stderr
        return [line for line in pane.splitlines() if line.strip()]
    finally:
        subprocess.run([TMUX, "kill-session", "-t", name], capture_output=True)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, list[str]]:
    base = tmp_path_factory.mktemp("study")
    cfg = config(base)
    lines: list[str] = []
    for i, (participant, condition, trial) in enumerate(RUNS):
        out = base / "sessions" / f"{i}"
        if i == 0 and TMUX:
            lines = in_tmux(base, cfg, out, (participant, condition, trial))
        else:
            r = run("run_session.py", "--config", str(cfg), "--out", str(out), "--participant", participant,
                    "--condition", condition, "--trial", str(trial), "--quiet")
            assert r.returncode == 0, r.stdout + r.stderr
    return base, lines


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_the_status_line_stays_on_one_line_of_an_80_column_terminal(study):
    _, lines = study
    status = [line for line in lines if line.startswith(("t ", "waiting for READY"))]
    assert all(len(line) < 80 for line in status), status  # joined (-J): a wrapped line would be longer
    assert len(status) <= 1, status  # redrawn in place: no copies left behind
    assert any(line.startswith("OK: study (participant P01 condition A trial 1)") for line in lines), lines
    assert any("closest approach:" in line for line in lines)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_a_marker_and_a_traffic_pause_from_another_terminal_are_in_the_recording(study):
    import json
    base, _ = study
    events = [d.msg for d in Recording.open(base / "sessions" / "0").messages(["events"])]
    markers = [m for m in events if m.kind == "marker"]
    assert [m.subject for m in markers] == ["hesitated"]
    assert 0 < markers[0].at_ns < 10 * 10**9  # session time
    assert [m.subject for m in events if m.kind == "control"] == ["traffic pause"]
    sumo = json.loads((base / "sessions" / "0" / "summary.json").read_text())["sumo"]
    assert sumo["requests"].get("sumo.pause") == 1  # the SUMO bridge took it


def test_each_session_knows_its_study_and_its_participants_safety(study):
    import json
    base, _ = study
    for i, (participant, condition, trial) in enumerate(RUNS):
        s = json.loads((base / "sessions" / f"{i}" / "summary.json").read_text())
        assert s["study"] == {"participant": participant, "condition": condition, "trial": trial}
        assert s["safety"]["frames_analysed"] > 20 and s["safety"]["vehicles_met"] > 0
        assert s["safety"]["closest_approach_m"] is not None
        rec = Recording.open(base / "sessions" / f"{i}")
        assert rec.metadata["study"]["participant"] == participant
        report = (base / "sessions" / f"{i}" / "report.html").read_text()
        assert report.index('id="participant"') < report.index('id="ticks"')  # the participant's side first


def test_the_study_commands_list_sessions_and_report_per_condition(study, tmp_path):
    base, _ = study
    r = run("-m", "recording.sessions", "list", str(base / "sessions"))
    assert r.returncode == 0, r.stderr
    rows = r.stdout.strip().splitlines()[1:]
    assert len(rows) == 3 and all(" ok " in row for row in rows), r.stdout
    out = tmp_path / "study.html"
    r = run("-m", "recording.sessions", "report", str(base / "sessions"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "3 sessions, 2 conditions: A (2), B (1)" in text
    assert text.count("<img") >= 3  # MTP, lateness, clock error, closest approach, TTC (those present)


def test_check_validates_without_starting_anything(tmp_path):
    cfg = config(tmp_path)
    r = run("run_session.py", "--config", str(cfg), "--check")
    assert r.returncode == 0 and r.stdout.startswith("config ok:"), r.stdout + r.stderr
    bad = yaml.safe_load(cfg.read_text())
    bad["components"]["sumo"]["settings"]["scenario"] = "scenarios/none.sumocfg"
    cfg.write_text(yaml.safe_dump(bad))
    r = run("run_session.py", "--config", str(cfg), "--check")
    assert r.returncode == 2 and "none.sumocfg" in r.stderr
    r = run("run_session.py", "--help")
    assert "examples:" in r.stdout and "--participant" in r.stdout
