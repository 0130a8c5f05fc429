"""Honest evaluation of the refinement (issue 16): motions held out entirely, a base that is an
independent coarse simulation, and simple baselines computed on the same frames.

Data: the garment simulated per motion at two resolutions with the same body: coarse (the base,
mapped onto the fine vertices by bilinear interpolation in each panel's pattern grid) and fine (the
truth), the fine cloth tracking the coarse one's low modes (sim.Tracking), so the residual is the
detail a coarse simulation lacks, not diverged dynamics. Motions are the body proxy's parameters
(sway, yaw, sit depth, stride, tempo); each is in exactly one split: train, validation or test.

Methods, per vertex, all predicting the residual (truth - base) in the base's tangent frame:
``base`` (none), ``mean_residual`` (the training mean), ``nearest_frame`` (the residual of the
training frame whose base is nearest), ``ridge`` (per vertex on the 8 geometric features),
``ridge_model_inputs`` (one map shared by every vertex on all of the model's inputs), ``model_k1``
and ``model`` (the runtime's model trained on the training motions, one step and the number of steps
chosen on validation, 0 meaning the regressor). Ridge strengths are chosen on validation. Figures:
L2 in cm and the normal variation ratio to the truth (docs/refine.md).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import torch
from tqdm import tqdm

from refine_runtime.body import SwaySitBody
from refine_runtime.config import TrainConfig
from refine_runtime.geometry import FEATURES, build_stencil, frame_and_features, to_local, to_world
from refine_runtime.metrics import l2_cm, normal_variation
from refine_runtime.pattern import Garment, build_garment, load_pattern
from refine_runtime.sequence import Sequence
from refine_runtime.sim import SimSettings, simulate
from refine_runtime.unionfind import SeamGroups

log = logging.getLogger("refine.study")
SPLITS = ("train", "validation", "test")
# name -> (split, SwaySitBody parameters): the test motions are nowhere near training in yaw, sway or
# stride (walking: a slow short stride trains, a long fast one with yaw and sway tests)
MOTIONS: dict[str, tuple[str, dict[str, float]]] = {
    "sway_sit": ("train", {}),
    "sway_fast": ("train", {"sway_m": 0.08, "sway_period_s": 1.0, "sit_drop_m": 0.30}),
    "sit_deep": ("train", {"sit_drop_m": 0.45, "yaw_deg": 6.0, "sway_m": 0.03}),
    "walk_slow": ("train", {"stride_deg": 22.0, "step_period_s": 1.5, "sway_m": 0.02, "sit_drop_m": 0.0, "yaw_deg": 8.0}),
    "turn": ("validation", {"yaw_deg": 28.0, "sway_m": 0.03, "sit_drop_m": 0.2}),
    "sway_wide": ("test", {"sway_m": 0.10, "yaw_deg": 20.0, "sway_period_s": 1.3, "sit_drop_m": 0.30}),
    "stand_turn": ("test", {"yaw_deg": 35.0, "sway_m": 0.04, "sit_drop_m": 0.0}),
    "walk": ("test", {"stride_deg": 35.0, "step_period_s": 1.0, "sway_m": 0.04, "sit_drop_m": 0.0, "yaw_deg": 15.0}),
}
RIDGES = ("ridge", "ridge_model_inputs")
N_GEOMETRIC = len(FEATURES)  # the per-vertex ridge's inputs: the first features, without the patch
RIDGE_LAMBDAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0, 1e4)
STEP_MARGIN = 0.01
STEPS = (0, 1, 2, 5, 10)  # 0: the regressor (no diffusion, sampler.py)
SIM_VERSION = 5  # raise when the simulation (sim.py) or the coarse-to-fine mapping changes: cached data is stale


@dataclass(frozen=True)
class StudyConfig:
    pattern: str = "assets/refine/skirt_pattern.json"
    cols: int = 24  # fine, per panel
    rows: int = 20
    # the base's simulation: per garment the finest grid whose truth carries >= 3x the base's normal
    # variation (the seed's garment: 5.7x), chosen from the data before any model was trained
    coarse_cols: int = 4
    coarse_rows: int = 4
    track_compliance: float | None = 1e-6  # the truth tracks the base (sim.Tracking); None: free
    frames: int = 90  # per motion
    fps: float = 30.0
    iterations: int = 2000  # the model's training
    seed: int = 0
    patch_radius: int = 3  # the model's base patch (geometry.py), also given to the shared ridge
    patch_step: float = 3.0  # its lattice step in fine rest spacings (ModelConfig.patch_step; chosen on validation)
    stitch_ablation: bool = True  # also train without the stitch loss: how much of the seam it closes
    vertex_batch: int = 0  # training's vertices per iteration (0: all; TrainingConfig.vertex_batch)
    threads: int = 1  # training's torch threads
    motions: dict[str, tuple[str, dict[str, float]]] = field(default_factory=lambda: dict(MOTIONS))

    def key(self, root: Path) -> str:
        """What the simulated data depends on: the garment, motions, frames and the pattern file's
        bytes, and SIM_VERSION (not the model's training settings)."""
        sim = {k: v for k, v in asdict(self).items() if k not in ("iterations", "seed", "patch_radius", "stitch_ablation",
                                                             "vertex_batch", "threads", "patch_step")}
        sim["pattern_sha256"] = hashlib.sha256((root / self.pattern).read_bytes()).hexdigest()
        sim["sim_version"] = SIM_VERSION
        return hashlib.sha256(json.dumps(sim, sort_keys=True).encode()).hexdigest()[:16]


def coarse_to_fine(coarse: Garment, fine: Garment) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear weights of each fine vertex over the coarse vertices of its panel, in the pattern grid
    (both garments are meshed as grids per panel, build_garment): (n, 4) indices and weights."""
    (fc, fr), (cc, cr) = fine.grid, coarse.grid
    panels = fine.n // (fc * fr)
    row, col = np.divmod(np.arange(fc * fr), fc)
    x, y = col / (fc - 1) * (cc - 1), row / (fr - 1) * (cr - 1)
    i0, j0 = np.minimum(x.astype(int), cc - 2), np.minimum(y.astype(int), cr - 2)
    fx, fy = x - i0, y - j0
    local = np.stack([j0 * cc + i0, j0 * cc + i0 + 1, (j0 + 1) * cc + i0, (j0 + 1) * cc + i0 + 1], -1)
    weights = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], -1)
    idx = np.concatenate([local + k * cc * cr for k in range(panels)])
    return idx, np.tile(weights, (panels, 1)).astype(np.float32)


def simulate_motion(fine: Garment, coarse: Garment, params: dict[str, float], cfg: StudyConfig) -> tuple[np.ndarray, np.ndarray]:
    """(base, truth), each (frames, n, 3) float32: the coarse simulation mapped, the fine one (tracking
    the coarse one unless ``cfg.track_compliance`` is None)."""
    body = SwaySitBody(duration_s=cfg.frames / cfg.fps, **params)
    settings = SimSettings(fps=cfg.fps)
    idx, w = coarse_to_fine(coarse, fine)
    with tqdm(total=cfg.frames, desc=f"simulating {fine.n} vertices", unit="frame", disable=None) as bar:
        if cfg.track_compliance is None:
            truth, low = simulate(fine, body, cfg.frames, settings, bar.update), simulate(coarse, body, cfg.frames, settings)
        else:
            truth, low = simulate(fine, body, cfg.frames, settings, bar.update,
                                  tracking=(coarse, idx, w, cfg.track_compliance))
    base = (low[:, idx] * w[None, :, :, None]).sum(axis=2).astype(np.float32)
    return base, truth


def make_data(cfg: StudyConfig, root: Path, cache_dir: Path | None) -> dict[str, Sequence]:
    """One Sequence per motion (cached in ``cache_dir`` by the config's key)."""
    pattern = load_pattern(root / cfg.pattern)
    fine = build_garment(pattern, cfg.cols, cfg.rows)
    coarse = build_garment(pattern, cfg.coarse_cols, cfg.coarse_rows)
    cache = cache_dir / f"study-{cfg.key(root)}.npz" if cache_dir is not None else None
    arrays: dict[str, np.ndarray] = {}
    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            arrays = {k: z[k] for k in z.files}
    else:
        for name, (_, params) in cfg.motions.items():
            log.info("simulating %s: %d frames, fine %d and coarse %d vertices", name, cfg.frames, fine.n, coarse.n)
            arrays[f"{name}.base"], arrays[f"{name}.truth"] = simulate_motion(fine, coarse, params, cfg)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache.with_suffix(".tmp.npz"), **arrays)
            cache.with_suffix(".tmp.npz").replace(cache)
    return {name: Sequence(name, cfg.fps, fine.rest.astype(np.float32), fine.faces, fine.chart, fine.uv, fine.stitches,
                           arrays[f"{name}.base"], arrays[f"{name}.truth"] - arrays[f"{name}.base"])
            for name in cfg.motions}


def split_of(cfg: StudyConfig, split: str) -> list[str]:
    return [name for name, (s, _) in cfg.motions.items() if s == split]


@dataclass
class Local:
    """Per motion: tangent frames (F, n, 3, 3), raw features (F, n, 8), residual in the frame (F, n, 3)."""

    frames: torch.Tensor
    feats: torch.Tensor
    residual: torch.Tensor


def local_data(seq: Sequence, patch_radius: int = 0, max_neighbors: int = 8, patch_step: float = 1.0) -> Local:
    st = build_stencil(seq.rest, seq.faces, seq.chart, seq.uv, max_neighbors, patch_radius, patch_step)
    base = torch.from_numpy(seq.base)
    prev = torch.cat([base[:1], base[:-1]])  # one motion, not a loop: the first frame is at rest
    frames, feats = frame_and_features(base, prev, st, seq.fps)
    return Local(frames, feats, to_local(frames, torch.from_numpy(seq.residual)))


def scores(refined: np.ndarray, seq: Sequence) -> dict[str, float]:
    """L2 and normal variation against the truth, and the widest gap between stitched vertices (a
    seam torn open, which the normal variation cannot see: no face crosses a seam)."""
    nv_gt = float(normal_variation(seq.gt, seq.faces).mean())
    a, b = seq.stitches[:, 0], seq.stitches[:, 1]
    gap = np.linalg.norm(refined[:, a] - refined[:, b], axis=-1).max() * 100 if len(a) else 0.0
    return {"l2_cm": round(l2_cm(refined, seq.gt), 4),
            "normal_variation_ratio": round(float(normal_variation(refined, seq.faces).mean()) / max(nv_gt, 1e-12), 4),
            "seam_gap_max_cm": round(float(gap), 4)}


def seam_gaps(xs: list[np.ndarray], stitches: np.ndarray) -> dict[str, float]:
    """Distance between stitched vertices (which are one point of the garment) over every frame of
    ``xs`` (each (F, n, 3)): mean and max in mm."""
    a, b = stitches[:, 0], stitches[:, 1]
    gaps = np.concatenate([np.linalg.norm(x[:, a] - x[:, b], axis=-1).ravel() for x in xs]) * 1e3
    return {"mean_mm": round(float(gaps.mean()), 4), "max_mm": round(float(gaps.max()), 4)} if len(gaps) else {}


def close_seams(x: np.ndarray, seams: SeamGroups) -> np.ndarray:
    """Every stitch group's vertices moved to the group's mean, as the runtime's sampler does."""
    if not seams.count:
        return x
    sums = np.zeros((len(x), seams.count, 3))
    np.add.at(sums, (slice(None), seams.group), x[:, seams.index])
    out = x.copy()
    out[:, seams.index] = (sums / np.bincount(seams.group)[None, :, None])[:, seams.group]
    return out


def pooled(per_motion: dict[str, dict[str, float]], frames: dict[str, int]) -> dict[str, float]:
    """Frame-weighted means over the motions of a split (L2 is a mean over vertices and frames)."""
    total = sum(frames[m] for m in per_motion)
    return {k: round(sum(per_motion[m][k] * frames[m] for m in per_motion) / total, 4)
            for k in next(iter(per_motion.values()))}


class Baselines:
    """The simple predictors, fitted on the training motions. Two ridge regressions: ``ridge`` per
    vertex on the 8 geometric features, and ``ridge_model_inputs`` one map shared by every vertex on
    all of the model's per-vertex inputs (the 8 features and the base patch), around each vertex's
    training means: a linear model given exactly what the model is given."""

    def __init__(self, train: list[Local], train_base: list[np.ndarray], seams: SeamGroups) -> None:
        self.seams = seams
        res = torch.cat([d.residual for d in train])  # (F, n, 3)
        self.mean = res.mean(0)
        self.bank_base = np.concatenate(train_base)  # (F, n, 3) for the nearest frame
        self.bank_res = res
        # the features a frame at a time, in float64: at 60k vertices a float64 copy of every training
        # frame's features would be gigabytes
        from refine_runtime.train import feature_stats
        frames = [f for d in train for f in d.feats]
        self.v_mean = sum(f.double() for f in frames) / len(frames)  # per vertex, for the shared map
        self.f_mean, std = feature_stats(frames)
        self.f_std = std.clamp(min=1e-9)
        self._x = self._design(torch.cat([d.feats[..., :N_GEOMETRIC] for d in train]))  # (F, n, 9)
        self._y = res.double()
        self._ztz = torch.zeros(len(self.f_mean), len(self.f_mean), dtype=torch.float64)
        self._zty = torch.zeros(len(self.f_mean), 3, dtype=torch.float64)
        for f, r in zip(frames, res):
            z = self._shared_inputs(f)
            self._ztz += z.T @ z
            self._zty += z.T @ (r.double() - self.mean.double())

    def _shared_inputs(self, feats: torch.Tensor) -> torch.Tensor:
        return (feats.double() - self.v_mean) / self.f_std

    def _design(self, feats: torch.Tensor) -> torch.Tensor:
        x = (feats.double() - self.f_mean[:N_GEOMETRIC]) / self.f_std[:N_GEOMETRIC]
        return torch.cat([x, torch.ones_like(x[..., :1])], -1)

    def weights(self, method: str, lam: float) -> torch.Tensor:
        """ridge: per vertex (n, 9, 3) solving (X'X + lam I) W = X'Y over the training frames;
        ridge_model_inputs: one (C, 3) map for every vertex, lam scaled by the number of vertices."""
        if method == "ridge":
            x = self._x.transpose(0, 1)  # (n, F, 9)
            y = self._y.transpose(0, 1)
            xtx = x.transpose(1, 2) @ x + lam * torch.eye(x.shape[-1], dtype=x.dtype)
            return torch.linalg.solve(xtx, x.transpose(1, 2) @ y)
        eye = torch.eye(len(self._ztz), dtype=self._ztz.dtype)
        return torch.linalg.solve(self._ztz + lam * len(self.mean) * eye, self._zty)

    def predict(self, method: str, d: Local, base: np.ndarray, weights: torch.Tensor | None = None) -> np.ndarray:
        """The refined positions (F, n, 3) of one motion."""
        if method == "base":
            return base
        if method == "mean_residual":
            local = self.mean.expand_as(d.residual)
        elif method == "nearest_frame":
            flat = self.bank_base.reshape(len(self.bank_base), -1)
            q = base.reshape(len(base), -1)
            d2 = (q ** 2).sum(1)[:, None] - 2 * q @ flat.T + (flat ** 2).sum(1)[None, :]
            local = self.bank_res[torch.from_numpy(d2.argmin(1))]
        elif method == "ridge":
            assert weights is not None
            local = torch.einsum("fnk,nkc->fnc", self._design(d.feats[..., :N_GEOMETRIC]), weights).float()
        elif method == "ridge_model_inputs":
            assert weights is not None
            local = torch.stack([(self._shared_inputs(f) @ weights + self.mean.double()).float() for f in d.feats])
        else:
            raise ValueError(method)
        return close_seams(base + to_world(d.frames, local).numpy(), self.seams)


def train_and_refine(cfg: StudyConfig, data: dict[str, Sequence], train_cfg: TrainConfig, progress: bool,
                     steps: tuple[int, ...] = STEPS) -> tuple[Any, dict[tuple[str, int], np.ndarray]]:
    """The runtime's model trained on the training motions (concatenated; each motion's first frame,
    whose velocity would straddle two motions, left out), then every non-training motion refined in
    playback order at each number of ``steps``."""
    from refine_runtime.train import refine_sequence, train_model
    train = split_of(cfg, "train")
    seqs = [data[m] for m in train]
    first = seqs[0]
    joined = Sequence("study-train", cfg.fps, first.rest, first.faces, first.chart, first.uv, first.stitches,
                      np.concatenate([s.base for s in seqs]), np.concatenate([s.residual for s in seqs]))
    mask = np.ones(joined.frames, bool)
    mask[np.cumsum([0] + [s.frames for s in seqs[:-1]])] = False
    t = train_cfg.training  # the config's schedule, scaled to the study's iterations
    start = round(t.diffusion_start_iter * cfg.iterations / t.iterations)
    tc = msgspec.structs.replace(t, iterations=cfg.iterations, diffusion_start_iter=start, seed=cfg.seed,
                                 vertex_batch=cfg.vertex_batch, threads=cfg.threads)
    model = msgspec.structs.replace(train_cfg.model, patch_radius=cfg.patch_radius, patch_step=cfg.patch_step)
    ck = train_model(joined, msgspec.structs.replace(train_cfg, training=tc, model=model), progress=progress, train_mask=mask)
    out = {}
    for name, seq in data.items():
        if name in train:
            continue
        for k in steps:
            out[name, k] = refine_sequence(ck, seq, steps=k, loop=False)  # a motion starts at rest
    return ck, out


def denoiser_uses_input(ck: Any, seq: Sequence, t: int = 50, d: Local | None = None) -> dict[str, float]:
    """At a small t, the denoiser given the truth slightly noised vs given pure noise: a denoiser that
    reads x_t predicts far better from the former. Errors in the normalised residual space."""
    model = ck.model
    d = d if d is not None else local_data(seq, model.cfg.patch_radius, patch_step=model.cfg.patch_step)  # a motion starts at rest (no wrap-around velocity)
    feats = d.feats
    x0 = (d.residual - model.res_mean) / model.res_std
    cond = model.normalise_features(feats)
    codes = model.state_code(torch.from_numpy(seq.base))
    rows, weights = model.grid.index(torch.from_numpy(ck.chart), torch.from_numpy(ck.uv).float())
    gen = torch.Generator().manual_seed(0)
    ab = model.alpha_bar[t]
    noise = torch.randn(x0.shape, generator=gen)
    tt = torch.full((len(x0),), t)
    with torch.no_grad():
        static = model.first_layer_static(model.grid.lookup(rows, weights))
        near = model.denoise(static, cond, ab.sqrt() * x0 + (1 - ab).sqrt() * noise, tt, codes)
        far = model.denoise(static, cond, torch.randn(x0.shape, generator=gen), tt, codes)
    e_near, e_far = float((near - x0).pow(2).mean().sqrt()), float((far - x0).pow(2).mean().sqrt())
    return {"t": t, "error_given_noised_truth": round(e_near, 4), "error_given_noise": round(e_far, 4),
            "ratio": round(e_near / max(e_far, 1e-12), 4)}


def run(cfg: StudyConfig, train_cfg: TrainConfig, root: Path, cache_dir: Path | None, progress: bool = False) -> dict[str, Any]:
    """The quality block of bench.refine (module docstring)."""
    data = make_data(cfg, root, cache_dir)
    local = {m: local_data(s, cfg.patch_radius, patch_step=cfg.patch_step) for m, s in data.items()}
    frames = {m: s.frames for m, s in data.items()}
    train = split_of(cfg, "train")
    first = data[train[0]]
    bl = Baselines([local[m] for m in train], [data[m].base for m in train], SeamGroups.from_pairs(first.n, first.stitches))
    per: dict[str, dict[str, dict[str, dict[str, float]]]] = {s: {} for s in ("validation", "test")}

    def add(split: str, method: str, motion: str, refined: np.ndarray) -> None:
        per[split].setdefault(method, {})[motion] = scores(refined, data[motion])

    chosen: dict[str, Any] = {}
    for method in RIDGES:
        val = {}
        for lam in RIDGE_LAMBDAS:
            w = bl.weights(method, lam)
            val[lam] = pooled({m: scores(bl.predict(method, local[m], data[m].base, w), data[m])
                               for m in split_of(cfg, "validation")}, frames)["l2_cm"]
        lam = min(val, key=val.get)
        chosen[method] = {"lambda": lam, "validation_l2_cm": val}
        w = bl.weights(method, lam)
        for split in ("validation", "test"):
            for m in split_of(cfg, split):
                add(split, method, m, bl.predict(method, local[m], data[m].base, w))
    for split in ("validation", "test"):
        for m in split_of(cfg, split):
            for method in ("base", "mean_residual", "nearest_frame"):
                add(split, method, m, bl.predict(method, local[m], data[m].base))
    ck, refined = train_and_refine(cfg, data, train_cfg, progress)
    steps_effect = {k: pooled({m: scores(refined[m, k], data[m]) for m in split_of(cfg, "validation")}, frames)["l2_cm"]
                    for k in STEPS}
    # the fewest steps within STEP_MARGIN of the best: a step must earn more than noise to be kept
    best_k = min(k for k in STEPS if steps_effect[k] <= min(steps_effect.values()) * (1 + STEP_MARGIN))
    for split in ("validation", "test"):
        for m in split_of(cfg, split):
            add(split, "model_k1", m, refined[m, 1])
            add(split, "model", m, refined[m, best_k])
    quality = {split: {method: pooled(ms, frames) for method, ms in methods.items()} for split, methods in per.items()}
    quality["runtime_precision"] = runtime_precision(ck, data, split_of(cfg, "test"), best_k, quality["test"]["model"])
    stitch = stitch_study(cfg, data, train_cfg, ck, best_k, refined, progress)
    baselines = ("mean_residual", "nearest_frame", *RIDGES)
    test = quality["test"]
    best_baseline = min(baselines, key=lambda b: test[b]["l2_cm"])
    model_l2 = test["model"]["l2_cm"]
    return {
        "data": {"vertices": data[train[0]].n,
                 "coarse_vertices": cfg.coarse_cols * cfg.coarse_rows * (data[train[0]].n // (cfg.cols * cfg.rows)),
                 "frames_per_motion": cfg.frames, "fps": cfg.fps,
                 "motions": {m: {"split": s, **p} for m, (s, p) in cfg.motions.items()},
                 "normal_variation": {"base": round(float(np.mean([normal_variation(data[m].base, data[m].faces).mean() for m in train])), 4),
                                      "truth": round(float(np.mean([normal_variation(data[m].gt, data[m].faces).mean() for m in train])), 4)}},
        "quality": {**quality, "per_motion": per, "chosen": {**chosen, "model_steps": best_k}},
        "steps_effect": {"validation_l2_cm": steps_effect},
        "stitch": stitch,
        "denoiser_uses_input": denoiser_uses_input(ck, data[val := split_of(cfg, "validation")[0]], d=local[val]),
        "goals": {
            "model_vs_best_baseline": {"model_l2_cm": model_l2, "best_baseline": best_baseline,
                                       "baseline_l2_cm": test[best_baseline]["l2_cm"], "goal": 0.8,
                                       "ratio": round(model_l2 / test[best_baseline]["l2_cm"], 4),
                                       "met": model_l2 <= 0.8 * test[best_baseline]["l2_cm"]},
            "model_vs_base": {"ratio": round(model_l2 / test["base"]["l2_cm"], 4), "goal": 0.5,
                              "met": model_l2 <= 0.5 * test["base"]["l2_cm"]},
            # the issue: the chosen K better than one step on validation, or no steps at all (K = 0)
            "steps_earn_their_cost": {"chosen_steps": best_k, "mode": "regressor" if best_k == 0 else "diffusion",
                                      "k1_l2_cm": steps_effect[1], "chosen_l2_cm": steps_effect[best_k],
                                      "met": best_k == 0 or (best_k > 1 and steps_effect[best_k] < steps_effect[1])},
        },
    }


def runtime_precision(ck: Any, data: dict[str, Sequence], test: list[str], steps: int,
                      float32: dict[str, float]) -> dict[str, Any]:
    """The chosen model on the test motions at the precision the runtime uses on this CPU
    (``cpu_precision: auto``), next to float32 (what every figure above is)."""
    from refine_runtime.kernels import cpu_precision
    from refine_runtime.train import refine_sequence
    precision = cpu_precision("auto")
    out: dict[str, Any] = {"precision": precision, "float32_test_l2_cm": float32["l2_cm"]}
    if precision != "float32":
        frames = {m: data[m].frames for m in test}
        out["test_l2_cm"] = pooled({m: scores(refine_sequence(ck, data[m], steps=steps, loop=False, precision=precision),
                                              data[m]) for m in test}, frames)["l2_cm"]
    return out


def stitch_study(cfg: StudyConfig, data: dict[str, Sequence], train_cfg: TrainConfig, ck: Any, steps: int,
                 refined: dict[tuple[str, int], np.ndarray], progress: bool) -> dict[str, Any]:
    """Seam gaps on the test motions: the truth's and the base's, the model's own prediction checked
    before the runtime averages seam groups, and after; with ``stitch_ablation`` the same model
    trained without the stitch loss, before averaging (what the loss is worth)."""
    from refine_runtime.train import refine_sequence
    test = split_of(cfg, "test")
    stitches = data[test[0]].stitches

    def raw(model: Any) -> dict[str, float]:
        return seam_gaps([refine_sequence(model, data[m], steps=steps, loop=False, average_seams=False) for m in test],
                         stitches)

    out: dict[str, Any] = {"pairs": len(stitches), "truth": seam_gaps([data[m].gt for m in test], stitches),
                           "base": seam_gaps([data[m].base for m in test], stitches),
                           "model_before_averaging": raw(ck),
                           "model_after_averaging": seam_gaps([refined[m, steps] for m in test], stitches),
                           "stitch_weight": train_cfg.training.stitch_weight}
    if cfg.stitch_ablation and train_cfg.training.stitch_weight:
        t = msgspec.structs.replace(train_cfg.training, stitch_weight=0.0)
        plain, _ = train_and_refine(cfg, data, msgspec.structs.replace(train_cfg, training=t), progress, steps=())
        out["without_stitch_loss_before_averaging"] = raw(plain)
        frames = {m: data[m].frames for m in test}
        out["test_l2_cm"] = {"with_stitch_loss": pooled({m: scores(refined[m, steps], data[m]) for m in test}, frames)["l2_cm"],
                             "without_stitch_loss": pooled({m: scores(refine_sequence(plain, data[m], steps=steps, loop=False),
                                                                      data[m]) for m in test}, frames)["l2_cm"]}
    return out


def hash_collisions(grid: Any, chart: np.ndarray, uv: np.ndarray) -> list[float]:
    """Per level of a hash grid, the fraction of the grid cells the vertices touch (their corners) that
    share a table row with another cell: 0 where the level is dense."""
    c, u = torch.from_numpy(chart), torch.from_numpy(uv).float()
    rows, _ = grid.index(c, u)
    return [round(1 - len(torch.unique(row)) / len(torch.unique(cell)), 4) for row, cell in zip(rows, grid.cells(c, u))]


def hash_table_study(cfg: StudyConfig, train_cfg: TrainConfig, root: Path, cache_dir: Path | None,
                     log2_sizes: tuple[int, ...], steps: int = 0, progress: bool = False) -> dict[str, Any]:
    """The model trained with each hash-table size (``model.log2_table_size``), all else equal, and
    scored on validation and test: what hash collisions cost. A table with no collision bounds what
    any collision remedy (the notes' collision-aware hashing) could gain."""
    data = make_data(cfg, root, cache_dir)
    frames = {m: s.frames for m, s in data.items()}
    out: dict[str, Any] = {}
    for size in log2_sizes:
        model = msgspec.structs.replace(train_cfg.model, log2_table_size=size)
        ck, refined = train_and_refine(cfg, data, msgspec.structs.replace(train_cfg, model=model), progress, steps=(steps,))
        out[str(size)] = {"table_entries_per_level": 2 ** size,
                          "collisions_per_level": hash_collisions(ck.model.grid, ck.chart, ck.uv),
                          **{split: pooled({m: scores(refined[m, steps], data[m]) for m in split_of(cfg, split)}, frames)["l2_cm"]
                             for split in ("validation", "test")}, "vertices": len(ck.chart)}
    return out


# the second garment: a six-gore dress from the chest to below the knee (6 x 16 x 30 = 2,880 vertices;
# the base 6 x 3 x 5: the finer 4 x 7 and 6 x 10 left the truth 2.2x and 1.4x the base's detail)
DRESS = StudyConfig(pattern="assets/refine/dress_pattern.json", cols=16, rows=30, coarse_cols=3, coarse_rows=5,
                    stitch_ablation=False)

# near the seed's garment (67,970 vertices): 4 panels of 125 x 121 = 60,500 vertices over the 8 x 7
# base (the finer 32 x 30 base left the truth 1.17x its detail); two training motions, one
# validation, one test (45 frames each: ~1 min of simulation per motion on one core); trained on a
# quarter of the vertices per iteration (0.33 s an iteration on one core); the patch step 6 spans
# about one coarse cell each way (not swept at this size: 25 min a study)
LARGE = StudyConfig(cols=125, rows=121, coarse_cols=8, coarse_rows=7, frames=45, stitch_ablation=False,
                    vertex_batch=15000, patch_step=6.0, motions={m: MOTIONS[m] for m in ("sway_sit", "walk_slow", "turn", "walk")})
SEED_DETAIL = {"vertices": 67970, "normal_variation_base": 0.077, "normal_variation_truth": 0.44}  # issue 16


def detail_at_scale(cfg: StudyConfig, root: Path, cache_dir: Path | None) -> dict[str, Any]:
    """The notes' detail analysis of a large garment's data (simulated on demand, cached): normal
    variation of the base and the truth, next to the seed's figures, and the base's L2 to the truth."""
    t0 = time.perf_counter()
    data = make_data(cfg, root, cache_dir)
    seconds = time.perf_counter() - t0
    seq = next(iter(data.values()))
    nv_base = float(normal_variation(seq.base, seq.faces).mean())
    nv_truth = float(normal_variation(seq.gt, seq.faces).mean())
    return {"vertices": seq.n, "coarse_vertices": cfg.coarse_cols * cfg.coarse_rows * (seq.n // (cfg.cols * cfg.rows)),
            "frames": seq.frames, "motions": list(data), "data_s": round(seconds, 1),
            "normal_variation": {"base": round(nv_base, 4), "truth": round(nv_truth, 4),
                                 "truth_over_base": round(nv_truth / max(nv_base, 1e-12), 2)},
            "base_l2_cm": round(l2_cm(seq.base, seq.gt), 4), "seed": SEED_DETAIL,
            "seed_truth_over_base": round(SEED_DETAIL["normal_variation_truth"] / SEED_DETAIL["normal_variation_base"], 2)}
