"""The fused CPU feature loop (numba) against the torch reference, and the bfloat16 network path."""
import subprocess
import sys

import msgspec
import numpy as np
import numba
import pytest
import torch

from refine_runtime.geometry import build_stencil, frame_and_features
from refine_runtime.kernels import FeatureTables, base_features, cpu_bfloat16_native, cpu_precision
from refine_runtime.model import ResidualModel
from refine_runtime.sampler import AssetIndex, Sampler
from tests.conftest import REPO


def _moving(seq, frames=(6, 7)):
    """Two consecutive base frames of the tiny garment, turned and rippled further so every feature
    (stretch, shear, curvature, velocity, the patch) is non-zero."""
    out = []
    for f in frames:
        a = 0.1 * f
        turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        out.append(((seq.base[f] + 0.02 * np.sin(seq.rest * (3 + f))) @ turn.T).astype(np.float32))
    return out


@pytest.mark.parametrize("radius", [0, 2])
def test_the_fused_loop_computes_what_the_torch_path_computes(tiny, radius):
    _, _, seq, ck = tiny
    st = build_stencil(seq.rest, seq.faces, ck.chart, ck.uv, 8, radius)
    prev, x = _moving(seq)
    frames, feats = base_features(x, prev, seq.fps, FeatureTables.from_stencil(st))
    ref_frames, ref_feats = frame_and_features(torch.from_numpy(x), torch.from_numpy(prev), st, seq.fps)
    assert feats.shape == ref_feats.shape == (seq.n, 8 + 3 * ((2 * radius + 1) ** 2 - 1))
    assert np.abs(ref_feats.numpy()).max(0).min() > 1e-4  # every feature column exercised
    np.testing.assert_allclose(frames, ref_frames.numpy(), atol=2e-5)
    np.testing.assert_allclose(feats, ref_feats.numpy(), atol=2e-4, rtol=1e-4)


def test_the_fused_loop_rejects_positions_of_another_asset(tiny):
    _, _, seq, ck = tiny
    tables = FeatureTables.from_stencil(build_stencil(seq.rest, seq.faces, ck.chart, ck.uv, 8, 0))
    with pytest.raises(ValueError, match=rf"positions must be \({seq.n}, 3\)"):
        base_features(np.zeros((seq.n - 1, 3), np.float32), np.zeros((seq.n - 1, 3), np.float32), 30.0, tables)


FIRST_CALL = """
import numba, numpy as np, torch
torch.set_num_threads(1)
from refine_runtime.geometry import build_stencil
from refine_runtime.kernels import FeatureTables, base_features
from refine_runtime.pattern import build_garment, parse_pattern, skirt_pattern
g = build_garment(parse_pattern(skirt_pattern(name="t")), 6, 5)
x = g.rest.astype(np.float32)
base_features(x, x, 30.0, FeatureTables.from_stencil(build_stencil(g.rest, g.faces, g.chart, g.uv)))
print(numba.get_num_threads(), torch.get_num_threads())
"""


def test_the_fused_loop_follows_torchs_thread_count_and_keeps_it():
    # a fresh process: the first call launches numba's OpenMP pool, which shares (and had reset) torch's count
    r = subprocess.run([sys.executable, "-c", FIRST_CALL], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["1", "1"]


def _patched_model(ck, n):
    cfg = msgspec.structs.replace(ck.model.cfg, patch_radius=2)
    torch.manual_seed(0)
    m = ResidualModel(cfg, ck.model.diffusion, ck.model.grid.charts, n)
    for lin in (m.mod_cond, m.mod_code, m.skip):
        torch.nn.init.normal_(lin.weight, std=0.05)
    m.pca_basis.copy_(torch.linalg.qr(torch.randn(3 * n, cfg.state_codes))[0].t())
    return m.eval()


@pytest.mark.parametrize("steps", [0, 2])
def test_the_sampler_gives_the_same_offsets_with_either_feature_path(tiny, steps):
    _, _, seq, ck = tiny
    m = _patched_model(ck, seq.n)
    index = AssetIndex(seq.rest, seq.faces, ck.chart, ck.uv, seq.stitches)
    fused, plain = (Sampler(m, index, seq.fps, steps=steps, fused=f) for f in (True, False))
    assert fused.tables is not None and plain.tables is None
    for f in range(1, 6):
        a, b = fused.refine(seq.base[f], seq.base[f - 1]), plain.refine(seq.base[f], seq.base[f - 1])
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_bfloat16_changes_the_offsets_by_a_small_fraction_and_returns_float32(tiny):
    _, _, seq, ck = tiny
    m = _patched_model(ck, seq.n)
    index = AssetIndex(seq.rest, seq.faces, ck.chart, ck.uv, seq.stitches)
    f32, bf16 = (Sampler(m, index, seq.fps, steps=0, precision=p) for p in ("float32", "bfloat16"))
    a = np.stack([f32.refine(seq.base[f], seq.base[f - 1]).numpy() for f in range(1, 10)])
    b = [bf16.refine(seq.base[f], seq.base[f - 1]) for f in range(1, 10)]
    assert b[0].dtype == torch.float32 and bf16.dtype == torch.bfloat16
    b = np.stack([x.numpy() for x in b])
    diff = np.linalg.norm(a - b, axis=-1).mean() / np.linalg.norm(a, axis=-1).mean()
    assert 0 < diff < 0.02, diff  # bfloat16 has 8 significant bits: a difference, and a small one


def test_precision_is_named_and_resolved():
    assert cpu_precision("auto") == ("bfloat16" if cpu_bfloat16_native() else "float32")
    assert cpu_precision("float32") == "float32"
    with pytest.raises(ValueError, match="precision must be float32 or bfloat16, not 'float16'"):
        Sampler.__init__(object.__new__(Sampler), None, None, 30.0, precision="float16")
