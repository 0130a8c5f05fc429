"""The CPU per-frame feature path as one fused loop over vertices (numba, parallel).

``geometry.frame_and_features`` computes the tangent frames and features in ~15 torch operations,
each a pass over arrays of (n, L, 3); at 20k vertices with the r = 3 patch that is 29 ms on one
thread, more than the whole network. ``base_features`` computes the same values in one pass, each
vertex in registers: frame, the 8 features, then every lattice point of the patch rotated into the
frame. Training and CUDA keep the torch version; tests hold the two equal.

Threads: the loop runs on numba's pool with as many threads as torch's intra-op pool
(``torch.get_num_threads()``), set in the calling thread (numba's thread count is thread-local).
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch
from numba import njit, prange

from refine_runtime.geometry import FEATURES, Stencil


@dataclass(frozen=True)
class FeatureTables:
    """A stencil's static tables in the layout the kernel reads (contiguous, float32 / int32)."""

    nbr: np.ndarray  # (n, K) int32
    weight_u: np.ndarray  # (n, K)
    weight_v: np.ndarray  # (n, K)
    count: np.ndarray  # (n,) real neighbours, at least 1
    rest_norm: np.ndarray  # (n, 2)
    spacing: np.ndarray  # (n,)
    patch_rows: np.ndarray  # (n, L, 3) int32; L = 0 without a patch
    patch_weight: np.ndarray  # (n, L, 3)
    patch_rest: np.ndarray  # (n, L, 3)

    @classmethod
    def from_stencil(cls, st: Stencil) -> FeatureTables:
        n = st.nbr.shape[0]

        def f32(t: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(t.detach().cpu().numpy(), np.float32)

        if st.patch_rows is None:
            rows, weight, rest = np.zeros((n, 0, 3), np.int32), np.zeros((n, 0, 3), np.float32), np.zeros((n, 0, 3), np.float32)
        else:
            rows = np.ascontiguousarray(st.patch_rows.cpu().numpy(), np.int32)
            weight, rest = f32(st.patch_weight), f32(st.patch_rest)
        return cls(np.ascontiguousarray(st.nbr.cpu().numpy(), np.int32), f32(st.weight[..., 0]), f32(st.weight[..., 1]),
                   f32(st.mask.sum(-1).clamp(min=1)), f32(st.rest_norm), f32(st.spacing), rows, weight, rest)

    @property
    def n_features(self) -> int:
        return len(FEATURES) + 3 * self.patch_rows.shape[1]


@njit(parallel=True, nogil=True, cache=True, fastmath=True)  # fastmath: 2x; results within 3e-5 of torch's
def _base_features(x, x_prev, fps, nbr, wu, wv, count, rest_norm, spacing, prow, pw, prest, frames, feats):  # pragma: no cover - compiled
    n, K = nbr.shape
    L = prow.shape[1]
    eps = np.float32(1e-12)
    one = np.float32(1)
    for i in prange(n):
        xi0, xi1, xi2 = x[i, 0], x[i, 1], x[i, 2]
        tu0 = tu1 = tu2 = tv0 = tv1 = tv2 = l0 = l1 = l2 = np.float32(0)
        for k in range(K):  # padding is the vertex itself: a zero difference
            j = nbr[i, k]
            d0, d1, d2 = x[j, 0] - xi0, x[j, 1] - xi1, x[j, 2] - xi2
            a, b = wu[i, k], wv[i, k]
            tu0 += a * d0
            tu1 += a * d1
            tu2 += a * d2
            tv0 += b * d0
            tv1 += b * d1
            tv2 += b * d2
            l0 += d0
            l1 += d1
            l2 += d2
        nu = np.sqrt(tu0 * tu0 + tu1 * tu1 + tu2 * tu2)
        nv = np.sqrt(tv0 * tv0 + tv1 * tv1 + tv2 * tv2)
        s = one / (nu + eps)
        e10, e11, e12 = tu0 * s, tu1 * s, tu2 * s
        c0, c1, c2 = tu1 * tv2 - tu2 * tv1, tu2 * tv0 - tu0 * tv2, tu0 * tv1 - tu1 * tv0
        s = one / (np.sqrt(c0 * c0 + c1 * c1 + c2 * c2) + eps)
        n0, n1, n2 = c0 * s, c1 * s, c2 * s
        e20, e21, e22 = n1 * e12 - n2 * e11, n2 * e10 - n0 * e12, n0 * e11 - n1 * e10
        frames[i, 0, 0], frames[i, 0, 1], frames[i, 0, 2] = e10, e11, e12
        frames[i, 1, 0], frames[i, 1, 1], frames[i, 1, 2] = e20, e21, e22
        frames[i, 2, 0], frames[i, 2, 1], frames[i, 2, 2] = n0, n1, n2
        v0, v1, v2 = (xi0 - x_prev[i, 0]) * fps, (xi1 - x_prev[i, 1]) * fps, (xi2 - x_prev[i, 2]) * fps
        sp = spacing[i]
        isp = one / sp
        c = count[i]
        feats[i, 0] = nu / rest_norm[i, 0] - one
        feats[i, 1] = nv / rest_norm[i, 1] - one
        feats[i, 2] = (e10 * tv0 + e11 * tv1 + e12 * tv2) / (nv + eps)
        feats[i, 3] = (l0 / c * n0 + l1 / c * n1 + l2 / c * n2) / sp
        feats[i, 4] = n1
        feats[i, 5] = v0 * e10 + v1 * e11 + v2 * e12
        feats[i, 6] = v0 * e20 + v1 * e21 + v2 * e22
        feats[i, 7] = v0 * n0 + v1 * n1 + v2 * n2
        for k in range(L):  # the lattice point minus the vertex, in the frame, per rest spacing, minus at rest
            p0, p1, p2 = -xi0, -xi1, -xi2
            for q in range(3):
                j = prow[i, k, q]
                w = pw[i, k, q]
                p0 += w * x[j, 0]
                p1 += w * x[j, 1]
                p2 += w * x[j, 2]
            o = 8 + 3 * k
            feats[i, o] = (e10 * p0 + e11 * p1 + e12 * p2) * isp - prest[i, k, 0]
            feats[i, o + 1] = (e20 * p0 + e21 * p1 + e22 * p2) * isp - prest[i, k, 1]
            feats[i, o + 2] = (n0 * p0 + n1 * p1 + n2 * p2) * isp - prest[i, k, 2]


def base_features(x: np.ndarray, x_prev: np.ndarray, fps: float, tables: FeatureTables,
                  frames: np.ndarray | None = None, feats: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Base positions x, x_prev (n, 3) float32 -> tangent frames (n, 3, 3) (rows e1, e2, normal) and
    raw features (n, 8 + 3 L), as ``geometry.frame_and_features`` for one frame. ``frames`` and
    ``feats`` are filled in place when given (no allocation per frame)."""
    n = tables.nbr.shape[0]
    if x.shape != (n, 3) or x_prev.shape != (n, 3):
        raise ValueError(f"base_features: positions must be ({n}, 3), got {x.shape} and {x_prev.shape}")
    frames = np.empty((n, 3, 3), np.float32) if frames is None else frames
    feats = np.empty((n, tables.n_features), np.float32) if feats is None else feats
    _follow_torch_threads()
    _base_features(np.ascontiguousarray(x, np.float32), np.ascontiguousarray(x_prev, np.float32), np.float32(fps),
                   tables.nbr, tables.weight_u, tables.weight_v, tables.count, tables.rest_norm, tables.spacing,
                   tables.patch_rows, tables.patch_weight, tables.patch_rest, frames, feats)
    return frames, feats


def _follow_torch_threads() -> None:
    """numba's pool to torch's thread count, in the calling thread. Launching numba's OpenMP pool (the
    first call) sets the process's OpenMP thread count, which is torch's too: it is put back."""
    threads = torch.get_num_threads()
    if numba.get_num_threads() != min(threads, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def cpu_bfloat16_native() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AVX512-BF16 or AMX): there
    oneDNN's bfloat16 GEMM is ~2.5x its float32 one; elsewhere it is emulated and slower."""
    cpu = getattr(torch, "cpu", None)
    checks = (getattr(cpu, "_is_avx512_bf16_supported", None), getattr(cpu, "_is_amx_tile_supported", None))
    return any(bool(f()) for f in checks if f is not None)


def cpu_precision(setting: str) -> str:
    """The runtime's ``cpu_precision`` setting resolved: "auto" is bfloat16 where native, else float32."""
    if setting == "auto":
        return "bfloat16" if cpu_bfloat16_native() else "float32"
    return setting
