import json

import numpy as np
import pytest

from refine_runtime.errors import AssetError
from refine_runtime.pattern import build_garment, load_pattern, parse_pattern, skirt_pattern
from refine_runtime.unionfind import SeamGroups, stitch_consistency


def test_skirt_pattern_builds_a_closed_garment():
    g = build_garment(parse_pattern(skirt_pattern()), 6, 5)
    assert g.n == 4 * 30 and g.faces.max() < g.n
    assert len(g.stitches) == 4 * 5  # four side seams, one pair per row
    assert np.allclose(g.rest[g.stitches[:, 0]], g.rest[g.stitches[:, 1]])
    assert g.uv.min() >= 0 and g.uv.max() <= 1 and set(g.chart.tolist()) == {0, 1, 2, 3}
    assert g.pinned.sum() == 4 * 6  # the waist row
    seams = SeamGroups.from_pairs(g.n, g.stitches)
    assert seams.count == 4 * 5 and len(seams.index) == 2 * 4 * 5
    assert stitch_consistency(g.rest, seams).ok


def test_bundled_pattern_file_is_valid():
    p = load_pattern("assets/refine/skirt_pattern.json")
    assert len(p.panels) == 4 and len(p.stitches) == 4


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d["stitches"][0]["a"].update(panel="nope"), "unknown panel 'nope'"),
    (lambda d: d["panels"][0].update(corners=[[0, 0], [1, 0]]), "panels[0].corners"),
    (lambda d: d.update(colour="red"), "unknown key 'colour'"),
    (lambda d: d["panels"][1].update(name="gore0"), "unique"),
    (lambda d: d["stitches"][0]["b"].update(edge="top"), "left/right"),
])
def test_bad_patterns_are_rejected_with_the_key(mutate, needle):
    raw = skirt_pattern()
    mutate(raw)
    with pytest.raises(AssetError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        parse_pattern(raw, "x.json")


def test_unreadable_pattern_file(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    with pytest.raises(AssetError, match="p.json"):
        load_pattern(bad)
    with pytest.raises(AssetError, match="does not exist"):
        load_pattern(tmp_path / "missing.json")


def test_stitch_between_edges_that_do_not_meet():
    raw = skirt_pattern()
    raw["stitches"][0]["b"]["panel"] = "gore2"  # gore0.right is nowhere near gore2.left
    with pytest.raises(AssetError, match="do not meet"):
        build_garment(parse_pattern(raw), 5, 5)


def test_stitch_consistency_detects_a_split_seam():
    g = build_garment(parse_pattern(skirt_pattern()), 5, 4)
    seams = SeamGroups.from_pairs(g.n, g.stitches)
    moved = g.rest.copy()
    moved[g.stitches[3, 1]] += [0.0, 0.0, 0.01]
    rep = stitch_consistency(moved, seams, tolerance_m=1e-3)
    assert not rep.ok and rep.max_spread_m == pytest.approx(0.005, rel=1e-3)
