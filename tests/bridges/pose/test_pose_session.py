"""Real sessions (syncserver, pose bridge, headless client as processes): an injected tracking latency
shows up in the MTP breakdown, and record -> replay reproduces a trace exactly."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from session.config import load_config
from session.supervisor import Supervisor, prepare_session_dir

CLIENT = {"module": "client", "required": True,
          "settings": {"display": {"refresh_hz": 90, "vsync_phase_ms": 3.0, "vsync_to_photon_ms": 11.1,
                                   "render_ms": 1.0}}}


def _session(write_config: Callable[..., Path], out: Path, pose: dict[str, Any], duration_s: float) -> dict:
    path = write_config(session={"duration_s": duration_s, "rate_hz": 90},
                        components={"client": CLIENT, "pose": {"module": "bridges.pose", "settings": pose}})
    outcome = Supervisor(load_config(path), prepare_session_dir(out), quiet=True).run()
    assert outcome.ok, (outcome.status, (out / "logs" / "pose.log").read_text()[-2000:])
    return outcome.summary


@pytest.mark.timeout(120)
def test_injected_latency_appears_in_the_breakdown(write_config, tmp_path: Path) -> None:
    summary = _session(write_config, tmp_path / "s", {"source": "synthetic", "rate_hz": 500,
                                                      "inject_latency_ms": 5.0}, 3.0)
    mtp = summary["mtp"]
    assert mtp["frames"] > 200 and mtp["frames_without_pose"] <= 2
    assert mtp["sample_to_bus_ms"]["p50"] == pytest.approx(5.0, abs=0.2)
    assert summary["pose"]["sample_to_bus_ms"]["p50"] == pytest.approx(5.0, abs=0.2)
    assert mtp["vsync_to_photon_ms"]["p50"] == pytest.approx(11.1, abs=1e-6)
    assert mtp["total_ms"]["p50"] > 5.0 + 11.1
    assert summary["pose"]["received"]["samples"] > 1000
    assert mtp["prediction_error"]["frames"] > 200


@pytest.mark.timeout(120)
def test_record_then_replay_reproduces_the_trace(write_config, tmp_path: Path) -> None:
    first = _session(write_config, tmp_path / "a", {"source": "synthetic", "rate_hz": 250, "record": "poses.csv",
                                                    "synthetic": {"controllers": 1}}, 1.5)
    recorded = tmp_path / "a" / "poses.csv"
    assert first["pose"]["record"]["samples"] > 500
    second = _session(write_config, tmp_path / "b", {
        "source": "trace", "record": "poses.csv", "trace": {"path": str(recorded), "time_base": "session"}}, 2.5)
    replayed = tmp_path / "b" / "poses.csv"
    assert replayed.read_bytes() == recorded.read_bytes()
    assert second["pose"]["trace"]["replayed"] == first["pose"]["samples"]
    err = second["mtp"]["prediction_error"]
    assert err["frames"] > 50 and err["rotation_deg"]["p50"] is not None
