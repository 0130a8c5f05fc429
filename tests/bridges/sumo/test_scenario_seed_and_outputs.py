"""The scenario as SUMO itself would run it: its own seed unless the config sets one, its own outputs
written into the session folder (real SUMO, one process per run: libsumo holds one simulation per process)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

RUN = """
import json, sys, msgspec
from bridges.sumo.backends import SumoSource
from bridges.sumo.config import Settings
s = msgspec.convert(json.loads(sys.argv[1]), Settings)
src = SumoSource(s)
src.start()
snap = None
for _ in range(300):
    snap = src.step()
print(json.dumps({"seed": src.info["seed"], "from": src.info["seed_from"],
                  "speeds": [round(float(v), 6) for v in snap.speed]}))
src.close()
"""


def run(**settings) -> dict:
    cfg = {"scenario": "scenarios/demo/demo.sumocfg", "backend": "libsumo", **settings}
    r = subprocess.run([sys.executable, "-c", RUN, json.dumps(cfg)], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_the_scenarios_seed_is_used_unless_the_config_sets_one():
    own = run()  # demo.sumocfg says <seed value="42"/>
    assert (own["seed"], own["from"]) == (42, "scenario")
    same = run(seed=42)
    other = run(seed=43)
    assert (same["seed"], same["from"]) == (42, "config")
    assert own["speeds"] == same["speeds"]  # what SUMO did with the scenario's seed is what --seed 42 does
    assert own["speeds"] != other["speeds"]  # and the seed matters in this scenario


def test_the_scenarios_own_outputs_land_in_the_session_folder(tmp_path):
    """A scenario that writes tripinfo next to itself: in a session, it is written into SESSION/sumo/."""
    import shutil

    import yaml
    scen = tmp_path / "scenario"
    shutil.copytree(REPO / "scenarios" / "crossing", scen)
    cfg_text = (scen / "crossing.sumocfg").read_text()
    (scen / "crossing.sumocfg").write_text(cfg_text.replace(
        "    </processing>", "    </processing>\n    <output>\n        <tripinfo-output value=\"tripinfo.xml\"/>\n"
                             "    </output>"))
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "session": {"name": "outputs", "duration_s": 3, "ready_timeout_s": 60},
        "network": {"base_port": 0},
        "components": {"sumo": {"module": "bridges.sumo", "settings": {"scenario": str(scen / "crossing.sumocfg"),
                                                                       "start_s": 30}}}}))
    out = tmp_path / "session"
    r = subprocess.run([sys.executable, "run_session.py", "--config", str(cfg), "--out", str(out), "--quiet"],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (out / "sumo" / "tripinfo.xml").is_file()
    assert not (scen / "tripinfo.xml").exists()


STATE_RUN = """
import json, sys, time, msgspec
from bridges.sumo.backends import SumoSource
from bridges.sumo.config import Settings
s = msgspec.convert(json.loads(sys.argv[1]), Settings)
src = SumoSource(s)
t0 = time.monotonic()
snap = src.start()
took = time.monotonic() - t0
start_ns = snap.sim_ns
for _ in range(100):
    snap = src.step()
print(json.dumps({"start_ns": start_ns, "made": src.info.get("state_made"), "took_s": took,
                  "ids": snap.ids, "x": [round(float(v), 6) for v in snap.x]}))
src.close()
"""


def test_start_s_comes_from_a_saved_state_the_same_for_every_run(tmp_path):
    cfg = {"scenario": "scenarios/demo/demo.sumocfg", "backend": "libsumo", "start_s": 200,
           "state_cache_dir": str(tmp_path / "states")}
    runs = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", STATE_RUN, json.dumps(cfg)], cwd=REPO, capture_output=True,
                           text=True, timeout=180)
        assert r.returncode == 0, r.stderr
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["made"] is True and second["made"] is False
    assert first["start_ns"] == second["start_ns"] == 200 * 10**9  # begins at start_s, no fast-forward left
    assert (first["ids"], first["x"]) == (second["ids"], second["x"])  # every run from the same state
    assert second["took_s"] < first["took_s"]
    assert len(list((tmp_path / "states").glob("*.xml.gz"))) == 1


def test_the_frame_after_a_forward_seek_has_its_vehicle_table_and_speed_changes_apply():
    """Realtime, live SUMO: a seek 40 s ahead needs hundreds of SUMO steps; the next frame waits for
    them instead of publishing no table (a renderer would show an empty street for a frame)."""
    import time

    import msgspec

    from bridges.sumo.bridge import SumoBridge
    from bridges.sumo.config import Settings
    from bridges.sumo.stepper import Stepper
    from cosim import protocol as p
    from cosim.frameclock import FrameClock
    from tests.bridges.sumo.helpers import Capture

    s = msgspec.convert({"scenario": "scenarios/crossing/crossing.sumocfg", "start_s": 10, "state_cache_dir": None},
                        Settings)
    cap, stepper = Capture(), Stepper(s)
    try:
        stepper.start(60)
        clock = FrameClock(90, "realtime")
        bridge = SumoBridge(s, stepper, cap, lambda: 0, clock)
        for k in range(60):
            t = clock.t_ns(k)
            if k == 40:
                bridge.on_request(p.Request(what="sumo.seek:50"), k - 1)
            if k == 45:
                bridge.on_request(p.Request(what="sumo.speed:3"), k - 1)
            bridge.on_tick(p.Tick(frame=k, t_ns=t, sent_ns=t, dt_ns=clock.dt_ns, epoch_ns=0))
            time.sleep(1 / 90)
    finally:
        stepper.close()
    tables = {frame: sim_ns for frame, sim_ns, _ in cap.frames}
    assert 40 in tables and tables[40] >= 50 * 10**9, sorted(tables.items())[-25:]
    # and sumo.speed:3 from frame 45 on: three frames' worth of sim time per frame
    assert abs((tables[58] - tables[52]) - 3 * 6 * 10**9 / 90) < 1e6, (tables[52], tables[58])
