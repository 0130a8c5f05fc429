"""Offline training: ``python -m refine_runtime.train --config configs/refine/skirt.yaml``.

Stage 1 (iterations < diffusion_start_iter): the field and denoiser learn the conditional mean
(inputs at t = T, i.e. pure noise). Stage 2: the full diffusion objective, t ~ U[0, T), x0 target.
Loss: MSE on the normalised tangent-frame residual + a metric-scaled gradient term (neighbour
residual differences divided by their rest distance, as the notes prescribe) + optional L1.
A tqdm bar shows progress; a CSV loss log is written; the checkpoint is a safetensors file.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence as Seq

import numpy as np
import torch
from tqdm import tqdm

from cosim.process import REPO_ROOT
from refine_runtime.checkpoint import Checkpoint, save_checkpoint
from refine_runtime.config import ModelConfig, TrainConfig, load_train_config
from refine_runtime.config import resolve
from refine_runtime.dataset import Holdout, holdout_masks, make_sequence
from refine_runtime.geometry import build_stencil, frame_and_features, to_local, to_world
from refine_runtime.metrics import quality
from refine_runtime.model import ResidualModel
from refine_runtime.sampler import AssetIndex, Sampler
from refine_runtime.sequence import Sequence, load_sequence, save_sequence
from refine_runtime.sim import mesh_edges
from cosim.errors import CosimError

log = logging.getLogger("refine.train")


def base_features(seq: Sequence, chart: np.ndarray, uv: np.ndarray, model: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Tangent frames (F, n, 3, 3) and raw features (F, n, C) of every recorded base frame."""
    st = build_stencil(seq.rest, seq.faces, chart, uv, model.max_neighbors, model.patch_radius, model.patch_step)
    base = torch.from_numpy(seq.base)
    prev = torch.roll(base, 1, dims=0)  # the recording loops
    return frame_and_features(base, prev, st, seq.fps)


def fit_state_codes(model: ResidualModel, base: torch.Tensor) -> None:
    """PCA of the training base frames: the global base-state code that conditions the denoiser."""
    flat = base.reshape(len(base), -1).double()
    mean = flat.mean(0)
    _, sv, vt = torch.linalg.svd(flat - mean, full_matrices=False)
    k = min(model.pca_basis.shape[0], vt.shape[0])
    model.pca_mean.copy_(mean.float())
    model.pca_basis.zero_()
    model.pca_basis[:k] = vt[:k].float()
    std = (sv[:k] / max(len(base) - 1, 1) ** 0.5).float().clamp(min=1e-6)
    model.code_std.fill_(1.0)
    model.code_std[:k] = std


