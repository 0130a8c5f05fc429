"""Per-vertex geometry of the base state, computed once per frame from precomputed static tables.

Static (once per asset): 1-ring neighbours within the vertex's chart and least-squares weights that
turn neighbour differences into the surface Jacobian d(x)/d(u, v). Per frame: the tangent frame
(e1 along u, e2, normal), and conditioning features that are invariant to the body's rigid motion
(stretch along u/v, shear, curvature, normal's up component, velocity in the tangent frame), and
optionally a patch: the base sampled on a small lattice around the vertex in its chart (a fixed
metric step in UV, barycentric in the chart's triangles), as offsets in the vertex's tangent frame
minus the same at rest. The patch says what the surface does around the vertex at the scale of a
coarse base (a bilinear map flattens what the fine cloth curves). Residuals are expressed in the
tangent frame, so folds follow the motion.
"""
from __future__ import annotations

import warnings
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
    patch_rows: torch.Tensor | None = None  # (n, L, 3) vertices around each lattice point
    patch_weight: torch.Tensor | None = None  # (n, L, 3) their barycentric weights
    patch_rest: torch.Tensor | None = None  # (n, L, 3) the patch at rest in the rest tangent frame / spacing

    def __post_init__(self) -> None:
        self.weight_u = self.weight[..., 0:1].contiguous()  # (n, K, 1)
        self.weight_v = self.weight[..., 1:2].contiguous()
        self.patch_offsets = None
        if self.patch_rows is not None:  # one sparse (n L, n) matrix: lattice point minus its vertex
            n, L, _ = self.patch_rows.shape
            row = torch.arange(n * L, device=self.patch_rows.device)
            own = torch.arange(n, device=self.patch_rows.device).repeat_interleave(L)
            index = torch.stack([torch.cat([row.repeat_interleave(3), row]), torch.cat([self.patch_rows.reshape(-1), own])])
            value = torch.cat([self.patch_weight.reshape(-1).float(), -torch.ones(n * L, device=row.device)])
            with warnings.catch_warnings():  # "sparse CSR support is in beta": the product used here is plain
                warnings.simplefilter("ignore", UserWarning)
                self.patch_offsets = torch.sparse_coo_tensor(index, value, (n * L, n)).coalesce().to_sparse_csr()

    def to(self, device: torch.device, dtype: torch.dtype = torch.float32) -> Stencil:
        patch = (None, None, None) if self.patch_rows is None else (
            self.patch_rows.to(device), self.patch_weight.to(device, dtype), self.patch_rest.to(device, dtype))
        return Stencil(self.nbr.to(device), self.weight.to(device, dtype), self.mask.to(device, dtype),
                       self.rest_norm.to(device, dtype), self.spacing.to(device, dtype), *patch)

    @property
    def n_features(self) -> int:
        return len(FEATURES) + (0 if self.patch_rows is None else 3 * self.patch_rows.shape[1])


def n_features(patch_radius: int) -> int:
    """Features per vertex for a stencil built with ``patch_radius``."""
    return len(FEATURES) + 3 * ((2 * patch_radius + 1) ** 2 - 1)


