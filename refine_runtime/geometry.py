"""Per-vertex geometry of the base state, computed once per frame from precomputed static tables.

Static (once per asset): 1-ring neighbours within the vertex's chart and least-squares weights that
turn neighbour differences into the surface Jacobian d(x)/d(u, v). Per frame: the tangent frame
(e1 along u, e2, normal), and conditioning features that are invariant to the body's rigid motion
(stretch along u/v, shear, curvature, normal's up component, velocity in the tangent frame).
Residuals are expressed in that frame, so folds follow the motion.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from refine_runtime.sim import mesh_edges

FEATURES = ("stretch_u", "stretch_v", "shear", "curvature", "normal_up", "vel_u", "vel_v", "vel_n")


@dataclass
class Stencil:
    nbr: torch.Tensor  # (n, K) int64 neighbour ids (padded with the vertex itself)
    weight: torch.Tensor  # (n, K, 2) least-squares weights: J = sum_k weight[k] (x_nbr - x)
    mask: torch.Tensor  # (n, K) 1 for real neighbours
    rest_norm: torch.Tensor  # (n, 2) |dx/du|, |dx/dv| at rest
    spacing: torch.Tensor  # (n,) mean rest distance to the neighbours

    def __post_init__(self) -> None:
        self.weight_u = self.weight[..., 0:1].contiguous()  # (n, K, 1)
        self.weight_v = self.weight[..., 1:2].contiguous()

    def to(self, device: torch.device, dtype: torch.dtype = torch.float32) -> Stencil:
        return Stencil(self.nbr.to(device), self.weight.to(device, dtype), self.mask.to(device, dtype),
                       self.rest_norm.to(device, dtype), self.spacing.to(device, dtype))


def build_stencil(rest: np.ndarray, faces: np.ndarray, chart: np.ndarray, uv: np.ndarray, k: int = 8) -> Stencil:
    n = len(rest)
    edges, _ = mesh_edges(faces)
    edges = edges[chart[edges[:, 0]] == chart[edges[:, 1]]]
    both = np.concatenate([edges, edges[:, ::-1]])
    both = both[np.lexsort((both[:, 1], both[:, 0]))]
    start = np.searchsorted(both[:, 0], np.arange(n))
    slot = np.arange(len(both)) - start[both[:, 0]]
    k = int(min(k, slot.max() + 1 if len(slot) else 1))  # no wider than the largest 1-ring
    keep = slot < k
    nbr = np.tile(np.arange(n)[:, None], (1, k))
    nbr[both[keep, 0], slot[keep]] = both[keep, 1]
    mask = nbr != np.arange(n)[:, None]
    du = (uv[nbr] - uv[:, None]).astype(np.float64) * mask[..., None]  # (n, K, 2)
    gram = np.einsum("nki,nkj->nij", du, du) + 1e-10 * np.eye(2)
    weight = np.einsum("nki,nij->nkj", du, np.linalg.inv(gram))
    dx = (rest[nbr] - rest[:, None]) * mask[..., None]
    jac = np.einsum("nkd,nkc->ndc", weight, dx)
    rest_norm = np.maximum(np.linalg.norm(jac, axis=-1), 1e-6)
    spacing = np.linalg.norm(dx, axis=-1).sum(1) / np.maximum(mask.sum(1), 1)
    return Stencil(torch.from_numpy(nbr), torch.from_numpy(weight.astype(np.float32)),
                   torch.from_numpy(mask.astype(np.float32)), torch.from_numpy(rest_norm.astype(np.float32)),
                   torch.from_numpy(np.maximum(spacing, 1e-6).astype(np.float32)))


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / (torch.linalg.vector_norm(v, dim=-1, keepdim=True) + 1e-12)


def frame_and_features(x: torch.Tensor, x_prev: torch.Tensor, st: Stencil, fps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """x, x_prev (..., n, 3) -> tangent frames (..., n, 3, 3) (rows e1, e2, normal), raw features (..., n, 8)."""
    diff = x[..., st.nbr, :] - x.unsqueeze(-2)  # (..., n, K, 3); padding is the vertex itself: 0
    tu = (st.weight_u * diff).sum(-2)  # d(x)/du, (..., n, 3)
    tv = (st.weight_v * diff).sum(-2)
    nu, nv = torch.linalg.vector_norm(tu, dim=-1), torch.linalg.vector_norm(tv, dim=-1)
    e1 = tu / (nu.unsqueeze(-1) + 1e-12)
    normal = _unit(torch.cross(tu, tv, dim=-1))
    e2 = torch.cross(normal, e1, dim=-1)
    frames = torch.stack([e1, e2, normal], dim=-2)
    lap = diff.sum(-2) / st.mask.sum(-1).clamp(min=1).unsqueeze(-1)
    vel = (x - x_prev) * fps
    feats = torch.stack([
        nu / st.rest_norm[:, 0] - 1, nv / st.rest_norm[:, 1] - 1,
        (e1 * tv).sum(-1) / (nv + 1e-12),
        (lap * normal).sum(-1) / st.spacing,
        normal[..., 1],
        (vel * e1).sum(-1), (vel * e2).sum(-1), (vel * normal).sum(-1),
    ], dim=-1)
    return frames, feats


def to_local(frames: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
    return torch.einsum("...nij,...nj->...ni", frames, vec)


def to_world(frames: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
    return torch.einsum("...nij,...ni->...nj", frames, vec)
