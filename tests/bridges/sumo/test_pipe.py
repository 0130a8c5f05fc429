
import msgspec
import numpy as np
import pytest

from bridges.sumo import pipe
from bridges.sumo.coords import CoordinateFrame, wrap180
from bridges.sumo.events import EventDetector
from bridges.sumo.interp import Workspace, evaluate, velocity_cms
from bridges.sumo.segment import SegmentBuilder
from bridges.sumo.snapshot import Snapshot
from cosim import protocol as p
from cosim.errors import ProtocolError

STEP_NS = 100_000_000


def random_segments(n: int = 300, steps: int = 4, seed: int = 1):
    """Random traffic with departures, arrivals, headings across +-180 and long names."""
    rng = np.random.default_rng(seed)
    b = SegmentBuilder(CoordinateFrame((10.0, -5.0, 1.0)), EventDetector(["depart", "arrive"], 7.0))
    ids = [f"veh{i}" + ("x" * 200 if i == 3 else "") for i in range(n + 50)]
    snaps = []
    for k in range(steps + 1):
        live = sorted(rng.choice(len(ids), n, replace=False))
        rows = np.column_stack([rng.uniform(-5000, 5000, n), rng.uniform(-5000, 5000, n), rng.uniform(0, 30, n),
                                rng.uniform(0, 360, n), rng.uniform(0, 30, n), rng.uniform(-5, 5, n)])
        snaps.append(Snapshot.from_rows(k * STEP_NS, [ids[i] for i in live], ["car"] * n, rows))
    b.first(snaps[0])
    return [b.next(s) for s in snaps[1:]] + [b.next(None)]


def hermite_reference(seg_knots, u, span):
    """The textbook form: h00*p0 + h10*T*m0 + h01*p1 + h11*T*m1."""
    p0, m0, p1, m1 = seg_knots
    h00, h10 = 2 * u**3 - 3 * u**2 + 1, (u**3 - 2 * u**2 + u) * span
    h01, h11 = -2 * u**3 + 3 * u**2, (u**3 - u**2) * span
    return h00 * p0 + h10 * m0 + h01 * p1 + h11 * m1


def test_coefficients_are_the_hermite_curve():
    seg = random_segments()[0]
    c3, c2, c1, c0 = seg.pos_coef
    span = (seg.s_b - seg.s_a) * 1e-9
    # recover the knots from the coefficients, then compare the curves at many u
    p0, m0 = c0, c1 / span
    p1 = c0 + c1 + c2 + c3
    m1 = (c1 + 2 * c2 + 3 * c3) / span
    for u in np.linspace(0, 1, 11):
        table = evaluate(seg, seg.s_a + round(u * (seg.s_b - seg.s_a)))
        uu = (round(u * (seg.s_b - seg.s_a))) / (seg.s_b - seg.s_a)
        ref = hermite_reference((p0, m0, p1, m1), uu, span)
        np.testing.assert_allclose(table["position_cm"], ref.astype(np.float32), rtol=0, atol=0.07)  # f32 ulp at 1e6 cm
        yaw = wrap180(seg.lin[0, 0] + uu * seg.lin[1, 0])
        np.testing.assert_allclose(table["yaw_deg"], yaw.astype(np.float32), atol=2e-5)
        assert table["yaw_deg"].min() > -180.0 and table["yaw_deg"].max() <= 180.0
        np.testing.assert_allclose(table["speed_cms"], (seg.lin[0, 2] + uu * seg.lin[1, 2]).astype(np.float32), atol=1e-4)
        assert all(table[k].dtype == np.float32 for k in ("position_cm", "yaw_deg", "pitch_deg", "speed_cms"))


def test_workspace_reuse_gives_fresh_identical_tables():
    segs = random_segments()
    work = Workspace()
    for seg in segs:
        t = seg.s_a + (seg.s_b - seg.s_a) // 3
        a, b = evaluate(seg, t, work), evaluate(seg, t)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    first = evaluate(segs[0], segs[0].s_a, work)
    kept = first["position_cm"].copy()
    evaluate(segs[1], segs[1].s_b, work)
    np.testing.assert_array_equal(first["position_cm"], kept)  # a published table is never overwritten


