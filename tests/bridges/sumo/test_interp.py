"""Interpolation on synthetic trajectories (SUMO units in, wire table out)."""
import numpy as np

from bridges.sumo.coords import CoordinateFrame
from bridges.sumo.events import EventDetector
from bridges.sumo.interp import evaluate, velocity_cms
from bridges.sumo.segment import SegmentBuilder
from bridges.sumo.snapshot import Snapshot
from cosim import protocol as p

STEP_NS = 100_000_000
FRAME_NS = round(1e9 / 90)


def builder() -> SegmentBuilder:
    return SegmentBuilder(CoordinateFrame(), EventDetector(["depart", "arrive", "emergency_braking"], 7.0))


def circle(k: int, radius: float = 20.0, speed: float = 10.0) -> Snapshot:
    """A car driving clockwise (seen from above) round a circle: every heading, across +-180 yaw."""
    t = k * STEP_NS / 1e9
    phi = speed * t / radius  # clockwise angle from north, seen from the centre
    x, y = radius * np.sin(phi), radius * np.cos(phi)
    heading = np.degrees(phi + np.pi / 2) % 360.0  # tangent of a clockwise circle
    return Snapshot.from_rows(k * STEP_NS, ["car"], ["passenger"], [[x, y, 0.0, heading, speed, 0.0]])


def segments(snaps):
    b = builder()
    b.first(snaps[0])
    return [b.next(s) for s in snaps[1:]]


def test_knots_are_exact_and_velocity_is_continuous():
    segs = segments([circle(k) for k in range(60)])
    for s0, s1 in zip(segs, segs[1:]):
        np.testing.assert_allclose(evaluate(s0, s0.s_b)["position_cm"], evaluate(s1, s1.s_a)["position_cm"], atol=1e-2)
        jump = np.linalg.norm(velocity_cms(s0, s0.s_b) - velocity_cms(s1, s1.s_a))
        assert jump < 1e-6  # C1: the tangent at a knot is the SUMO velocity on both sides
    # and the curve stays on the true circle between knots (chord error of linear would be ~6 cm)
    s = segs[10]
    mid = evaluate(s, (s.s_a + s.s_b) // 2)["position_cm"][0]
    assert abs(np.hypot(mid[0], mid[1]) - 2000.0) < 0.5


def test_frame_to_frame_velocity_change_is_bounded_at_90hz():
    segs = segments([circle(k) for k in range(40)])
    times = range(segs[0].s_a, segs[-1].s_b, FRAME_NS)
    pos = []
    for t in times:
        seg = next(s for s in segs if s.s_a <= t < s.s_b)
        pos.append(evaluate(seg, t)["position_cm"][0].astype(np.float64))
    vel = np.diff(np.array(pos), axis=0) / (FRAME_NS / 1e9)
    dv = np.linalg.norm(np.diff(vel, axis=0), axis=1)
    # centripetal acceleration v^2/r = 5 m/s^2 -> 0.056 m/s per frame; allow 3x for the cubic's wobble
    assert dv.max() < 3 * 500.0 * FRAME_NS / 1e9


def test_heading_is_continuous_across_180():
    segs = segments([circle(k) for k in range(140)])  # more than one full turn
    yaws = []
    for seg in segs:
        for t in range(seg.s_a, seg.s_b, FRAME_NS):
            yaws.append(float(evaluate(seg, t)["yaw_deg"][0]))
    yaws = np.array(yaws)
    assert yaws.min() < -170 and yaws.max() > 170  # it did cross the +-180 seam
    step = np.abs((np.diff(yaws) + 180) % 360 - 180)
    assert step.max() < 360 * 10 / (2 * np.pi * 20) / 90 * 1.5  # yaw rate 28.6 deg/s -> 0.32 deg/frame


def test_depart_arrive_and_emergency_braking():
    row = lambda x, v: [x, 0.0, 0.0, 90.0, v, 0.0]  # noqa: E731 (heading east)
    a = Snapshot.from_rows(0, ["a_stay", "b_leave"], ["t", "t"], [row(0, 10), row(50, 10)])
    b = Snapshot.from_rows(STEP_NS, ["a_stay", "c_new"], ["t", "t"], [row(1, 9.5), row(80, 0)])
    c = Snapshot.from_rows(2 * STEP_NS, ["a_stay", "c_new"], ["t", "t"], [row(1.5, 0.5), row(80, 0)])
    bld = builder()
    bld.first(a)
    s1, s2 = bld.next(b), bld.next(c)
    mid = evaluate(s1, STEP_NS // 2)
    assert mid["handle"].tolist() == [0, 1]  # "c_new" is not drawn before it departs
    np.testing.assert_allclose(mid["position_cm"][1], [5000 + 50, 0, 0], atol=1e-3)  # "b_leave" goes straight on
    assert sorted((e.kind, e.subject) for e in s1.events) == [("arrive", "b_leave"), ("depart", "c_new")]
    assert evaluate(s2, s2.s_a)["handle"].tolist() == [0, 2]  # "c_new" appears where SUMO put it
    assert s1.table is not None and s2.table is not None
    assert p.vehicle_id_table(p.VehicleIds(ids_version=s2.table.version), s2.table.arrays)[:3] == ([0, 2], ["a_stay", "c_new"], ["t", "t"])
    assert [(e.kind, e.subject) for e in s2.events] == [("emergency_braking", "a_stay")]  # 90 m/s^2, from the speeds


def test_terminal_segment_holds_last_state():
    bld = builder()
    bld.first(circle(0))
    bld.next(circle(1))
    end = bld.next(None)
    assert end.terminal and end.s_a == end.s_b
    np.testing.assert_allclose(evaluate(end, end.s_a + 10**9)["position_cm"], evaluate(end, end.s_a)["position_cm"])


def test_a_person_named_like_a_vehicle_does_not_repeat_its_events():
    from bridges.sumo.events import EventDetector
    det = EventDetector(["depart", "arrive"], 7.0)
    got = det.detect(0, [], ["car7", "car7"], [], np.zeros(2), np.zeros(2), np.zeros(2), None,
                     np.array([False, True]))
    assert [(e.kind, e.subject) for e in got] == [("depart", "car7")]


def test_after_a_reset_the_next_segment_carries_its_id_table():
    """The bridge drops segments in flight on a seek; the first one after must name its vehicles."""
    bld = builder()
    snap = Snapshot.from_rows(0, ["a"], ["t"], [[0, 0, 0, 90, 10, 0]])
    bld.first(snap)
    assert bld.next(Snapshot.from_rows(STEP_NS, ["a"], ["t"], [[1, 0, 0, 90, 10, 0]])).table is not None
    assert bld.next(Snapshot.from_rows(2 * STEP_NS, ["a"], ["t"], [[2, 0, 0, 90, 10, 0]])).table is None
    bld.reset()
    bld.first(Snapshot.from_rows(5 * STEP_NS, ["a"], ["t"], [[5, 0, 0, 90, 10, 0]]))
    assert bld.next(Snapshot.from_rows(6 * STEP_NS, ["a"], ["t"], [[6, 0, 0, 90, 10, 0]])).table is not None
