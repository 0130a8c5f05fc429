"""``python -m bench.refine``: per-frame refinement cost vs vertex count and steps, and quality.

Timing uses the runtime's own per-frame path (RefineWorker.refine_frame: base interpolation on the
clock, features, K-step DDIM, stitch averaging, float16 offsets) with the trained denoiser, on the
bundled skirt pattern meshed at ~1k/5k/20k vertices (68k on a GPU when one is present) and played as
a rigidly swaying base. The baseline measured in the same run is the same path without refinement
(base interpolation and the float16 copy only). Quality: the bundled checkpoint re-evaluated now on
the frames of its sequence that training never saw: ``quality_heldout`` (interleaved frames, every
``holdout_every``-th) and ``quality_heldout_tail`` (the last ``holdout_tail`` of the sequence as one
block: a temporal hold-out, poses later than any trained on). Prints one JSON object as the last line.
"""
from __future__ import annotations

import json
import platform
import sys
import time

import numpy as np
import torch

from refine_runtime.assets import REPO_ROOT, asset_paths
from refine_runtime.body import SwaySitBody
from refine_runtime.checkpoint import load_checkpoint
from refine_runtime.config import Settings
from refine_runtime.dataset import garment_from_config, holdout_masks
from refine_runtime.model import ResidualModel
from refine_runtime.runtime import RefineWorker
from refine_runtime.sampler import AssetIndex, Sampler, pick_device
from refine_runtime.sequence import Sequence, load_sequence
from refine_runtime.train import evaluate

FRAMES = 150


def swaying_sequence(g, fps: float = 30.0, frames: int = 60) -> Sequence:
    body = SwaySitBody(duration_s=frames / fps)
    base = np.stack([body.pose(f / fps).waist_transform(g.rest, 1.0) for f in range(frames)]).astype(np.float32)
    return Sequence(g.name, fps, g.rest.astype(np.float32), g.faces, g.chart, g.uv, g.stitches, base)


def resized_model(model: ResidualModel, n: int) -> ResidualModel:
    """The trained weights on an asset of n vertices (the global state code basis is per asset: random here)."""
    out = ResidualModel(model.cfg, model.diffusion, model.grid.charts, n)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(("pca_", "code_std"))}
    out.load_state_dict(state, strict=False)
    basis = torch.linalg.qr(torch.randn(3 * n, model.cfg.state_codes, generator=torch.Generator().manual_seed(0)))[0]
    out.pca_basis.copy_(basis.t())
    return out.eval()


def time_path(worker: RefineWorker, frames: int, refine: bool) -> list[float]:
    times = []
    for k in range(frames):
        t_ns = int(k * 1e9 / 90)
        if refine:
            worker.refine_frame(k, t_ns)
            times.append(worker.stats.frame_ns.last / 1e6)
        else:
            t0 = time.perf_counter_ns()
            worker.seq.base_at(t_ns, worker._base)
            np.zeros((worker.seq.n, 3), np.float16)
            times.append((time.perf_counter_ns() - t0) / 1e6)
    return times


def block(ms: list[float]) -> dict:
    arr = np.asarray(ms)
    return {"p50": round(float(np.percentile(arr, 50)), 3), "p95": round(float(np.percentile(arr, 95)), 3),
            "mean": round(float(arr.mean()), 3), "fps": round(1000.0 / float(arr.mean()), 1)}


def measure(model, cfg, target: int, steps: int, device, frames: int = FRAMES) -> dict:
    cols = max(3, int(round((target / 4 * 1.2) ** 0.5)))
    rows = max(3, int(round(target / 4 / cols)))
    g = garment_from_config(cfg, REPO_ROOT, cols, rows)
    seq = swaying_sequence(g)
    m = resized_model(model, g.n)
    sampler = Sampler(m, AssetIndex(g.rest, g.faces, g.chart, g.uv, g.stitches), seq.fps, steps=steps, device=device)
    worker = RefineWorker(sampler, seq, lambda *a: None)
    time_path(worker, 10, True)  # warm-up (and graph capture on CUDA)
    refined = time_path(worker, frames, True)
    base_only = time_path(worker, frames, False)
    return {"vertices": g.n, "steps": steps, "frame_ms": block(refined), "baseline_base_only_ms": block(base_only)}


def main() -> int:
    torch.set_num_threads(1)
    settings = Settings()
    paths = asset_paths(settings)
    seq = load_sequence(paths.sequence)
    ck = load_checkpoint(paths.checkpoint, topology=seq.topology_key(), vertices=seq.n)
    cfg = paths.train_config
    cpu = torch.device("cpu")
    out: dict = {"machine": {"cpu": platform.processor() or platform.machine(), "torch_threads": 1,
                             "note": "2 shared cores; other engineers' processes run at the same time"}}
    t0 = time.perf_counter()
    quality = evaluate(ck, seq, holdout_masks(seq.frames, cfg.asset.holdout_every, cfg.asset.holdout_tail), steps=5)
    out["quality_heldout"] = quality["heldout"] | {"vertices": seq.n, "protocol": f"every {cfg.asset.holdout_every}th frame"}
    out["quality_heldout_tail"] = quality["heldout_tail"] and quality["heldout_tail"] | {
        "vertices": seq.n, "protocol": f"last {cfg.asset.holdout_tail:.0%} of the sequence, one block"}
    out["quality_eval_s"] = round(time.perf_counter() - t0, 2)
    out["cpu_by_vertices"] = [measure(ck.model, cfg, n, 5, cpu) for n in (1000, 5000, 20000)]
    out["cpu_5k_by_steps"] = [measure(ck.model, cfg, 5000, k, cpu, frames=100) for k in (1, 3, 5, 10)]
    if torch.cuda.is_available():
        gpu = pick_device("cuda")
        out["gpu_by_vertices"] = [measure(ck.model, cfg, n, 5, gpu) for n in (5000, 20000, 68000)]
    else:
        out["gpu_by_vertices"] = "not measured: no GPU on this machine (the CUDA float16 + CUDA graph path is untested here)"
    five = next(r for r in out["cpu_by_vertices"] if r["vertices"] >= 4000)
    out["goals"] = {
        "cpu_5k_5steps_fps": five["frame_ms"]["fps"], "cpu_5k_5steps_fps_goal": 90,
        "cpu_5k_5steps_met": five["frame_ms"]["fps"] >= 90,
        "error_ratio": out["quality_heldout"]["error_ratio"], "error_ratio_goal": 0.3,
        "error_ratio_met": out["quality_heldout"]["error_ratio"] <= 0.3,
        "error_ratio_tail": (out["quality_heldout_tail"] or {}).get("error_ratio"),
        "gpu_68k_2ms_met": None if not torch.cuda.is_available() else
        out["gpu_by_vertices"][-1]["frame_ms"]["mean"] <= 2.0,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
