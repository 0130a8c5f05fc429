import numpy as np

from refine_runtime.body import SwaySitBody
from refine_runtime.lowpass import low_pass
from refine_runtime.metrics import normal_variation
from refine_runtime.pattern import build_garment, gored_pattern, parse_pattern, skirt_pattern
from refine_runtime.sim import SimSettings, edge_strain, simulate
from refine_runtime.unionfind import SeamGroups, stitch_consistency


def test_cloth_hangs_follows_the_body_and_keeps_seams_closed():
    g = build_garment(parse_pattern(skirt_pattern()), 10, 8)
    body = SwaySitBody(duration_s=1.0)
    fine = simulate(g, body, 30, SimSettings(substeps=6, iterations=3, settle_s=0.3))
    assert fine.shape == (30, g.n, 3) and np.isfinite(fine).all()
    assert stitch_consistency(fine, SeamGroups.from_pairs(g.n, g.stitches), 1e-6).ok
    pose = body.pose(29 / 30)
    assert np.allclose(fine[29][g.pinned], pose.waist_transform(g.rest[g.pinned], 1.0), atol=1e-5)
    assert fine[:, ~g.pinned, 1].min() > 0.0  # it hangs, it does not fall
    for f in (0, 15, 29):  # nothing ends inside the body capsules (beyond a few mm)
        p = body.pose(f / 30)
        for a, b, r in zip(p.a, p.b, p.radius):
            ab = b - a
            t = np.clip((fine[f] - a) @ ab / (ab @ ab), 0, 1)
            assert np.linalg.norm(fine[f] - (a + t[:, None] * ab), axis=-1).min() > r - 0.01
    base = low_pass(g, fine, 6)
    assert stitch_consistency(base, SeamGroups.from_pairs(g.n, g.stitches), 1e-6).ok
    assert normal_variation(base, g.faces).mean() < normal_variation(fine, g.faces).mean()


def test_tracking_holds_the_fine_cloths_coarse_modes_and_leaves_the_detail():
    from refine_runtime.study import coarse_to_fine
    pattern = parse_pattern(skirt_pattern())
    fine, coarse = build_garment(pattern, 12, 10), build_garment(pattern, 6, 5)
    idx, w = coarse_to_fine(coarse, fine)
    body = SwaySitBody(duration_s=1.0, sway_m=0.08)
    settings = SimSettings(substeps=6, iterations=4, settle_s=0.3)
    tracked, low = simulate(fine, body, 30, settings, tracking=(coarse, idx, w, 1e-6))
    free = simulate(fine, body, 30, settings)
    assert np.array_equal(low, simulate(coarse, body, 30, settings))  # the coarse cloth is not disturbed

    def restricted(x: np.ndarray) -> np.ndarray:
        """The fine frames restricted to the coarse vertices (transpose of the bilinear map, normalised)."""
        out = np.zeros((len(x), coarse.n, 3))
        for k in range(4):
            np.add.at(out, (slice(None), idx[:, k]), x * w[None, :, k, None])
        return out / np.bincount(idx.ravel(), w.ravel(), minlength=coarse.n)[None, :, None]

    gap_tracked = np.linalg.norm(restricted(tracked) - low, axis=-1).mean()
    gap_free = np.linalg.norm(restricted(free) - low, axis=-1).mean()
    assert gap_tracked < 0.5 * gap_free, (gap_tracked, gap_free)
    base = (low[:, idx] * w[None, :, :, None]).sum(2)
    # the detail between the coarse vertices stays: the tracked cloth is not the bilinear base
    assert normal_variation(tracked, fine.faces).mean() > 1.3 * normal_variation(base, fine.faces).mean()
    # and tracking does not stretch it far beyond the coarse cloth it follows (the pattern's lengths
    # are the truth; a target at the coarse positions themselves stretched it ~17 %). Some stretch is
    # the price of tracking: at the hips the coarse surface between its vertices cuts into the body
    strain_tracked = np.abs(edge_strain(fine.rest, fine.faces, tracked[-1])).mean()
    strain_coarse = np.abs(edge_strain(coarse.rest, coarse.faces, low[-1])).mean()
    assert strain_tracked < min(0.08, 2 * strain_coarse + 0.01), (strain_tracked, strain_coarse)


def test_gauss_seidel_holds_a_long_panel_at_its_length():
    """A 60-row tube hanging from a band around a still body: the pattern's lengths are the outside
    truth. The Jacobi form this solver replaced hung it 47 % long on average (5 sweeps a substep)."""
    g = build_garment(parse_pattern(gored_pattern("tube", 1, 1.2, 1.2, 0.6, 1.0)), 80, 60)
    body = SwaySitBody(duration_s=1.0, sway_m=0.0, sit_drop_m=0.0, yaw_deg=0.0)
    hung = simulate(g, body, 5, SimSettings(settle_s=0.5))
    strain = edge_strain(g.rest, g.faces, hung[-1])
    assert np.abs(strain).mean() < 0.03 and np.percentile(strain, 99) < 0.15, (np.abs(strain).mean(), np.percentile(strain, 99))
