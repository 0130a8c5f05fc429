"""Nuvo-style learned chart/UV index for assets without a sewing pattern.

A chart-assignment MLP (x -> softmax over K charts), per-chart UV MLPs (x -> (u, v) in [0, 1]^2)
and per-chart inverse MLPs ((u, v) -> x) are trained once per asset on its rest vertices with:
bijectivity (3D -> UV -> 3D and UV -> 3D -> UV cycles), clustering (mesh neighbours share a chart
and keep their distance, up to a per-chart scale, in UV), and chart balance. The result,
per-vertex (chart, u, v), is cached in the checkpoint and never recomputed per frame.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from refine_runtime.config import NuvoConfig
from refine_runtime.sim import mesh_edges


def _mlp(i: int, h: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, o))


class Nuvo(nn.Module):
    def __init__(self, charts: int, hidden: int) -> None:
        super().__init__()
        self.k = charts
        self.assign = _mlp(3, hidden, charts)
        self.to_uv = _mlp(3, hidden, 2 * charts)
        self.from_uv = _mlp(2 + charts, hidden, 3)
        self.log_scale = nn.Parameter(torch.zeros(charts))

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.assign(x), -1)

    def uv(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.to_uv(x)).view(-1, self.k, 2)

    def inverse(self, uv: torch.Tensor, chart: torch.Tensor) -> torch.Tensor:
        return self.from_uv(torch.cat([uv, nn.functional.one_hot(chart, self.k).float()], -1))


def learn_charts(rest: np.ndarray, faces: np.ndarray, cfg: NuvoConfig, seed: int = 0,
                 progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Rest vertices (n, 3) -> chart (n,) int64, uv (n, 2) float32."""
    torch.manual_seed(seed)
    x = torch.from_numpy(np.asarray(rest, np.float32))
    x = (x - x.mean(0)) / (x.std(0).max() + 1e-9)
    edges = torch.from_numpy(mesh_edges(np.asarray(faces))[0])
    i, j = edges[:, 0], edges[:, 1]
    dist = torch.linalg.vector_norm(x[i] - x[j], dim=-1)
    net = Nuvo(cfg.charts, cfg.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    n = len(x)
    charts = torch.arange(cfg.charts)
    bar = tqdm(range(cfg.iterations), desc="nuvo charts", unit="it", disable=not progress)
    for _ in bar:
        p = net.probs(x)  # (n, K)
        uv = net.uv(x)  # (n, K, 2)
        back = net.inverse(uv.reshape(-1, 2), charts.repeat(n))  # (n*K, 3)
        bij = (p * ((back.view(n, cfg.charts, 3) - x[:, None]) ** 2).sum(-1)).sum(-1).mean()
        rnd_uv = torch.rand(512, 2)
        rnd_k = torch.randint(0, cfg.charts, (512,))
        pts = net.inverse(rnd_uv, rnd_k)
        cyc = ((net.uv(pts)[torch.arange(512), rnd_k] - rnd_uv) ** 2).sum(-1).mean()
        same = (p[i] * p[j]).sum(-1)
        duv = torch.linalg.vector_norm(uv[i] - uv[j], dim=-1)  # (e, K)
        scale = torch.exp(net.log_scale)
        iso = (p[i] * p[j] * (duv - scale * dist[:, None]) ** 2).sum(-1).mean() / dist.pow(2).mean()
        cluster = (1 - same).mean() + iso
        mean_p = p.mean(0)
        balance = (mean_p * torch.log(mean_p * cfg.charts + 1e-9)).sum()
        loss = cfg.bijective_weight * (bij + cyc) + cfg.cluster_weight * cluster + cfg.balance_weight * balance
        opt.zero_grad()
        loss.backward()
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.4f}")
    with torch.no_grad():
        chart = net.probs(x).argmax(-1)
        uv = net.uv(x)[torch.arange(n), chart]
    return chart.numpy().astype(np.int64), uv.numpy().astype(np.float32)
