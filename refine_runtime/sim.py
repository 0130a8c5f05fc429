"""XPBD cloth on the welded garment: stretch and bending distance constraints (compliant), waistband
attached to the animated body, collision with the body's capsules. Constraints are projected
Gauss-Seidel (xpbd.py); small substeps keep it stiff and stable.

This produces the ground truth ("fine") sequence the residual model learns from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from refine_runtime.body import SwaySitBody
from refine_runtime.pattern import Garment
from refine_runtime.unionfind import stitch_roots
from refine_runtime.xpbd import project_distances, project_tracking

GRAVITY = np.array([0.0, -9.81, 0.0])


@dataclass(frozen=True)
class Welded:
    """Simulation particles: one per stitch group; ``of_vertex`` maps render vertices to particles."""

    of_vertex: np.ndarray  # (n,) particle id per garment vertex
    rest: np.ndarray  # (p, 3)
    faces: np.ndarray  # (f, 3) in particle ids
    edges: np.ndarray  # (e, 2) unique mesh edges
    bends: np.ndarray  # (b, 2) opposite vertices of the two triangles sharing an edge
    pinned: np.ndarray  # (p,) bool

    @classmethod
    def from_garment(cls, g: Garment) -> Welded:
        roots = stitch_roots(g.n, g.stitches)
        uniq, of_vertex = np.unique(roots, return_inverse=True)
        faces = of_vertex[g.faces]
        pinned = np.zeros(len(uniq), bool)
        pinned[of_vertex[g.pinned]] = True
        edges, bends = mesh_edges(faces)
        return cls(of_vertex, g.rest[uniq], faces, edges, bends, pinned)


def mesh_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique undirected edges, and for every interior edge the pair of opposite vertices."""
    half = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    opposite = np.concatenate([faces[:, 2], faces[:, 0], faces[:, 1]])
    key = np.sort(half, axis=1)
    order = np.lexsort((key[:, 1], key[:, 0]))
    key, opposite = key[order], opposite[order]
    first = np.ones(len(key), bool)
    first[1:] = np.any(key[1:] != key[:-1], axis=1)
    edges = key[first]
    shared = ~first
    shared_idx = np.nonzero(shared)[0]
    bends = np.stack([opposite[shared_idx - 1], opposite[shared_idx]], -1)
    return edges, bends[bends[:, 0] != bends[:, 1]]


