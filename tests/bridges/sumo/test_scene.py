"""The complete scene per frame (docs/protocol.md, protocol v5), held against SUMO's own outputs:
its FCD (positions of vehicles and persons, signal bits) and its traffic-light state output
(SaveTLSStates), written by the same SUMO run the bridge drives."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from helpers import at_step_times, crossing_with_walkers, run_bridge, sumo_fcd

pytestmark = pytest.mark.timeout(180)
FRAMES = 90 * 30


@pytest.fixture(scope="module")
def crossing(tmp_path_factory):
    """The bundled crossing with walkers crossing the street on the zebra, in front of the cars."""
    d = tmp_path_factory.mktemp("crossing")
    cfg = crossing_with_walkers(d)
    fcd = d / "fcd.xml"
    cap, section = run_bridge(FRAMES, backend="libsumo", scenario=str(cfg), state_cache_dir=None,
                              sumo_args=["--fcd-output", str(fcd), "--fcd-output.signals", "true"])
    return cap, section, sumo_fcd(fcd)


def test_vehicles_and_persons_are_where_sumo_says_with_its_signals(crossing):
    cap, section, fcd = crossing
    assert section["lagged_frames"] == 0 and cap.table_mismatches == 0
    seen_persons = braking = 0
    for frame, table in at_step_times(cap).items():
        sim_ns = cap.frames[frame][1]
        ids = next(t for t in reversed(cap.ids) if t.handles == table["handle"].tolist())
        truth = fcd[sim_ns]
        tags = ["person" if c == "pedestrian" else "vehicle" for c in ids.classes]
        assert sorted(zip(tags, ids.ids)) == sorted(truth), sim_ns  # the same vehicles and persons
        for i, (tag, vid) in enumerate(zip(tags, ids.ids)):
            t = truth[tag, vid]
            x, y = table["position_cm"][i, 0] / 100, -table["position_cm"][i, 1] / 100
            assert abs(x - t["x"]) < 0.01 and abs(y - t["y"]) < 0.01, (sim_ns, vid)  # FCD has 2 decimals
            assert int(table["signals"][i]) == int(t.get("signals", 0)), (sim_ns, vid)
        seen_persons += tags.count("person")
        braking += int((table["signals"] & 8).astype(bool).sum())
    assert seen_persons > 100 and braking > 10  # walkers on the zebra, and cars braking for them


def test_what_each_one_is_comes_from_its_type(crossing):
    cap, _, _ = crossing
    rows = {}
    for t in cap.ids:
        for vid, vtype, vclass, size, color in zip(t.ids, t.types, t.classes, t.size_cm.tolist(), t.color.tolist()):
            rows[vid, vclass] = (vtype, size, color)
    cars = [v for (vid, c), v in rows.items() if c == "passenger"]
    walkers = [v for (vid, c), v in rows.items() if c == "pedestrian"]
    assert cars and walkers
    # scenarios/crossing/routes.rou.xml: vType car, length 4.5, width 1.8, color 0.2,0.5,0.9 (SUMO's
    # default height for a passenger car 1.5 m); SUMO's default pedestrian: 0.215 x 0.478 x 1.719 m
    assert {(t, tuple(s), tuple(c)) for t, s, c in cars} == {("car", (450.0, 180.0, 150.0), (51, 128, 230, 255))}
    (ptype, psize, _), = {(t, tuple(s), tuple(c)) for t, s, c in walkers}
    assert ptype == "DEFAULT_PEDTYPE" and np.allclose(psize, (21.5, 47.8, 171.9), atol=0.01)
    assert not any(vid == "participant" for vid, _ in rows)  # never the participant's own SUMO person


def test_traffic_lights_follow_sumos_own_state_output(tmp_path):
    """The demo's 16 signalised junctions: at every frame, the TRAFFIC_LIGHTS table in force (by the
    frame's lights_version) is the state SUMO's SaveTLSStates output gives for that sim time."""
    add = tmp_path / "tls.add.xml"
    out = tmp_path / "tls.xml"
    add.write_text(f'<additional><timedEvent type="SaveTLSStates" dest="{out}"/></additional>')
    cap, section = run_bridge(900, backend="libsumo", scenario="scenarios/demo/demo.sumocfg", start_s=40,
                              sumo_args=["--additional-files", str(add)])
    changes = [(round(float(e.get("time")) * 1e9), e.get("id"), e.get("state")) for e in ET.parse(out).getroot()]
    assert cap.lights and section["lights_tables_sent"] == len(cap.lights)
    versions = {msg.lights_version: table for msg, table in cap.lights}
    first_frame_of = {}
    for msg, _ in cap.lights:
        first_frame_of.setdefault(msg.lights_version, msg.frame)
    checked = 0
    for frame, sim_ns, _ in cap.frames[::9]:
        version = cap.vehicle_msgs[frame].lights_version
        assert version in versions and first_frame_of[version] <= frame  # sent before (or with) the table using it
        truth = {}
        for t, tls, state in changes:
            if t <= sim_ns:
                truth[tls] = state
        shown = versions[version]
        assert {k: shown[k] for k in truth} == truth, sim_ns
        checked += 1
    assert checked >= 100 and len(versions) >= 3  # the demo's lights switch together, every ~30 s
    assert any(40e9 < t <= cap.frames[-1][1] for t, _, _ in changes)
