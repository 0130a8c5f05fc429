"""Per-frame inference: a K-step DDIM sampler in normalised tangent-frame residual space.

Everything static is precomputed once per asset: the hash-grid lookups and their first-layer
projection, the neighbour stencil, per-step time biases and DDIM coefficients, the seam groups and
the noise (one fixed draw from ``seed``, so the sampler is deterministic and temporally coherent).
Per frame: base features -> denoiser trunk -> K light denoiser steps -> residual in world space -> stitch groups averaged.
After the first frame the reverse diffusion is warm-started from the previous frame's result noised
to ``warm_start * T``. ``steps = 0`` drops the diffusion: one evaluation at t = T with x_t = 0 (the
noise's mean), a deterministic regressor of the conditional mean (``mode`` "regressor"). On CUDA it runs in float16 and replays the K steps as a captured CUDA graph.
On the CPU the base features come from one fused loop (kernels.py), and ``precision="bfloat16"``
runs the network's matrix products in bfloat16 (fast where the CPU has it natively:
``kernels.cpu_bfloat16_native``); frames, residual scaling and seams stay float32.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from refine_runtime.geometry import Stencil, build_stencil, frame_and_features, to_world
from refine_runtime.kernels import FeatureTables, base_features
from refine_runtime.model import ResidualModel, ddim_schedule, time_embedding
from refine_runtime.unionfind import SeamGroups


@dataclass(frozen=True)
class AssetIndex:
    """What the sampler needs about an asset's vertices (all static)."""

    rest: np.ndarray
    faces: np.ndarray
    chart: np.ndarray
    uv: np.ndarray
    stitches: np.ndarray


def pick_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


