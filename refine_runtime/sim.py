"""XPBD cloth on the welded garment: stretch and bending distance constraints (compliant), waistband
attached to the animated body, collision with the body's capsules. Jacobi-style constraint
projection keeps it vectorised in numpy; small substeps keep it stable.

This produces the ground truth ("fine") sequence the residual model learns from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from refine_runtime.body import SwaySitBody
from refine_runtime.pattern import Garment
from refine_runtime.unionfind import stitch_roots

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


class DistanceSet:
    """A family of compliant distance constraints solved Jacobi-style (XPBD, one lambda each)."""

    def __init__(self, pairs: np.ndarray, rest_pos: np.ndarray, compliance: float, n: int) -> None:
        self.i, self.j = pairs[:, 0], pairs[:, 1]
        self.rest = np.linalg.norm(rest_pos[self.j] - rest_pos[self.i], axis=-1)
        self.compliance = compliance
        self.n = n
        self.count = np.bincount(self.i, minlength=n) + np.bincount(self.j, minlength=n)
        self.lam = np.zeros(len(pairs))

    def solve(self, x: np.ndarray, w: np.ndarray, dt: float, delta: np.ndarray, hits: np.ndarray) -> None:
        d = x[self.j] - x[self.i]
        length = np.linalg.norm(d, axis=-1) + 1e-12
        alpha = self.compliance / (dt * dt)
        wsum = w[self.i] + w[self.j] + alpha
        dl = np.where(wsum > 0, (-(length - self.rest) - alpha * self.lam) / np.maximum(wsum, 1e-12), 0.0)
        self.lam += dl
        step = (dl / length)[:, None] * d
        for k in range(3):
            delta[:, k] -= np.bincount(self.i, w[self.i] * step[:, k], minlength=self.n)
            delta[:, k] += np.bincount(self.j, w[self.j] * step[:, k], minlength=self.n)
        hits += self.count


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
    relaxation: float = 1.6
    damping: float = 0.6  # 1/s, air drag
    margin_m: float = 0.01
    friction: float = 0.05
    settle_s: float = 1.0


def simulate(g: Garment, body: SwaySitBody, frames: int, settings: SimSettings = SimSettings(),
             progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Run the cloth over ``frames`` frames (after a settling period) -> (frames, n, 3) float32."""
    wd = Welded.from_garment(g)
    p = len(wd.rest)
    x = wd.rest.copy()
    v = np.zeros_like(x)
    w = np.where(wd.pinned, 0.0, 1.0)  # equal masses: only ratios matter for distance constraints
    stretch = DistanceSet(wd.edges, wd.rest, g.material.stretch_compliance, p)
    bend = DistanceSet(wd.bends, wd.rest, g.material.bend_compliance, p)
    dt = 1.0 / (settings.fps * settings.substeps)
    settle = int(round(settings.settle_s * settings.fps))
    out = np.empty((frames, g.n, 3), np.float32)
    pin_rest = wd.rest[wd.pinned]
    for f in range(-settle, frames):
        t = max(f, 0) / settings.fps
        for s in range(settings.substeps):
            ts = max(0.0, t - 1.0 / settings.fps + (s + 1) * dt)  # the frame's last substep ends at t
            pose = body.pose(ts)
            prev = x.copy()
            v += dt * GRAVITY * (w > 0)[:, None]
            v *= max(0.0, 1.0 - settings.damping * dt)
            x += dt * v
            x[wd.pinned] = pose.waist_transform(pin_rest, body.waist_height)
            stretch.lam[:] = 0
            bend.lam[:] = 0
            for _ in range(settings.iterations):
                delta = np.zeros_like(x)
                hits = np.zeros(p)
                stretch.solve(x, w, dt, delta, hits)
                bend.solve(x, w, dt, delta, hits)
                x += settings.relaxation * delta / np.maximum(hits, 1)[:, None]
            v = (x - prev) / dt
            collide(x, v, pose, settings.margin_m, settings.friction)
        if f >= 0:
            out[f] = x[wd.of_vertex]
            if progress:
                progress(1)
    return out
