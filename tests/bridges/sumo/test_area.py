"""The area of interest (docs/sumo.md) on the demo's real SUMO traffic: the area's tables hold
exactly the rows within its radius (plus those leaving through the hysteresis band), name their
rows by an id table of their own, and the band cuts how often that table changes."""
import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO, at_step_times, crossing_with_walkers, run_bridge, sumo_fcd

from cosim import protocol as p

pytestmark = pytest.mark.timeout(180)
DEMO = "scenarios/demo/demo.sumocfg"
CENTRE, RADIUS = (225.0, 225.0), 120.0


def area_run(hysteresis_m: float):
    return run_bridge(900, backend="libsumo", scenario=DEMO, start_s=60,
                      area={"radius_m": RADIUS, "hysteresis_m": hysteresis_m, "center_m": CENTRE})


@pytest.fixture(scope="module")
def runs():
    return area_run(20.0), area_run(0.0)


def test_the_area_holds_what_is_inside_and_names_it(runs):
    (cap, section), _ = runs
    full = {frame: table for frame, _, table in cap.frames}
    ids = None
    frames = 0
    for msg, arrays in cap.area:
        if isinstance(msg, p.VehicleIds):
            ids = (msg.ids_version, p.vehicle_id_table(msg, arrays))
            continue
        frames += 1
        assert ids is not None and ids[0] == msg.ids_version and ids[1].handles == arrays["handle"].tolist()
        table = full[msg.frame]
        d = np.hypot(table["position_cm"][:, 0] / 100 - CENTRE[0], -table["position_cm"][:, 1] / 100 - CENTRE[1])
        inside = set(table["handle"][d < RADIUS].tolist())
        band = set(table["handle"][d < RADIUS + 20.0].tolist())
        got = set(arrays["handle"].tolist())
        assert inside <= got <= band, msg.frame
        rows = np.isin(table["handle"], arrays["handle"])
        for k in ("position_cm", "yaw_deg", "speed_cms", "signals"):  # the same rows, unchanged
            np.testing.assert_array_equal(arrays[k], table[k][rows])
        # what each row is, as in the full id table
        full_ids = next(t for t in reversed(cap.ids) if t.ids_version == cap.vehicle_msgs[msg.frame].ids_version)
        where = {h: i for i, h in enumerate(full_ids.handles)}
        assert ids[1].ids == [full_ids.ids[where[h]] for h in ids[1].handles]
    assert frames == 900 and section["area"]["ids_tables_sent"] > 1
    assert section["area"]["rows"]["p50"] < section["vehicles"]["p50"]  # the area is a part of the city


def test_the_hysteresis_band_keeps_the_area_steady(runs):
    (_, with_band), (_, without) = runs
    assert with_band["area"]["ids_tables_sent"] < without["area"]["ids_tables_sent"]


def test_only_the_last_frames_members_stay_through_the_band():
    """A vehicle that was inside, left the table and comes back in the band is not in the area
    (handles are kept for life, so marks of vehicles gone must not linger)."""
    from bridges.sumo.area import Area
    from bridges.sumo.config import AreaOfInterest
    area = Area(AreaOfInterest(radius_m=100, hysteresis_m=20), (0.0, 0.0, 0.0))
    at = lambda *xs: np.array([[x * 100, 0, 0] for x in xs], dtype=np.float32)  # metres east of the centre
    keep, _ = area.select(np.array([1, 2], "<u4"), at(50, 110))
    assert keep.tolist() == [True, False]
    keep, _ = area.select(np.array([1, 2], "<u4"), at(110, 90))  # 1 stays through the band, 2 enters
    assert keep.tolist() == [True, True]
    keep, _ = area.select(np.array([2], "<u4"), at(90))  # 1 leaves the table
    keep, _ = area.select(np.array([1, 2], "<u4"), at(110, 90))  # and comes back in the band: outside
    assert keep.tolist() == [False, True]


