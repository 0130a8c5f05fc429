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


def test_missing_scenario_is_reported_before_the_session_and_by_the_bridge_alone(tmp_path, capsys):
    cfg = {"session": {"name": "sumo-test", "duration_s": 1.0}, "network": {"base_port": 0},
           "components": {"sumo": {"module": "bridges.sumo", "settings": {"scenario": "scenarios/demo/nope.sumocfg"}}}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert run_session.main(["--config", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "nope.sumocfg' does not exist" in capsys.readouterr().err  # before any process started
    import subprocess
    import sys

    from tests.conftest import REPO
    res = subprocess.run([sys.executable, "-m", "bridges.sumo", "--config", str(path), "--out", str(tmp_path / "alone")],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "nope.sumocfg' does not exist" in res.stderr
    section = json.loads((tmp_path / "alone" / "sections" / "sumo.json").read_text())["sumo"]
    assert "nope.sumocfg' does not exist" in section["error"]


def test_a_killed_stepping_process_ends_the_bridge_and_the_session_is_not_ok(tmp_path):
    """Before, the bridge logged ~90 warnings a second, traffic froze, and the session ended ok."""
    import subprocess
    import sys
    import time

    import psutil

    from tests.conftest import REPO, wait_for
    cfg = {"session": {"name": "sumo-kill", "mode": "realtime", "rate_hz": 90, "duration_s": 30},
           "network": {"base_port": 0},
           "components": {"client": {"module": "client", "required": True},
                          "sumo": {"module": "bridges.sumo", "required": True,
                                   "settings": {"scenario": "scenarios/demo/demo.sumocfg", "start_s": 40}}}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    runner = subprocess.Popen([sys.executable, "run_session.py", "--config", str(path), "--out", str(out), "--quiet"],
                              cwd=REPO)
    try:
        def worker() -> psutil.Process | None:
            for proc in psutil.Process(runner.pid).children(recursive=True):
                if "bridges.sumo.worker" in " ".join(proc.cmdline()):
                    return proc
            return None
        assert wait_for(lambda: (out / "logs" / "syncserver.log").is_file()
                        and "session starts" in (out / "logs" / "syncserver.log").read_text(), 60)
        time.sleep(1.0)
        worker().kill()
        killed = time.monotonic()
        assert runner.wait(60) == 1
        assert time.monotonic() - killed < 15
    finally:
        if runner.poll() is None:
            runner.kill()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "crashed"
    assert "stepping process exited with status -9" in summary["sumo"]["error"]
    assert summary["runner"]["components"]["sumo"]["exit_code"] == 1
    assert (out / "logs" / "sumo.log").read_text().count("not listening") < 5


def test_ctrl_c_during_the_fast_forward_leaves_no_stepping_process(tmp_path):
    """Its SIGTERM handler set a flag nobody looked at while fast-forwarding to start_s: an orphan at
    100 % CPU."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    from tests.conftest import REPO, wait_for
    cfg = {"session": {"name": "sumo-ff", "rate_hz": 90, "duration_s": 10, "ready_timeout_s": 120},
           "network": {"base_port": 0},
           "components": {"sumo": {"module": "bridges.sumo", "settings": {
               "scenario": "scenarios/demo/demo.sumocfg", "start_s": 590, "startup_timeout_s": 120,
               "state_cache_dir": None}}}}  # a saved state would skip the fast-forward this test interrupts
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    runner = subprocess.Popen([sys.executable, "run_session.py", "--config", str(path), "--out", str(tmp_path / "o"),
                               "--quiet"], cwd=REPO)
    workers: list[psutil.Process] = []
    try:
        def cmdline(p: psutil.Process) -> str:
            try:
                return " ".join(p.cmdline())
            except psutil.Error:  # a short-lived child exited (a zombie until reaped) while we looked
                return ""

        def fast_forwarding() -> bool:
            workers[:] = [p for p in psutil.Process(runner.pid).children(recursive=True)
                          if "bridges.sumo.worker" in cmdline(p)]
            return bool(workers) and workers[0].cpu_percent(0.2) > 30
        assert wait_for(fast_forwarding, 60)
        runner.send_signal(signal.SIGINT)
        assert runner.wait(60) == 1
        time.sleep(1.0)
        assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    finally:
        for w in workers:
            if w.is_running():
                w.kill()
        if runner.poll() is None:
            runner.kill()
