"""Quality metrics and the notes' detail analysis (numpy; positions in metres, errors in cm)."""
from __future__ import annotations

from typing import Any

import numpy as np

from refine_runtime.sim import mesh_edges


def vertex_normals(x: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(..., n, 3) -> area-weighted unit vertex normals."""
    fn = np.cross(x[..., faces[:, 1], :] - x[..., faces[:, 0], :], x[..., faces[:, 2], :] - x[..., faces[:, 0], :])
    out = np.zeros_like(x)
    for k in range(3):
        np.add.at(out, (..., faces[:, k], slice(None)), fn)
    return out / (np.linalg.norm(out, axis=-1, keepdims=True) + 1e-12)


def normal_variation(x: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per vertex: mean over its edges of 1 - n_i . n_j, in [0, 2] (0 = locally flat)."""
    nrm = vertex_normals(x, faces)
    edges, _ = mesh_edges(faces)
    d = 1.0 - np.sum(nrm[..., edges[:, 0], :] * nrm[..., edges[:, 1], :], axis=-1)
    acc = np.zeros(x.shape[:-1])
    cnt = np.bincount(edges.ravel(), minlength=x.shape[-2])
    for k in range(2):
        np.add.at(acc, (..., edges[:, k]), d)
    return acc / np.maximum(cnt, 1)


def laplacian(x: np.ndarray, faces: np.ndarray) -> np.ndarray:
    edges, _ = mesh_edges(faces)
    acc = np.zeros_like(x)
    np.add.at(acc, (..., edges[:, 0], slice(None)), x[..., edges[:, 1], :])
    np.add.at(acc, (..., edges[:, 1], slice(None)), x[..., edges[:, 0], :])
    cnt = np.bincount(edges.ravel(), minlength=x.shape[-2])[:, None]
    return acc / np.maximum(cnt, 1) - x


def curvature_proxy(x: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """|uniform Laplacian| / mean edge length^2 (1/m), per vertex."""
    edges, _ = mesh_edges(faces)
    h = np.linalg.norm(x[..., edges[:, 0], :] - x[..., edges[:, 1], :], axis=-1).mean()
    return np.linalg.norm(laplacian(x, faces), axis=-1) / (h * h)


def l2_cm(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1).mean() * 100.0)


def jitter_cm(residuals: np.ndarray) -> float:
    """Mean frame-to-frame change of a residual sequence (F, n, 3), per vertex, in cm."""
    if len(residuals) < 2:
        return 0.0
    return float(np.linalg.norm(np.diff(residuals, axis=0), axis=-1).mean() * 100.0)


def quality(refined: np.ndarray, base: np.ndarray, gt: np.ndarray, faces: np.ndarray) -> dict[str, float]:
    """Refined vs base, both against the ground truth, over frames (F, n, 3)."""
    base_err, ref_err = l2_cm(base, gt), l2_cm(refined, gt)
    nv_gt = float(normal_variation(gt, faces).mean())
    return {
        "base_l2_cm": round(base_err, 4), "refined_l2_cm": round(ref_err, 4),
        "error_ratio": round(ref_err / max(base_err, 1e-12), 4),
        "normal_variation_ratio": round(float(normal_variation(refined, faces).mean()) / max(nv_gt, 1e-12), 4),
        "base_normal_variation_ratio": round(float(normal_variation(base, faces).mean()) / max(nv_gt, 1e-12), 4),
        "jitter_cm": round(jitter_cm(refined - base), 4), "gt_jitter_cm": round(jitter_cm(gt - base), 4),
    }


def _stats(v: np.ndarray) -> dict[str, float]:
    return {"mean": float(v.mean()), "std": float(v.std()), "max": float(v.max()), "min": float(v.min())}


def detail_analysis(base: np.ndarray, gt: np.ndarray | None, faces: np.ndarray, threshold: float = 0.05) -> dict[str, Any]:
    """The notes' report: normal variation and curvature proxy of input and ground truth, residual
    magnitude statistics and the high-frequency residual (residual minus its own smoothed version)."""
    out: dict[str, Any] = {"vertices": int(base.shape[-2])}
    for name, x in (("input", base), ("ground_truth", gt)):
        if x is None:
            continue
        nv = normal_variation(x, faces)
        out[name] = {"normal_variation": _stats(nv), "curvature_proxy": _stats(curvature_proxy(x, faces)),
                     "good_details": bool(nv.mean() >= threshold)}
    if gt is not None:
        res = gt - base
        mag = np.linalg.norm(res, axis=-1)
        high = np.linalg.norm(-laplacian(res, faces), axis=-1)
        out["residuals"] = {"magnitude": _stats(mag), "significant": bool(mag.mean() >= threshold * mag.max()),
                            "high_frequency": _stats(high), "high_frequency_present": bool(high.mean() > 0)}
    return out
