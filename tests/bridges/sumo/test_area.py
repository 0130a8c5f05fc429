"""The area of interest (docs/sumo.md) on the demo's real SUMO traffic: the area's tables hold
exactly the rows within its radius (plus those leaving through the hysteresis band), name their
rows by an id table of their own, and the band cuts how often that table changes."""
import numpy as np
import pytest

from helpers import run_bridge

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
