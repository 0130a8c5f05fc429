"""The glue's whole data path without the engine: the C++ CLI client (cosim::SceneState, the class
the Unreal subsystem drives) joins a live session as the external ``unreal`` component, with real
SUMO, the refine runtime and the pose bridge, and takes vehicles, traffic lights, the asset and its
residuals, and reports frames with the pose sample, present and photon times."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from session.config import load_config
from session.supervisor import Supervisor, prepare_session_dir
from tests.syncserver.test_session_processes import endpoints


@pytest.mark.timeout(240)
def test_cpp_client_takes_the_scene_from_a_live_session(cpp_build: Path, write_config, tmp_path: Path) -> None:
    cfg = write_config(session={"rate_hz": 90, "duration_s": 6, "ready_timeout_s": 120}, components={
        "unreal": {"module": "unreal_plugin", "launch": False, "required": True},
        "sumo": {"module": "bridges.sumo", "settings": {"scenario": "scenarios/demo/demo.sumocfg", "start_s": 60}},
        "refine": {"module": "refine_runtime", "settings": {"train_config": "configs/refine/skirt.yaml"}},
        "pose": {"module": "bridges.pose", "settings": {"source": "synthetic", "rate_hz": 500}},
        "recorder": {"module": "recording", "wait_ready": True}})
    eps = endpoints(cfg)
    client = subprocess.Popen([str(cpp_build / "cosim_client"), "--name", "unreal", "--required", "--control",
                               eps.control, "--ticks", eps.ticks, "--bus-in", eps.bus_in, "--bus-out", eps.bus_out,
                               "--asset", "skirt4", "--report-frames", "--connect-timeout-s", "120"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        outcome = Supervisor(load_config(cfg), prepare_session_dir(tmp_path / "s"), quiet=True).run()
        out, err = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
    assert outcome.ok, outcome.status
    summary = json.loads(out.strip().splitlines()[-1])
    scene = summary["scene"]
    assert scene["vehicle_tables"] > 400 and scene["id_tables"] >= 1 and scene["light_tables"] >= 1, (scene, err)
    assert scene["spawned"] > 50 and scene["evaluated"] > 400 * 50 and scene["errors"] == 0
    assert scene["assets"] >= 1 and scene["garment_vertices"] > 0
    assert scene["residuals_applied"] > 100 and scene["residuals_refused"] == 0
    assert scene["poses"] > 1000
    # the HUD line: this client's frames behind and clock offset, from the syncserver's STATUS
    assert "behind ?" not in summary["hud"] and "offset ?" not in summary["hud"], summary["hud"]
    # frames carry the pose sample time: a true MTP (photon - pose sample), as the server's view shows
    assert summary["mtp"]["frames_with_pose"] > 400 and summary["mtp"]["mtp_us"]["p50"] is not None
    frames = outcome.summary["clients"]["unreal"]
    assert frames["acks"] > 400
    recorded = (tmp_path / "s" / "report.html").read_text()
    assert "unreal: " in recorded  # the report's MTP section plots the C++ client's FRAME_REPORTs
