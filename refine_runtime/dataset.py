"""Training data: simulate a pattern garment (fine XPBD ground truth + low-passed base), or read an
OBJ/PLY sequence pair and index it with a learned Nuvo chart/UV map. Written as one sequence file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from refine_runtime.body import SwaySitBody
from refine_runtime.config import TrainConfig, resolve
from refine_runtime.errors import AssetError
from refine_runtime.lowpass import low_pass
from refine_runtime.pattern import Garment, build_garment, load_pattern
from refine_runtime.sequence import Sequence, load_mesh_sequence, validate
from refine_runtime.sim import SimSettings, simulate


def garment_from_config(cfg: TrainConfig, root: Path, cols: int | None = None, rows: int | None = None) -> Garment:
    g = cfg.asset.garment
    assert g is not None
    return build_garment(load_pattern(resolve(g.pattern, root)), cols or g.cols, rows or g.rows)


def simulate_sequence(g: Garment, cfg: TrainConfig, progress: bool = True) -> Sequence:
    a = cfg.asset
    body = SwaySitBody(duration_s=a.frames / a.fps)
    settings = SimSettings(fps=a.fps, substeps=a.sim_substeps, iterations=a.sim_iterations)
    with tqdm(total=a.frames, desc=f"simulating {g.name} ({g.n} vertices)", unit="frame", disable=not progress) as bar:
        fine = simulate(g, body, a.frames, settings, progress=bar.update)
    base = low_pass(g, fine, a.lowpass_rounds)
    return validate(Sequence(name=g.name, fps=a.fps, rest=g.rest.astype(np.float32), faces=g.faces, chart=g.chart,
                             uv=g.uv, stitches=g.stitches, base=base, residual=fine - base), g.name)


def mesh_sequence(cfg: TrainConfig, root: Path, progress: bool = True) -> Sequence:
    from refine_runtime.nuvo import learn_charts
    m = cfg.asset.meshes
    assert m is not None
    faces, base, gt = load_mesh_sequence(resolve(m.base_dir, root), resolve(m.gt_dir, root), m.fps)
    if gt is None:
        raise AssetError(f"{m.gt_dir!r}: ground-truth meshes are needed for training")
    rest = base[0]
    chart, uv = learn_charts(rest, faces, cfg.nuvo, seed=cfg.training.seed, progress=progress)
    name = Path(m.base_dir).name or "mesh"
    return validate(Sequence(name=name, fps=m.fps, rest=rest, faces=faces, chart=chart, uv=uv,
                             stitches=np.zeros((0, 2), np.int64), base=base, residual=gt - base), name)


def make_sequence(cfg: TrainConfig, root: Path, progress: bool = True) -> Sequence:
    if cfg.asset.garment is not None:
        return simulate_sequence(garment_from_config(cfg, root), cfg, progress)
    return mesh_sequence(cfg, root, progress)


@dataclass(frozen=True)
class Holdout:
    """Frames kept out of training: ``interleaved`` (every ``every``-th frame, outside the tail) and
    ``tail`` (the last ``tail`` fraction of the sequence, one contiguous block: a temporal hold-out)."""

    interleaved: np.ndarray
    tail: np.ndarray

    @property
    def train(self) -> np.ndarray:
        return ~(self.interleaved | self.tail)


def holdout_masks(frames: int, every: int, tail: float = 0.0) -> Holdout:
    idx = np.arange(frames)
    in_tail = idx >= frames - int(round(tail * frames))
    return Holdout(((idx % every) == every // 2) & ~in_tail, in_tail)
