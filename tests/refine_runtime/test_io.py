import numpy as np
import pytest

from refine_runtime.config import NuvoConfig
from refine_runtime.errors import AssetError
from refine_runtime.nuvo import learn_charts
from refine_runtime.pattern import build_garment, parse_pattern, skirt_pattern
from refine_runtime.sequence import Sequence, load_mesh_sequence, load_sequence, save_sequence
from refine_runtime.sim import mesh_edges


def _seq(frames=3):
    g = build_garment(parse_pattern(skirt_pattern()), 4, 3)
    base = np.stack([g.rest + 0.01 * k for k in range(frames)]).astype(np.float32)
    return Sequence("s", 30.0, g.rest.astype(np.float32), g.faces, g.chart, g.uv, g.stitches, base,
                    np.full_like(base, 0.001))


def test_sequence_round_trip_and_interpolation(tmp_path):
    seq = _seq()
    again = load_sequence(save_sequence(seq, tmp_path / "s.safetensors"))
    assert again.name == "s" and again.fps == 30.0 and again.topology_key() == seq.topology_key()
    assert np.allclose(again.base, seq.base, atol=1e-3) and np.allclose(again.residual, 0.001, atol=1e-5)
    half = again.base_at(int(0.5e9 / 30))  # halfway between frames 0 and 1
    assert np.allclose(half, 0.5 * (again.base[0] + again.base[1]))
    assert np.allclose(again.base_at(int(3e9 / 30)), again.base[0])  # the recording loops


def test_bad_sequence_files(tmp_path):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(b"garbage")
    with pytest.raises(AssetError, match="bad.safetensors"):
        load_sequence(p)
    seq = _seq()
    broken = Sequence(seq.name, 30.0, seq.rest, seq.faces + 1000, seq.chart, seq.uv, seq.stitches, seq.base)
    with pytest.raises(AssetError, match="faces index vertices outside"):
        load_sequence(save_sequence(broken, tmp_path / "b.safetensors"))


def test_mesh_sequence_via_trimesh(tmp_path):
    import trimesh
    seq = _seq(frames=2)
    for sub, arr in (("base", seq.base), ("gt", seq.base + 0.002)):
        (tmp_path / sub).mkdir()
        for f, x in enumerate(arr):
            trimesh.Trimesh(x, seq.faces, process=False).export(tmp_path / sub / f"frame_{f:04d}.{'obj' if sub == 'base' else 'ply'}")
    faces, base, gt = load_mesh_sequence(tmp_path / "base", tmp_path / "gt", 30.0)
    assert np.array_equal(faces, seq.faces) and np.allclose(base, seq.base, atol=1e-5)
    assert np.allclose(gt - base, 0.002, atol=1e-5)
    trimesh.Trimesh(seq.base[0][:-3], seq.faces[:4], process=False).export(tmp_path / "gt" / "frame_0002.ply")
    with pytest.raises(AssetError, match="frames"):
        load_mesh_sequence(tmp_path / "base", tmp_path / "gt", 30.0)
    with pytest.raises(AssetError, match="does not exist"):
        load_mesh_sequence(tmp_path / "nope", None, 30.0)


def test_nuvo_learns_valid_coherent_charts():
    g = build_garment(parse_pattern(skirt_pattern()), 8, 6)
    chart, uv = learn_charts(g.rest, g.faces, NuvoConfig(charts=4, iterations=150, hidden=32), progress=False)
    assert chart.shape == (g.n,) and uv.shape == (g.n, 2)
    assert chart.min() >= 0 and chart.max() < 4 and 0 <= uv.min() and uv.max() <= 1
    edges, _ = mesh_edges(g.faces)
    assert (chart[edges[:, 0]] == chart[edges[:, 1]]).mean() > 0.7  # clustering: neighbours share charts
    same = chart[edges[:, 0]] == chart[edges[:, 1]]
    assert np.linalg.norm(uv[edges[same, 0]] - uv[edges[same, 1]], axis=-1).mean() < 0.3  # neighbours stay close


def test_non_contiguous_arrays_are_saved_in_logical_order(tmp_path):
    seq = _seq(frames=4)
    fortran = np.asfortranarray(seq.base)
    odd = Sequence(seq.name, 30.0, seq.rest, seq.faces, seq.chart, seq.uv, seq.stitches, fortran, np.asfortranarray(seq.residual))
    again = load_sequence(save_sequence(odd, tmp_path / "f.safetensors"))
    assert np.allclose(again.base, seq.base, atol=1e-3)


def test_mesh_asset_trains_with_a_learned_nuvo_index(tiny, tmp_path):
    """OBJ/PLY input end to end: trimesh frames -> Nuvo charts -> training -> a loadable checkpoint."""
    import msgspec
    import trimesh
    from refine_runtime.checkpoint import load_checkpoint
    from refine_runtime.config import TrainConfig
    from refine_runtime.train import build
    _, cfg, seq, _ = tiny
    for sub, arr in (("base", seq.base[:12]), ("gt", seq.gt[:12])):
        (tmp_path / sub).mkdir()
        for f, x in enumerate(arr):
            trimesh.Trimesh(x, seq.faces, process=False).export(tmp_path / sub / f"f{f:03d}.ply")
    raw = msgspec.to_builtins(cfg)
    raw["asset"] = {"meshes": {"base_dir": str(tmp_path / "base"), "gt_dir": str(tmp_path / "gt"), "fps": 30.0},
                    "frames": 12, "holdout_every": 4}
    raw["training"]["iterations"] = 40
    raw["nuvo"] = {"charts": 4, "iterations": 40, "hidden": 16}
    raw["output"] = {"sequence": str(tmp_path / "m.safetensors"), "checkpoint": str(tmp_path / "m_ck.safetensors")}
    mcfg = msgspec.convert(raw, TrainConfig)
    ck = build(mcfg, tmp_path, progress=False)
    again = load_checkpoint(mcfg.output.checkpoint, vertices=seq.n)
    assert again.chart.max() < 4 and np.isfinite(ck.stats["heldout"]["refined_l2_cm"])