def feature_stats(frames: Iterable[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and standard deviation (float64) over frames of (n, C) features, a frame at a
    time (no copy of them all: at 60k vertices that copy alone is gigabytes)."""
    total = squares = torch.zeros((), dtype=torch.float64)
    count = 0
    for f in frames:
        x = f.double()
        total = total + x.sum(0)
        squares = squares + x.pow(2).sum(0)
        count += len(x)
    mean = total / count
    var = (squares - count * mean.pow(2)) / max(count - 1, 1)
    return mean, var.clamp(min=0).sqrt()


@dataclass
class VertexBatch:
    """One iteration's vertices: all (``index`` None), or a random subset with the edges and stitch
    pairs that have both ends in it, renumbered into the subset."""

    index: torch.Tensor | None
    pairs: list[tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor | slice]]

    @classmethod
    def draw(cls, n: int, size: int, gen: torch.Generator, *pairs: tuple[torch.Tensor, torch.Tensor]) -> VertexBatch:
        if not size or size >= n:
            return cls(None, [(p, slice(None)) for p in pairs])
        index = torch.randperm(n, generator=gen)[:size].sort().values
        where = torch.full((n,), -1, dtype=torch.long)
        where[index] = torch.arange(size)
        out = []
        for a, b in pairs:
            keep = (where[a] >= 0) & (where[b] >= 0)
            out.append(((where[a[keep]], where[b[keep]]), keep))
        return cls(index, out)

    def take(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        """The batch's vertices of x along ``dim``: (frames, n, ...) and the grid's (levels, n, 4)."""
        return x if self.index is None else x.index_select(dim, self.index)


def train_model(seq: Sequence, cfg: TrainConfig, chart: np.ndarray | None = None, uv: np.ndarray | None = None,
                progress: bool = True, loss_log: Path | None = None, train_mask: np.ndarray | None = None) -> Checkpoint:
    """``train_mask``: the frames to train on (refine_runtime.study: whole motions); None: the
    config's hold-out (asset.holdout_every / holdout_tail), which the returned stats evaluate."""
    if seq.residual is None:
        raise CosimError(f"sequence {seq.name!r} has no ground truth to train on")
    tc = cfg.training
    torch.manual_seed(tc.seed)
    torch.set_num_threads(tc.threads)
    chart = seq.chart if chart is None else chart
    uv = seq.uv if uv is None else uv
    frames, feats = base_features(seq, chart, uv, cfg.model)
    local = to_local(frames, torch.from_numpy(seq.residual))
    holdout = holdout_masks(seq.frames, cfg.asset.holdout_every, cfg.asset.holdout_tail)
    train_idx = torch.from_numpy(np.nonzero(holdout.train if train_mask is None else train_mask)[0])
    model = ResidualModel(cfg.model, cfg.diffusion, int(chart.max()) + 1, seq.n)
    fit_state_codes(model, torch.from_numpy(seq.base[train_idx.numpy()]))
    codes = model.state_code(torch.from_numpy(seq.base))
    mean, std = feature_stats(feats[f] for f in train_idx.tolist())
    model.feat_mean.copy_(mean.float())
    model.feat_std.copy_(std.float().clamp(min=1e-6))
    r_tr = local[train_idx].reshape(-1, 3)
    model.res_mean.copy_(r_tr.mean(0))
    model.res_std.copy_(r_tr.std(0).clamp(min=1e-8))
    cond = feats.sub_(model.feat_mean).div_(model.feat_std)  # in place: at 60k vertices these are gigabytes
    del feats
    target = (local - model.res_mean) / model.res_std
    rows, weights = model.grid.index(torch.from_numpy(chart), torch.from_numpy(uv).float())
    edges = torch.from_numpy(mesh_edges(seq.faces)[0])
    ei, ej = edges[:, 0], edges[:, 1]
    rest = torch.from_numpy(seq.rest)
    spatial = torch.linalg.vector_norm(rest[ei] - rest[ej], dim=-1, keepdim=True) + 1e-8
    spatial = spatial / spatial.mean()
    # stitched vertices are one point of the garment: their world-space residuals must agree (learned
    # here, so that the runtime's averaging of seam groups closes a gap the model already keeps small)
    stitches = torch.from_numpy(np.asarray(seq.stitches, dtype=np.int64).reshape(-1, 2))
    sa, sb = stitches[:, 0], stitches[:, 1]
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, tc.iterations, eta_min=tc.lr * 0.05)
    T = cfg.diffusion.timesteps
    writer, fh = None, None
    if loss_log is not None:
        loss_log.parent.mkdir(parents=True, exist_ok=True)
        fh = open(loss_log, "w", newline="")
        writer = csv.writer(fh)
        writer.writerow(["iteration", "stage", "loss", "mse", "regressor_mse", "grad", "l1", "stitch", "lr"])
    bar = tqdm(range(tc.iterations), desc=f"training {seq.name}", unit="it", disable=not progress)
    gen = torch.Generator().manual_seed(tc.seed)
    try:
        for it in bar:
            b = train_idx[torch.randint(len(train_idx), (tc.batch_frames,), generator=gen)]
            vb = VertexBatch.draw(seq.n, tc.vertex_batch, gen, (ei, ej), (sa, sb))
            x0 = vb.take(target[b])
            stage = 1 if it < tc.diffusion_start_iter else 2
            t = torch.full((len(b),), T - 1) if stage == 1 else torch.randint(0, T, (len(b),), generator=gen)
            ab = model.alpha_bar[t].view(-1, 1, 1)
            x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn(x0.shape, generator=gen)
            static = model.first_layer_static(model.grid.lookup(vb.take(rows), vb.take(weights)))
            trunk = model.trunk(static, vb.take(cond[b]), codes[b])
            pred = model.step(trunk, x_t, t)
            err = pred - x0
            mse = err.pow(2).mean()
            # the runtime's regressor (steps 0: t = T-1, x_t = 0) trained as what it is; the light step
            # head only, on the same trunk
            reg = model.step(trunk, torch.zeros_like(x0), torch.full((len(b),), T - 1))
            mse_reg = (reg - x0).pow(2).mean()
            (bi, bj), keep = vb.pairs[0]
            grad = ((err[:, bi] - err[:, bj]) / spatial[keep]).pow(2).mean() if len(bi) else torch.zeros(())
            l1 = err.abs().mean()
            stitch = torch.zeros(())
            (pa, pb), _ = vb.pairs[1]
            if len(pa) and tc.stitch_weight:  # on the regressor's world-space residuals
                loc, fb = reg * model.res_std + model.res_mean, vb.take(frames[b])  # metres, each vertex's tangent frame
                gap = to_world(fb[:, pa], loc[:, pa]) - to_world(fb[:, pb], loc[:, pb])
                stitch = (gap / model.res_std.mean()).pow(2).mean()
            loss = mse + tc.regressor_weight * mse_reg + tc.grad_weight * grad + tc.l1_weight * l1 \
                + tc.stitch_weight * stitch
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if it % tc.log_every == 0 or it == tc.iterations - 1:
                bar.set_postfix(stage=stage, loss=f"{loss.item():.4f}", mse=f"{mse.item():.4f}")
                if writer:
                    writer.writerow([it, stage, f"{loss.item():.6f}", f"{mse.item():.6f}", f"{mse_reg.item():.6f}", f"{grad.item():.6f}",
                                     f"{l1.item():.6f}", f"{stitch.item():.6f}", f"{sched.get_last_lr()[0]:.6g}"])
    finally:
        if fh:
            fh.close()
    model.eval()
    ck = Checkpoint(model, chart, uv, seq.topology_key(), seq.name, {})
    ck.stats = {"train_frames": int(len(train_idx)), **(evaluate(ck, seq, holdout) if train_mask is None else {})}
    return ck


def refine_sequence(ck: Checkpoint, seq: Sequence, steps: int = 5, warm_start: float = 0.4, seed: int = 0,
                    loop: bool = True, average_seams: bool = True, precision: str = "float32") -> np.ndarray:
    """Run the runtime sampler over every recorded frame in order, as the live process would.
    ``loop``: the recording loops (frame 0 follows the last); else frame 0 starts at rest.
    ``average_seams`` False: the model's own prediction at stitched vertices, not averaged.
    ``precision``: the CPU network's (Sampler)."""
    sampler = Sampler(ck.model, AssetIndex(seq.rest, seq.faces, ck.chart, ck.uv, seq.stitches), seq.fps,
                      steps=steps, warm_start=warm_start, seed=seed, average_seams=average_seams, precision=precision)
    out = np.empty_like(seq.base)
    for f in range(seq.frames):
        prev = seq.base[f - 1] if f or loop else seq.base[0]
        out[f] = seq.base[f] + sampler.refine(seq.base[f], prev).float().numpy()
    return out


def evaluate(ck: Checkpoint, seq: Sequence, holdout: Holdout, steps: int = 5, warm_start: float = 0.4) -> dict:
    """Quality on the held-out frames, refined in playback order as the runtime would: ``heldout``
    (interleaved frames) and ``heldout_tail`` (the temporal block at the end; None without one)."""
    refined = refine_sequence(ck, seq, steps, warm_start)
    out: dict = {}
    for key, mask in (("heldout", holdout.interleaved), ("heldout_tail", holdout.tail)):
        out[key] = quality(refined[mask], seq.base[mask], seq.gt[mask], seq.faces) | {
            "frames": int(mask.sum()), "steps": steps} if mask.any() else None
    return out


def prepare_sequence(cfg: TrainConfig, root: Path, regenerate: bool = False, progress: bool = True) -> Sequence:
    path = resolve(cfg.output.sequence, root)
    if path.is_file() and not regenerate:
        seq = load_sequence(path)
        if seq.residual is not None:
            return seq
    seq = make_sequence(cfg, root, progress)
    save_sequence(seq, path)
    return seq


def build(cfg: TrainConfig, root: Path = REPO_ROOT, regenerate: bool = False, progress: bool = True) -> Checkpoint:
    seq = prepare_sequence(cfg, root, regenerate, progress)
    loss_log = resolve(cfg.output.loss_log, root) if cfg.output.loss_log else None
    ck = train_model(seq, cfg, progress=progress, loss_log=loss_log)
    save_checkpoint(resolve(cfg.output.checkpoint, root), ck)
    return ck


def main(argv: Seq[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m refine_runtime.train", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO_ROOT / "configs" / "refine" / "skirt.yaml"))
    ap.add_argument("--regenerate", action="store_true", help="re-simulate the sequence even if the file exists")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_train_config(args.config)
        ck = build(cfg, REPO_ROOT, args.regenerate)
    except CosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"checkpoint": cfg.output.checkpoint, "asset": ck.asset, **ck.stats}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
