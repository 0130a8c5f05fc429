"""Union-find over stitched vertices: seam groups and the stitch consistency check."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)

    def find(self, a: int) -> int:
        root = a
        while self.parent[root] != root:
            root = int(self.parent[root])
        while self.parent[a] != root:  # path compression
            self.parent[a], a = root, int(self.parent[a])
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def roots(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)


def stitch_roots(n: int, pairs: np.ndarray) -> np.ndarray:
    """Root vertex of every vertex after joining all stitched pairs (a vertex alone is its own root)."""
    uf = UnionFind(n)
    for a, b in np.asarray(pairs, dtype=np.int64).reshape(-1, 2):
        uf.union(int(a), int(b))
    return uf.roots()


@dataclass(frozen=True)
class SeamGroups:
    """Vertices that belong to a stitch group of two or more, with a dense group id each."""

    index: np.ndarray  # (m,) vertex ids
    group: np.ndarray  # (m,) group id in [0, count)
    count: int

    @classmethod
    def from_pairs(cls, n: int, pairs: np.ndarray) -> SeamGroups:
        roots = stitch_roots(n, pairs)
        sizes = np.bincount(roots, minlength=n)
        index = np.nonzero(sizes[roots] > 1)[0]
        uniq, group = np.unique(roots[index], return_inverse=True)
        return cls(index=index, group=group.astype(np.int64), count=len(uniq))


@dataclass(frozen=True)
class StitchReport:
    groups: int
    max_spread_m: float
    tolerance_m: float

    @property
    def ok(self) -> bool:
        return self.max_spread_m <= self.tolerance_m


def stitch_consistency(positions: np.ndarray, seams: SeamGroups, tolerance_m: float = 1e-3) -> StitchReport:
    """Every stitch group must end at one position: the largest distance of a member from its
    group's centroid, over all groups (and frames when ``positions`` is (F, n, 3))."""
    pos = np.asarray(positions, dtype=np.float64)
    pos = pos[None] if pos.ndim == 2 else pos
    if seams.count == 0:
        return StitchReport(0, 0.0, tolerance_m)
    members = pos[:, seams.index]  # (F, m, 3)
    sums = np.zeros((pos.shape[0], seams.count, 3))
    np.add.at(sums, (slice(None), seams.group), members)
    centroid = sums / np.bincount(seams.group, minlength=seams.count)[None, :, None]
    spread = np.linalg.norm(members - centroid[:, seams.group], axis=-1)
    return StitchReport(seams.count, float(spread.max()), tolerance_m)