class Sampler:
    def __init__(self, model: ResidualModel, asset: AssetIndex, fps: float, *, steps: int = 5,
                 warm_start: float = 0.4, seed: int = 0, device: torch.device | str = "cpu",
                 half: bool = True, cuda_graphs: bool = True, average_seams: bool = True,
                 precision: str = "float32", fused: bool = True) -> None:
        """``half``: float16 on CUDA. ``precision`` (CPU): "float32" or "bfloat16" for the network.
        ``fused`` (CPU): the base features from kernels.py, else from torch (geometry.py)."""
        self.device = torch.device(device)
        self.average_seams = average_seams
        self.seam_gap = torch.zeros(())  # the newest frame's widest seam-vertex-to-group-mean distance, m, before averaging
        if precision not in ("float32", "bfloat16"):
            raise ValueError(f"precision must be float32 or bfloat16, not {precision!r}")
        if self.device.type == "cuda":
            self.dtype = torch.float16 if half else torch.float32
        else:
            self.dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
        self.out_dtype = torch.float32 if self.dtype == torch.bfloat16 else self.dtype  # frames, scaling, seams, result
        self.fps = fps
        self.steps = steps
        self.mode = "regressor" if steps == 0 else "diffusion"
        self.model = model.eval()
        n = len(asset.rest)
        self.n = n
        st = build_stencil(asset.rest, asset.faces, asset.chart, asset.uv, model.cfg.max_neighbors,
                           model.cfg.patch_radius, model.cfg.patch_step)
        self.stencil: Stencil = st.to(self.device)
        self.tables = FeatureTables.from_stencil(st) if fused and self.device.type == "cpu" else None
        if self.tables is not None:
            self._frames = np.empty((n, 3, 3), np.float32)
            self._feats = np.empty((n, self.tables.n_features), np.float32)
        seams = SeamGroups.from_pairs(n, asset.stitches)
        self.seam_index = torch.from_numpy(seams.index).to(self.device)
        self.seam_group = torch.from_numpy(seams.group).to(self.device)
        self.seam_count = seams.count
        self.seam_size = torch.bincount(self.seam_group, minlength=seams.count).to(self.out_dtype).unsqueeze(-1) \
            if seams.count else None
        dt = self.dtype
        with torch.no_grad():
            chart = torch.from_numpy(asset.chart).to(self.device)
            uv = torch.from_numpy(asset.uv).float().to(self.device)
            m = model.to(self.device)
            self.static = m.first_layer_static(m.grid(chart, uv)).to(dt)  # (n, H)
            # additive and multiplicative first-layer terms of the features as one GEMM (n, 2H); folds normalisation
            w_feat = torch.cat([m.in_cond.weight, m.mod_cond.weight])  # (2H, C)
            self.w_cond = (w_feat / m.feat_std).t().to(dt).contiguous()
            self.b_cond = (-(m.feat_mean / m.feat_std) @ w_feat.t()).to(dt)
            self.b_cond[m.cfg.hidden:] += 1
            self.hidden = m.cfg.hidden
            self.w_x = m.in_x.weight.t().to(dt).contiguous()
            self.w_mid, self.b_mid = m.mid.weight.t().to(dt).contiguous(), m.mid.bias.to(dt)
            self.w_z, self.b_z = m.step_z.weight.t().to(dt).contiguous(), m.step_z.bias.to(dt)
            # the step state lives transposed, (3, n): the (H -> 3) output is then one wide GEMM
            self.w_out_t, self.b_out_col = m.out.weight.to(dt).contiguous(), m.out.bias.to(dt).unsqueeze(-1)
            self.w_skip_t = m.skip.weight.to(dt).contiguous()  # (3, H)
            self.res_mean, self.res_std = m.res_mean.to(self.out_dtype), m.res_std.to(self.out_dtype)
            self.code_model = m
            self.w_code = torch.cat([m.in_code.weight, m.mod_code.weight]).t().to(dt).contiguous()  # (k, 2H)
            gen = torch.Generator().manual_seed(seed)
            self.noise_t = torch.randn(3, n, generator=gen).to(self.device, dt)
            if steps == 0:
                self.noise_t.zero_()
            self.noise = self.noise_t.t()
            self.cold = self._plan(m, ddim_schedule(m.alpha_bar, max(steps, 1), 1.0))
            self.warm = self._plan(m, ddim_schedule(m.alpha_bar, steps, warm_start)) if warm_start > 0 and steps else None
            self.b_z_regressor = self.b_z + self.cold["bias"][0]
        self.prev_x0: torch.Tensor | None = None
        self.prev_base: torch.Tensor | None = None
        self._graphs: dict[str, tuple] = {}
        self.use_graphs = cuda_graphs and self.device.type == "cuda"

    def _plan(self, m: ResidualModel, schedule: list[tuple[int, float, float]]) -> dict:
        ts = torch.tensor([t for t, _, _ in schedule], device=self.device)
        bias = m.in_t(time_embedding(ts, m.diffusion.timesteps)).to(self.dtype)  # (K, H)
        coef = [(a ** 0.5, (1 - a) ** 0.5, ap ** 0.5, (1 - ap) ** 0.5) for _, a, ap in schedule]
        return {"bias": bias, "coef": coef, "a0": schedule[0][1]}

    def reset(self) -> None:
        self.prev_x0 = None
        self.prev_base = None

    # --- the per-frame path ------------------------------------------------------------------

    def _denoise_loop(self, pre: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, plan: dict) -> torch.Tensor:
        """pre: trunk output (n, H); bias: the frame's output bias incl. the skip term, transposed
        (3, n); x: x_t transposed (3, n) -> x0 transposed (3, n)."""
        x0 = x
        for k, (sa, s1a, sap, s1ap) in enumerate(plan["coef"]):
            h = torch.addmm(pre, x.t(), self.w_x).add_(plan["bias"][k]).relu_()
            x0 = torch.addmm(bias, self.w_out_t, h.t())
            x = (sap - s1ap * sa / s1a) * x0 + (s1ap / s1a) * x  # DDIM, eta = 0
        return x0

    def _run_steps(self, pre: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, plan: dict, key: str) -> torch.Tensor:
        if not self.use_graphs:
            return self._denoise_loop(pre, bias, x, plan)
        if key not in self._graphs:
            self._graphs[key] = self._capture(pre, bias, x, plan)
        graph, pre_buf, bias_buf, x_buf, out = self._graphs[key]
        pre_buf.copy_(pre)
        bias_buf.copy_(bias)
        x_buf.copy_(x)
        graph.replay()
        return out.clone()

    def _capture(self, pre: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, plan: dict) -> tuple:
        pre_buf, bias_buf, x_buf = pre.clone(), bias.clone(), x.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm-up outside the graph, as capture requires
            for _ in range(2):
                self._denoise_loop(pre_buf, bias_buf, x_buf, plan)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = self._denoise_loop(pre_buf, bias_buf, x_buf, plan)
        return graph, pre_buf, bias_buf, x_buf, out

    @torch.no_grad()
    def refine(self, base: np.ndarray | torch.Tensor, base_prev: np.ndarray | torch.Tensor | None = None) -> torch.Tensor:
        """Base positions (n, 3) -> world-space residual offsets (n, 3) in ``out_dtype`` (float32, or float16 on CUDA)."""
        x = torch.as_tensor(base, dtype=torch.float32).to(self.device)
        xp = x if base_prev is None else torch.as_tensor(base_prev, dtype=torch.float32).to(self.device)
        if self.tables is not None:
            base_features(x.numpy(), xp.numpy(), self.fps, self.tables, self._frames, self._feats)
            frames, feats = torch.from_numpy(self._frames), torch.from_numpy(self._feats)
        else:
            frames, feats = frame_and_features(x, xp, self.stencil, self.fps)
        frames, feats = frames.to(self.out_dtype), feats.to(self.dtype)
        code = self.code_model.state_code(x).to(self.dtype)
        both = torch.addmm(self.b_cond + code @ self.w_code, feats, self.w_cond)  # (n, 2H): additive | gain
        first = torch.addcmul(both[:, :self.hidden], self.static, both[:, self.hidden:])
        bias = torch.addmm(self.b_out_col, self.w_skip_t, first.t())  # (3, n)
        h = nn.functional.silu(torch.addmm(self.b_mid, nn.functional.silu(first), self.w_mid), inplace=True)
        if self.steps == 0:  # the regressor: the head once at t = T - 1 from x_t = 0 (its in_x term vanishes)
            x0 = torch.addmm(bias, self.w_out_t, torch.addmm(self.b_z_regressor, h, self.w_z).relu_().t())
            return self._finish(x0, frames)
        pre = torch.addmm(self.b_z, h, self.w_z)
        if self.prev_x0 is not None and self.warm is not None:
            plan, key = self.warm, "warm"
            a0 = plan["a0"]
            x_t = a0 ** 0.5 * self.prev_x0 + (1 - a0) ** 0.5 * self.noise_t
        else:
            plan, key, x_t = self.cold, "cold", self.noise_t
        x0 = self._run_steps(pre, bias, x_t, plan, key)
        self.prev_x0 = x0
        return self._finish(x0, frames)

    def _finish(self, x0: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """x0 transposed (3, n), normalised tangent-frame residuals -> world offsets, seams measured and averaged."""
        local = x0.t().to(self.out_dtype) * self.res_std + self.res_mean
        world = to_world(frames, local)
        if self.seam_count:
            sums = torch.zeros(self.seam_count, 3, device=self.device, dtype=world.dtype)
            sums.index_add_(0, self.seam_group, world[self.seam_index])
            mean = (sums / self.seam_size)[self.seam_group]
            self.seam_gap = torch.linalg.vector_norm(world[self.seam_index] - mean, dim=-1).max()
            if self.average_seams:
                world[self.seam_index] = mean
        return world