def test_the_area_at_the_source_is_what_sumo_has_within_its_outer_edge(tmp_path):
    """With ``at_source`` SUMO selects (context subscriptions): each step's table holds exactly the
    vehicles and persons that SUMO's own FCD output of the same run puts within radius + band."""
    cfg = crossing_with_walkers(tmp_path)
    fcd = tmp_path / "fcd.xml"
    centre, edge = (300.0, 100.0), 60.0 + 20.0
    cap, section = run_bridge(90 * 30, backend="libsumo", scenario=str(cfg), state_cache_dir=None,
                              sumo_args=["--fcd-output", str(fcd)],
                              area={"radius_m": 60, "hysteresis_m": 20, "center_m": centre, "at_source": True})
    truth = sumo_fcd(fcd)
    assert section["lagged_frames"] == 0 and cap.table_mismatches == 0 and section["area"]["at_source"]
    kept = left_out = persons = 0
    for frame, table in at_step_times(cap).items():
        ids = next(t for t in reversed(cap.ids) if t.handles == table["handle"].tolist())
        got = {("person" if c == "pedestrian" else "vehicle", v) for c, v in zip(ids.classes, ids.ids)}
        d = {k: np.hypot(a["x"] - centre[0], a["y"] - centre[1]) for k, a in truth[cap.frames[frame][1]].items()}
        near = {k for k, x in d.items() if x < edge - 0.05}
        far = {k for k, x in d.items() if x > edge + 0.05}  # FCD rounds to 2 decimals
        assert near <= got and not got & far, frame
        kept, left_out, persons = kept + len(got), left_out + len(far), persons + ids.classes.count("pedestrian")
    assert kept > 100 and left_out > 100 and persons > 20  # it selected, and persons are in it


MOVE = """
import json, math, sys, msgspec, libsumo
from bridges.sumo.backends import SumoSource
from bridges.sumo.config import Settings
src = SumoSource(msgspec.convert(json.loads(sys.argv[1]), Settings))
src.start()
out = []
for where in ([150.0, 150.0], [450.0, 300.0], None):
    if where:
        src.place(*where, 0.0)
    for _ in range(50):
        snap = src.step()
    truth = {v: libsumo.vehicle.getPosition(v) for v in libsumo.vehicle.getIDList()}
    c = where or [450.0, 300.0]
    out.append({"got": sorted(snap.ids), "near": sorted(v for v, (x, y) in truth.items() if math.dist((x, y), c) < 99.9),
                "far": sorted(v for v, (x, y) in truth.items() if math.dist((x, y), c) > 100.1), "all": len(truth)})
print(json.dumps(out))
src.close()
"""


def test_the_area_at_the_source_follows_the_participant():
    """The area's centre moves where the participant is (``place``), and SUMO's selection with it;
    truth: libsumo's own positions of every vehicle."""
    cfg = {"scenario": DEMO, "backend": "libsumo", "start_s": 60, "state_cache_dir": None,
           "area": {"radius_m": 80, "hysteresis_m": 20, "center_m": [150, 150], "at_source": True}}
    r = subprocess.run([sys.executable, "-c", MOVE, json.dumps(cfg)], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    for step in json.loads(r.stdout.strip().splitlines()[-1]):
        got = set(step["got"])
        assert set(step["near"]) <= got and not got & set(step["far"]) and len(got) < step["all"]


@pytest.mark.parametrize("settings, why", [
    ({"backend": "fcd", "area": {"radius_m": 50, "at_source": True}}, "area.at_source needs live SUMO"),
    ({"area": {"radius_m": 0, "at_source": True}}, "area.radius_m > 0"),
    ({"backend": "fcd", "participant": {"enabled": True}}, "participant.enabled needs live SUMO")])
def test_contradicting_settings_are_refused_before_launch(settings, why):
    import msgspec

    from bridges.sumo.config import Settings, check_settings
    from cosim.errors import ConfigError
    with pytest.raises(ConfigError, match=why):
        check_settings(msgspec.convert(settings, Settings))