def patch_lattice(uv: np.ndarray, chart: np.ndarray, rest_norm: np.ndarray, step: np.ndarray,
                  radius: int) -> tuple[np.ndarray, np.ndarray]:
    """For each vertex, the (2r+1)^2 - 1 points at metric offsets (a, b) * step around it in its chart's
    UV (du = a * step / |dx/du|), each located in a triangulation of the chart's UV points (scipy's
    Delaunay): (n, L, 3) vertex ids and barycentric weights. A point outside the chart takes its
    nearest vertex (the chart's border)."""
    from scipy.spatial import Delaunay, cKDTree
    offsets = np.array([(a, b) for b in range(-radius, radius + 1) for a in range(-radius, radius + 1) if (a, b) != (0, 0)],
                       np.float64)
    n, L = len(uv), len(offsets)
    rows, weights = np.zeros((n, L, 3), np.int64), np.zeros((n, L, 3), np.float64)
    for c in np.unique(chart):
        ids = np.nonzero(chart == c)[0]
        q = (uv[ids, None, :] + offsets[None] * (step[ids, None] / rest_norm[ids])[:, None, :]).reshape(-1, 2)
        tri = Delaunay(uv[ids])
        simplex = tri.find_simplex(q)
        t = tri.transform[np.maximum(simplex, 0)]  # (m, 3, 2): affine map to barycentrics
        bary = np.einsum("mij,mj->mi", t[:, :2], q - t[:, 2])
        lam = np.concatenate([bary, 1 - bary.sum(1, keepdims=True)], 1)
        r, w = ids[tri.simplices[np.maximum(simplex, 0)]], lam
        miss = simplex < 0
        if miss.any():
            _, near = cKDTree(uv[ids]).query(q[miss])
            r[miss] = ids[near][:, None]
            w[miss] = [1.0, 0.0, 0.0]
        rows[ids], weights[ids] = r.reshape(len(ids), L, 3), w.reshape(len(ids), L, 3)
    return rows, weights


def build_stencil(rest: np.ndarray, faces: np.ndarray, chart: np.ndarray, uv: np.ndarray, k: int = 8,
                  patch_radius: int = 0, patch_step: float = 1.0) -> Stencil:
    """``patch_step``: the lattice's step in units of each vertex's rest spacing."""
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
    spacing = np.maximum(spacing, 1e-6)
    patch: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None)
    if patch_radius > 0:
        rows, w = patch_lattice(uv.astype(np.float64), chart, rest_norm, spacing * patch_step, patch_radius)
        patch = torch.from_numpy(rows), torch.from_numpy(w.astype(np.float32))
    st = Stencil(torch.from_numpy(nbr), torch.from_numpy(weight.astype(np.float32)),
                 torch.from_numpy(mask.astype(np.float32)), torch.from_numpy(rest_norm.astype(np.float32)),
                 torch.from_numpy(spacing.astype(np.float32)), *patch)
    if patch_radius > 0:
        x = torch.from_numpy(rest.astype(np.float32))
        frames, _ = frame_and_features(x, x, st, 1.0, patch=False)
        st.patch_rest = _patch(x, frames, st)
    return st


def _patch(x: torch.Tensor, frames: torch.Tensor, st: Stencil) -> torch.Tensor:
    """The patch's offsets from the vertex in its tangent frame, in units of the rest spacing: (..., n, L, 3)."""
    n, L = st.patch_rows.shape[:2]
    lead = x.shape[:-2]
    flat = x.float().reshape(-1, n, 3).permute(1, 0, 2).reshape(n, -1)  # (n, B*3)
    off = (st.patch_offsets @ flat).reshape(n, L, -1, 3).permute(2, 0, 1, 3).reshape(*lead, n, L, 3)
    local = off.to(frames.dtype) @ frames.transpose(-1, -2)  # rows of the frame: e1, e2, normal
    return local / st.spacing[:, None, None]


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / (torch.linalg.vector_norm(v, dim=-1, keepdim=True) + 1e-12)


def frame_and_features(x: torch.Tensor, x_prev: torch.Tensor, st: Stencil, fps: float,
                       patch: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """x, x_prev (..., n, 3) -> tangent frames (..., n, 3, 3) (rows e1, e2, normal), raw features
    (..., n, st.n_features): the 8 FEATURES, then the patch's deformation (3 per lattice point)."""
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
    if patch and st.patch_rows is not None:
        deform = _patch(x, frames, st) - st.patch_rest
        feats = torch.cat([feats, deform.flatten(-2)], -1)
    return frames, feats


def to_local(frames: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
    return torch.einsum("...nij,...nj->...ni", frames, vec)


def to_world(frames: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
    return torch.einsum("...nij,...ni->...nj", frames, vec)
