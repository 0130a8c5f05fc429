"""The bridge inside a real session (syncserver + headless client + bridge, separate processes)."""
import json

import pytest
import yaml

import run_session

pytestmark = pytest.mark.timeout(150)


def session(tmp_path, sumo_settings, mode="lockstep", duration=2.0):
    cfg = {"session": {"name": "sumo-test", "mode": mode, "rate_hz": 90, "duration_s": duration, "pace": 0},
           "network": {"base_port": 0},
           "components": {"client": {"module": "client", "required": True},
                          "sumo": {"module": "bridges.sumo", "required": True, "settings": sumo_settings}}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    code = run_session.main(["--config", str(path), "--out", str(out), "--quiet"])
    return code, json.loads((out / "summary.json").read_text()), out


def test_lockstep_session_writes_the_sumo_section(tmp_path):
    code, summary, out = session(tmp_path, {"scenario": "scenarios/demo/demo.sumocfg", "start_s": 40,
                                            "record_fcd": "traffic.xml.gz"})
    assert (out / "traffic.xml.gz").stat().st_size > 1000  # a relative recording lands in the session folder
    sumo = summary["sumo"]
    assert code == 0
    assert sumo["frames"] == 180 and sumo["lagged_frames"] == 0 and sumo["mode"] == "lockstep"
    assert sumo["vehicles_max"] > 20 and sumo["sim_drift_ms"]["max"] < 0.001  # one period of sim per frame
    # unpaced lockstep runs faster than real time: sim seconds per session second is the tick rate's
    # multiple of real time, as the syncserver measured it from its own emission times
    assert sumo["rtf_mean"] == pytest.approx(summary["session"]["fps"] / 90, rel=0.1) and sumo["rtf_mean"] > 1
    for key in ("rtf", "step_ms", "frame_cost_ms", "sim_drift_ms"):
        assert set(sumo[key]) == {"p50", "p95", "p99", "max"}
    assert sumo["worker_exit"] == 0


def test_missing_scenario_is_reported_in_the_session(tmp_path):
    code, summary, out = session(tmp_path, {"scenario": "scenarios/demo/nope.sumocfg"}, mode="realtime", duration=1.0)
    assert "nope.sumocfg' does not exist" in summary["sumo"]["error"]
    assert "nope.sumocfg' does not exist" in (out / "logs" / "sumo.log").read_text()