def test_terminal_segment_stands_still():
    end = random_segments()[-1]
    assert end.terminal
    np.testing.assert_array_equal(evaluate(end, end.s_a + 10**9)["position_cm"], evaluate(end, end.s_a)["position_cm"])
    assert not velocity_cms(end, end.s_a).any()


def test_segment_round_trip_and_the_id_table_arrays_go_on_the_bus_as_built():
    tables = 0
    for seg in random_segments():
        frames = [bytes(f) for f in pipe.encode_segment(seg)]
        back = pipe.decode_to_bridge(frames)
        np.testing.assert_array_equal(back.handles, seg.handles)
        np.testing.assert_array_equal(back.pos_coef, seg.pos_coef)
        np.testing.assert_array_equal(back.lin, seg.lin)
        assert (back.table is None) == (seg.table is None)
        if seg.table is None:
            continue
        tables += 1
        built = seg.table.arrays
        assert list(back.table.arrays) == list(built) == list(p.VEHICLE_ID_ARRAYS)
        for k, a in built.items():
            assert back.table.arrays[k].dtype == a.dtype
            np.testing.assert_array_equal(back.table.arrays[k], a)
        # what the bridge publishes: the stepping process's arrays, byte for byte, readable by any subscriber
        sent = [bytes(f) for f in p.encode(p.TOPIC_VEHICLE_IDS, p.VehicleIds(frame=5, t_ns=7, ids_version=back.table.version),
                                           back.table.arrays)]
        assert sent[2:] == [a.tobytes() for a in built.values()]
        _, msg, arrays = p.bus_decoder().decode(sent)
        handles, ids, types, *_ = p.vehicle_id_table(msg, arrays)
        assert handles == seg.handles.tolist() and types == ["car"] * len(seg)
        assert len(set(ids)) == len(ids) and all(i.startswith("veh") and len(i) <= p.NAME_LIMIT for i in ids)
        assert [i for i in ids if i.startswith("veh3x")] in ([], ["veh3" + "x" * 124])  # clipped to 128 characters
    assert tables > 0


def _rewrite_segment(frames, edit):
    """``frames`` with the header's array list and the payload edited together by ``edit(pairs)``."""
    header = pipe._to_bridge.decode(frames[0])
    pairs = edit(list(zip(header.arrays, frames[1:])))
    header = msgspec.structs.replace(header, arrays=[spec for spec, _ in pairs])
    return [msgspec.msgpack.encode(header), *[frame for _, frame in pairs]]


def test_malformed_segments_are_rejected():
    seg = next(s for s in random_segments() if s.table is not None)
    frames = [bytes(f) for f in pipe.encode_segment(seg)]
    n = len(seg)

    def shorter(pairs, names):  # the arrays `names` with their last row cut off
        return [(p.ArraySpec(name=s.name, dtype=s.dtype, shape=[n - 1, *s.shape[1:]]), f[:len(f) * (n - 1) // n])
                if s.name in names else (s, f) for s, f in pairs]
    with pytest.raises(ProtocolError, match="id table: .*lengths differ"):
        pipe.decode_to_bridge(_rewrite_segment(frames, lambda pairs: shorter(pairs, {"table.ids"})))
    with pytest.raises(ProtocolError, match="id table: .*missing array 'types'"):
        pipe.decode_to_bridge(_rewrite_segment(frames, lambda pairs: [x for x in pairs if x[0].name != "table.types"]))
    all_three = {"table." + k for k in p.VEHICLE_ID_ARRAYS}  # consistent, but not the segment's vehicles
    with pytest.raises(ProtocolError, match=f"id table of {n - 1} vehicles for {n}"):
        pipe.decode_to_bridge(_rewrite_segment(frames, lambda pairs: shorter(pairs, all_three)))
    header = pipe._to_bridge.decode(frames[0])
    specs = list(header.arrays)
    specs[1] = p.ArraySpec(name="pos_coef", dtype="<f8", shape=[2, len(seg), 6])  # right size, wrong shape
    with pytest.raises(ProtocolError, match="shapes"):
        pipe.decode_to_bridge([msgspec.msgpack.encode(msgspec.structs.replace(header, arrays=specs)), *frames[1:]])
