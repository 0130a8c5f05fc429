"""A real session (syncserver, pose bridge, headless client, photodiode bridge, recorder as processes)
with the EMULATED board on a pty: every flash is matched to its photon, the measured
motion-to-photon lands in the summary (``mtp.measured``) where the emulator put the light, and
the report plots it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from session.config import load_config
from session.supervisor import Supervisor, prepare_session_dir

pytestmark = pytest.mark.timeout(180)


def test_measured_motion_to_photon_in_the_summary_and_report(write_config, board, tmp_path: Path) -> None:
    link, screen, truth = board("--delay-ms", "20", "--jitter-ms", "3")
    client = {"module": "client", "required": True,
              "settings": {"residuals": {"enabled": False},
                           "flash": {"every_frames": 30, "screen_socket": str(screen)}}}
    path = write_config(session={"duration_s": 6.0, "rate_hz": 90}, components={
        "client": client, "pose": {"module": "bridges.pose", "settings": {"source": "synthetic", "rate_hz": 500}},
        "photodiode": {"module": "bridges.photodiode", "settings": {"port": str(link)}},
        "recorder": {"module": "recording", "wait_ready": True}})
    out = tmp_path / "s"
    outcome = Supervisor(load_config(path), prepare_session_dir(out), quiet=True).run()
    assert outcome.ok, (outcome.status, (out / "logs" / "photodiode.log").read_text()[-2000:])
    summary = outcome.summary
    measured = summary["mtp"]["measured"]
    rows = [json.loads(x) for x in truth.read_text().splitlines()]
    assert measured["flashes"] >= 17 and measured["matched"] == len(rows) >= measured["flashes"] - 1
    assert measured["unmatched"] <= 1 and measured["stray_photons"] == 0
    assert summary["mtp"]["photon_times"] == "modelled"
    # the emulator lights 20 ± 3 ms after the flash reaches it: the measured screen-to-photon sits there
    pd = summary["photodiode"]
    assert pd["photons"] == len(rows) and pd["bad_lines"] == 0 and pd["clock"]["probes"] > 50
    assert 17 < measured["total_ms"]["p50"] < 40
    report = (out / "report.html").read_text()
    assert "Measured motion-to-photon" in report
