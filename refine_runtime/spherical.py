"""Spherical-harmonic bases for closed assets (seed note 001, mesh2sh; issue 16, Build 4).

A genus-0 mesh gets one chart: a conformal map onto the unit sphere by conformalized mean-curvature
flow (Kazhdan, Solomon and Ben-Chen 2012: the cotangent Laplacian of the input kept fixed, the mass
matrix of the current shape updated each step, implicit steps, re-centred and re-scaled to unit area,
then projected onto the sphere). Each coordinate of the mesh is a function on that sphere; its
least-squares fit with real spherical harmonics up to degree L is the coarse base M_SH(L), and a
residual field over the sphere refines it: ``M_ref = M_SH(L) + R(theta, phi)``. A deforming asset
then needs only 3 (L+1)^2 coefficients per frame instead of 3 n vertex coordinates.

The harmonics are cosim.shbasis's (scipy's sph_harm_y made real; the wire's convention); the fit is
numpy's lstsq.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla

from cosim.shbasis import real_sh


def cotangent_laplacian(v: np.ndarray, f: np.ndarray) -> sps.csr_matrix:
    """The (negative semi-definite) cotangent Laplacian of a triangle mesh."""
    n = len(v)
    rows, cols, vals = [], [], []
    for k in range(3):
        i, j, o = f[:, (k + 1) % 3], f[:, (k + 2) % 3], f[:, k]  # the angle at o faces edge (i, j)
        a, b = v[i] - v[o], v[j] - v[o]
        cot = (a * b).sum(1) / np.maximum(np.linalg.norm(np.cross(a, b), axis=1), 1e-12)
        rows += [i, j]
        cols += [j, i]
        vals += [0.5 * cot, 0.5 * cot]
    w = sps.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    return w - sps.diags(np.asarray(w.sum(1)).ravel())


def mass(v: np.ndarray, f: np.ndarray) -> sps.dia_matrix:
    """Lumped (barycentric) mass matrix."""
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    m = np.zeros(len(v))
    for k in range(3):
        np.add.at(m, f[:, k], area / 3)
    return sps.diags(m)


def conformal_sphere(v: np.ndarray, f: np.ndarray, steps: int = 12, dt: float = 0.05) -> np.ndarray:
    """Unit vectors: each vertex's place on the sphere (conformalized mean-curvature flow)."""
    lap = cotangent_laplacian(v, f)
    x = v - v.mean(0)
    x /= np.sqrt(mass(x, f).diagonal().sum())
    for _ in range(steps):
        m = mass(x, f)
        x = spla.spsolve((m - dt * lap).tocsc(), m @ x)
        w = m.diagonal()
        x -= (w[:, None] * x).sum(0) / w.sum()
        x /= np.sqrt(mass(x, f).diagonal().sum())
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def flipped_fraction(sphere: np.ndarray, f: np.ndarray) -> float:
    """Faces whose orientation on the sphere points inwards: 0 for a valid (bijective) map."""
    n = np.cross(sphere[f[:, 1]] - sphere[f[:, 0]], sphere[f[:, 2]] - sphere[f[:, 0]])
    return float(((n * sphere[f].mean(1)).sum(1) < 0).mean())


def angle_distortion_deg(v: np.ndarray, sphere: np.ndarray, f: np.ndarray) -> float:
    """Mean |corner angle on the sphere - on the mesh| in degrees: 0 for a conformal map."""
    def angles(x: np.ndarray) -> np.ndarray:
        out = []
        for k in range(3):
            a = x[f[:, (k + 1) % 3]] - x[f[:, k]]
            b = x[f[:, (k + 2) % 3]] - x[f[:, k]]
            c = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
            out.append(np.degrees(np.arccos(np.clip(c, -1, 1))))
        return np.stack(out, 1)
    return float(np.abs(angles(sphere) - angles(v)).mean())


