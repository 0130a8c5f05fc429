"""The coarse base: a Taubin low-pass of the detailed surface on the welded mesh, mapped back onto
every (duplicated) fine vertex. The waistband stays where the body holds it."""
from __future__ import annotations

import numpy as np
from scipy import sparse

from refine_runtime.pattern import Garment
from refine_runtime.sim import Welded


def taubin(x: np.ndarray, edges: np.ndarray, fixed: np.ndarray, rounds: int,
           lam: float = 0.5, mu: float = -0.53) -> np.ndarray:
    """Shrink-free smoothing of ``x`` (F, p, 3) along mesh ``edges``; ``fixed`` vertices stay put."""
    p = x.shape[1]
    i, j = np.concatenate([edges[:, 0], edges[:, 1]]), np.concatenate([edges[:, 1], edges[:, 0]])
    adj = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(p, p))
    deg = np.maximum(np.asarray(adj.sum(axis=1)).ravel(), 1)
    avg = sparse.diags(1.0 / deg) @ adj
    move = (~fixed).astype(np.float64)[:, None]
    y = np.moveaxis(x, 1, 0).reshape(p, -1).astype(np.float64)  # (p, F*3)
    for _ in range(rounds):
        for factor in (lam, mu):
            y = y + factor * move * (avg @ y - y)
    return np.moveaxis(y.reshape(p, x.shape[0], 3), 0, 1)


def low_pass(g: Garment, fine: np.ndarray, rounds: int) -> np.ndarray:
    """(F, n, 3) fine sequence -> (F, n, 3) base sequence on the same vertices."""
    wd = Welded.from_garment(g)
    first = np.zeros(len(wd.rest), np.int64)
    first[wd.of_vertex] = np.arange(g.n)  # any member of a group represents it (they coincide)
    welded = fine[:, first].astype(np.float64)
    smooth = taubin(welded, wd.edges, wd.pinned, rounds)
    return np.ascontiguousarray(smooth[:, wd.of_vertex], dtype=np.float32)