def edge_strain(rest: np.ndarray, faces: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per mesh edge, |x_j - x_i| / |rest_j - rest_i| - 1: how far positions ``x`` stretch the pattern."""
    edges, _ = mesh_edges(faces)
    length = np.linalg.norm(rest[edges[:, 1]] - rest[edges[:, 0]], axis=-1)
    return np.linalg.norm(x[edges[:, 1]] - x[edges[:, 0]], axis=-1) / length - 1.0


class DistanceSet:
    """A family of compliant distance constraints (XPBD, one lambda each), projected Gauss-Seidel."""

    def __init__(self, pairs: np.ndarray, rest_pos: np.ndarray, compliance: float) -> None:
        self.i, self.j = np.ascontiguousarray(pairs[:, 0], np.int64), np.ascontiguousarray(pairs[:, 1], np.int64)
        self.rest = np.linalg.norm(rest_pos[self.j] - rest_pos[self.i], axis=-1)
        self.compliance = compliance
        self.lam = np.zeros(len(pairs))

    def solve(self, x: np.ndarray, inv_mass: np.ndarray, dt: float) -> None:
        project_distances(x, inv_mass, self.i, self.j, self.rest, self.compliance / (dt * dt), self.lam)


def collide(x: np.ndarray, v: np.ndarray, pose, margin: float, friction: float) -> None:
    """Push particles out of every capsule; damp the tangential velocity of those in contact."""
    for a, b, r in zip(pose.a, pose.b, pose.radius):
        ab = b - a
        t = np.clip(((x - a) @ ab) / max(ab @ ab, 1e-12), 0.0, 1.0)
        closest = a + t[:, None] * ab
        d = x - closest
        dist = np.linalg.norm(d, axis=-1)
        inside = dist < r + margin
        if not inside.any():
            continue
        nrm = d[inside] / np.maximum(dist[inside], 1e-9)[:, None]
        x[inside] = closest[inside] + nrm * (r + margin)
        vn = np.sum(v[inside] * nrm, axis=-1, keepdims=True)
        v[inside] = (v[inside] - np.minimum(vn, 0) * nrm) * (1 - friction)


@dataclass
class SimSettings:
    fps: float = 30.0
    substeps: int = 10
    iterations: int = 5
    damping: float = 0.6  # 1/s, air drag
    margin_m: float = 0.01
    friction: float = 0.05
    settle_s: float = 1.0


class Tracking:
    """Tracking constraints (Kavan et al., "Physics-inspired upsampling for cloth simulation in games",
    SIGGRAPH 2011): the fine cloth's restriction to a coarse cloth's vertices is held, with compliance,
    at the restriction of the coarse cloth's prolongation (target()). Only the coarse-resolution modes
    are constrained; the detail between coarse vertices (folds, wrinkles, the curvature a bilinear map
    flattens) stays free.

    ``idx``/``weights`` (n_fine, 4): the bilinear prolongation from coarse garment vertices to fine
    garment vertices; restriction = its transpose, each row normalised to sum 1."""

    def __init__(self, fine: Welded, coarse: Welded, idx: np.ndarray, weights: np.ndarray, compliance: float) -> None:
        rows = coarse.of_vertex[idx.ravel()]  # coarse particle of each (fine vertex, corner)
        cols = np.repeat(fine.of_vertex, idx.shape[1])  # fine particle
        w = weights.ravel().astype(np.float64)
        keep = w > 1e-9
        key = rows[keep] * len(fine.rest) + cols[keep]  # merge duplicates (welded seams)
        uniq, inv = np.unique(key, return_inverse=True)
        self.coarse_of, self.fine_of = np.divmod(uniq, len(fine.rest))
        self.w = np.bincount(inv, w[keep])
        self.w /= np.bincount(self.coarse_of, self.w, minlength=len(coarse.rest))[self.coarse_of]
        self.start = np.concatenate([[0], np.cumsum(np.bincount(self.coarse_of, minlength=len(coarse.rest)))])
        self.count = len(coarse.rest)
        self.n = len(fine.rest)
        self.compliance = compliance
        self.lam = np.zeros((self.count, 3))
        first = np.unique(fine.of_vertex, return_index=True)[1]  # one garment vertex per fine particle
        self.prolong_idx, self.prolong_w = coarse.of_vertex[idx[first]], weights[first].astype(np.float64)
        self.pinned = fine.pinned

    def restrict(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((self.count, 3))
        for k in range(3):
            out[:, k] = np.bincount(self.coarse_of, self.w * x[self.fine_of, k], minlength=self.count)
        return out

    def target(self, coarse_x: np.ndarray, fine_x: np.ndarray) -> np.ndarray:
        """R Z, Z the coarse cloth's prolongation P X with the pinned fine particles where they are
        pinned (on the waist, not on the coarse chords). Holding R x there (not at X, which R P smooths,
        and one-sidedly at the waist and hem) leaves that prolongation itself a solution."""
        z = (coarse_x[self.prolong_idx] * self.prolong_w[..., None]).sum(1)
        z[self.pinned] = fine_x[self.pinned]
        return self.restrict(z)

    def solve(self, x: np.ndarray, inv_mass: np.ndarray, target: np.ndarray, dt: float) -> None:
        """One XPBD projection of C_c = sum_i w_ci x_i - T_c (a vector per coarse particle, T = target())."""
        project_tracking(x, inv_mass, self.start, self.fine_of, self.w, target, self.compliance / (dt * dt), self.lam)


class Cloth:
    """One garment's simulation state, advanced one substep at a time (so that two resolutions can be
    stepped in lockstep, the fine one tracking the coarse one)."""

    def __init__(self, g: Garment, settings: SimSettings) -> None:
        self.welded = wd = Welded.from_garment(g)
        self.settings = settings
        self.x = wd.rest.copy()
        self.v = np.zeros_like(self.x)
        self.inv_mass = np.where(wd.pinned, 0.0, 1.0)  # equal masses: only ratios matter for distance constraints
        self.stretch = DistanceSet(wd.edges, wd.rest, g.material.stretch_compliance)
        self.bend = DistanceSet(wd.bends, wd.rest, g.material.bend_compliance)
        self.pin_rest = wd.rest[wd.pinned]
        self.dt = 1.0 / (settings.fps * settings.substeps)

    def substep(self, pose, waist_height: float, track: Tracking | None = None, coarse_x: np.ndarray | None = None) -> None:
        s, x, w, dt = self.settings, self.x, self.inv_mass, self.dt
        prev = x.copy()
        self.v += dt * GRAVITY * (w > 0)[:, None]
        self.v *= max(0.0, 1.0 - s.damping * dt)
        x += dt * self.v
        x[self.welded.pinned] = pose.waist_transform(self.pin_rest, waist_height)
        target = track.target(coarse_x, x) if track is not None else None
        self.stretch.lam[:] = 0
        self.bend.lam[:] = 0
        if track is not None:
            track.lam[:] = 0
        for _ in range(s.iterations):
            self.stretch.solve(x, w, dt)
            self.bend.solve(x, w, dt)
            if track is not None:
                track.solve(x, w, target, dt)
        self.v = (x - prev) / dt
        collide(x, self.v, pose, s.margin_m, s.friction)

    def vertices(self) -> np.ndarray:
        return self.x[self.welded.of_vertex].astype(np.float32)


def simulate(g: Garment, body: SwaySitBody, frames: int, settings: SimSettings = SimSettings(),
             progress: Callable[[int], None] | None = None, tracking: tuple[Garment, np.ndarray, np.ndarray, float] | None = None,
             ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Run the cloth over ``frames`` frames (after a settling period) -> (frames, n, 3) float32.

    With ``tracking = (coarse garment, idx, weights, compliance)`` a coarse cloth is simulated in
    lockstep and the fine one tracks it (Tracking); returns (fine, coarse) frames."""
    cloth = Cloth(g, settings)
    coarse = Cloth(tracking[0], settings) if tracking else None
    track = Tracking(cloth.welded, coarse.welded, *tracking[1:]) if coarse else None
    settle = int(round(settings.settle_s * settings.fps))
    out = np.empty((frames, g.n, 3), np.float32)
    low = np.empty((frames, tracking[0].n, 3), np.float32) if tracking else None
    for f in range(-settle, frames):
        t = max(f, 0) / settings.fps
        for s in range(settings.substeps):
            ts = max(0.0, t - 1.0 / settings.fps + (s + 1) * cloth.dt)  # the frame's last substep ends at t
            pose = body.pose(ts)
            if coarse is not None:
                coarse.substep(pose, body.waist_height)
            cloth.substep(pose, body.waist_height, track, coarse.x if coarse is not None else None)
        if f >= 0:
            out[f] = cloth.vertices()
            if low is not None:
                low[f] = coarse.vertices()
            if progress:
                progress(1)
    return (out, low) if low is not None else out