def fit(basis: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Least-squares coefficients ((degree+1)^2, ...) of positions (n, ...) in the basis."""
    return np.linalg.lstsq(basis, positions.reshape(len(basis), -1), rcond=None)[0].reshape(basis.shape[1], *positions.shape[1:])


def reconstruct(basis: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    return np.tensordot(basis, coeffs, axes=(1, 0))


def head_proxy(subdivisions: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A genus-0 head-sized proxy: an ellipsoid with a nose, brows and ears (metres)."""
    import trimesh
    ico = trimesh.creation.icosphere(subdivisions=subdivisions)
    d = np.asarray(ico.vertices, dtype=np.float64)
    r = 1.0 + 0.25 * np.exp(-((d[:, 2] - 0.95) ** 2 + d[:, 0] ** 2 + (d[:, 1] + 0.05) ** 2) / 0.02)  # nose
    r += 0.08 * np.exp(-((d[:, 2] - 0.8) ** 2 + (np.abs(d[:, 0]) - 0.3) ** 2 + (d[:, 1] - 0.3) ** 2) / 0.01)  # brows
    r += 0.15 * np.exp(-((np.abs(d[:, 0]) - 1.0) ** 2 + d[:, 1] ** 2 + d[:, 2] ** 2) / 0.015)  # ears
    v = d * r[:, None] * np.array([0.08, 0.11, 0.095])
    return v, np.asarray(ico.faces, dtype=np.int64)


def deform(v: np.ndarray, t: float) -> np.ndarray:
    """The proxy animated: breathing scale, a jaw that opens, a slow nod (a function of time, s)."""
    out = v * (1 + 0.02 * np.sin(2 * np.pi * 0.3 * t))
    jaw = np.clip(-(v[:, 1] + 0.02) / 0.09, 0, 1) * (0.015 * (1 - np.cos(2 * np.pi * 0.5 * t)))
    out[:, 1] -= jaw
    a = 0.15 * np.sin(2 * np.pi * 0.2 * t)
    c, s = np.cos(a), np.sin(a)
    y, z = out[:, 1].copy(), out[:, 2].copy()
    out[:, 1], out[:, 2] = c * y - s * z, s * y + c * z
    return out


def study(degrees: tuple[int, ...] = (4, 8, 16, 24), frames: int = 20, subdivisions: int = 4) -> dict:
    """The ``spherical`` block of bench.refine: the head proxy mapped to the sphere, then per degree
    the SH base alone and with the rest's residual field, over a deforming sequence, and what a
    frame costs on the wire as coefficients vs as vertices (float32)."""
    import time

    from refine_runtime.metrics import normal_variation
    v, f = head_proxy(subdivisions)
    t0 = time.perf_counter()
    sphere = conformal_sphere(v, f)
    took = time.perf_counter() - t0
    seq = [deform(v, t) for t in np.linspace(0.0, 5.0, frames)]
    nv_truth = float(np.mean([normal_variation(m[None], f).mean() for m in seq]))
    rows = []
    for degree in degrees:
        basis = real_sh(sphere, degree)
        residual = v - reconstruct(basis, fit(basis, v))  # the field over the sphere: the rest's detail
        sh, refined = [], []
        for m in seq:
            approx = reconstruct(basis, fit(basis, m))
            sh.append(approx)
            refined.append(approx + residual)
        sh_a, ref_a, truth = np.stack(sh), np.stack(refined), np.stack(seq)
        rows.append({"degree": degree, "coefficients": 3 * (degree + 1) ** 2,
                     "bytes_per_frame": 3 * (degree + 1) ** 2 * 4, "vertex_bytes_per_frame": len(v) * 3 * 4,
                     "sh_l2_cm": round(float(np.linalg.norm(sh_a - truth, axis=-1).mean() * 100), 4),
                     "sh_plus_residual_l2_cm": round(float(np.linalg.norm(ref_a - truth, axis=-1).mean() * 100), 4),
                     "sh_normal_variation_ratio": round(float(normal_variation(sh_a, f).mean()) / nv_truth, 4),
                     "sh_plus_residual_normal_variation_ratio": round(float(normal_variation(ref_a, f).mean()) / nv_truth, 4)})
    return {"asset": "head proxy (genus 0)", "vertices": len(v), "frames": frames,
            "parametrization": {"method": "conformalized mean-curvature flow", "seconds": round(took, 3),
                                "flipped_faces": flipped_fraction(sphere, f),
                                "angle_distortion_deg": round(angle_distortion_deg(v, sphere, f), 4)},
            "by_degree": rows}
