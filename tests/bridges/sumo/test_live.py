"""Real SUMO through the real stepping process (no syncserver): determinism, FCD replay, errors."""

import numpy as np
import pytest

from helpers import at_step_times, run_bridge

from cosim.errors import InputFileError

pytestmark = pytest.mark.timeout(120)
DEMO = "scenarios/demo/demo.sumocfg"
FRAMES = 270  # 3 s at 90 Hz


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("rec")
    fcd, native = out / "run.xml.gz", out / "native.xml"
    cap, section = run_bridge(FRAMES, backend="libsumo", scenario=DEMO, start_s=40, record_fcd=str(fcd),
                              sumo_args=["--fcd-output", str(native)])
    return cap, section, fcd, native


def tables_equal(a, b):
    assert len(a.frames) == len(b.frames)
    for (fa, sa, ta), (fb, sb, tb) in zip(a.frames, b.frames):
        assert (fa, sa) == (fb, sb)
        assert ta.keys() == tb.keys()
        for k in ta:
            assert ta[k].dtype == tb[k].dtype and np.array_equal(ta[k], tb[k]), (fa, k)


def test_two_seeded_lockstep_runs_are_identical(recorded):
    first, section, _, _ = recorded
    again, _ = run_bridge(FRAMES, backend="libsumo", scenario=DEMO, start_s=40)
    tables_equal(first, again)
    assert section["vehicles_max"] > 20 and section["lagged_frames"] == 0 and section["frames"] == FRAMES
    assert [m.ids for m in first.ids] == [m.ids for m in again.ids]
    assert first.frames[0][1] == 40_000_000_000  # sim_ns of frame 0 = start offset
    assert first.frames[90][1] == 41_000_000_000  # 90 frames at 90 Hz are exactly 1 s of sim (the frame clock)


@pytest.mark.parametrize("which", ["ours", "sumo_native"])
def test_fcd_replay_matches_the_live_run(recorded, which, tmp_path):
    live, _, ours, native = recorded
    replay, section = run_bridge(FRAMES, backend="fcd", scenario=str(ours if which == "ours" else native), start_s=40,
                                 fcd_cache_dir=str(tmp_path))
    assert section["backend"] == "fcd" and section["lagged_frames"] == 0 and section["fcd_cache"] == "built"
    a, b = at_step_times(live), at_step_times(replay)
    assert a.keys() == b.keys()
    for f in a:
        assert np.array_equal(a[f]["handle"], b[f]["handle"]), f
        err = np.linalg.norm(a[f]["position_cm"] - b[f]["position_cm"], axis=1)
        assert err.max(initial=0) <= 1.0, (f, err.max())  # within 1 cm at SUMO step times


def test_events_and_ids(recorded):
    cap, section, _, _ = recorded
    kinds = {e.kind for e in cap.events}
    assert {"depart", "tls_phase"} <= kinds
    for e in cap.events:
        assert e.sim_ns is not None and e.t_ns == e.sim_ns - 40_000_000_000  # time_scale 1, frame 0 = 40 s
    assert section["ids_tables_sent"] == len(cap.ids) > 1
    assert cap.table_mismatches == 0  # every frame's handles are exactly the id table in force
    assert section["events"]["tls_phase"] == sum(e.kind == "tls_phase" for e in cap.events)


def test_missing_scenario_names_the_file(tmp_path):
    with pytest.raises(InputFileError, match=r"nothere.sumocfg' does not exist"):
        run_bridge(1, backend="libsumo", scenario=str(tmp_path / "nothere.sumocfg"))
    bad = tmp_path / "bad.xml"
    bad.write_text("<fcd-export><timestep time='0'><vehicle id='a' x='1'/></timestep></fcd-export>")
    with pytest.raises(InputFileError, match=r"bad.xml'.*vehicle 'a' lacks attribute 'y'"):
        run_bridge(1, backend="fcd", scenario=str(bad), fcd_cache_dir=str(tmp_path / "cache"))


def test_traci_backend_matches_libsumo():
    a, _ = run_bridge(90, backend="libsumo", scenario=DEMO, start_s=20)
    b, section = run_bridge(90, backend="traci", scenario=DEMO, start_s=20)
    assert section["backend"] == "traci"
    tables_equal(a, b)
