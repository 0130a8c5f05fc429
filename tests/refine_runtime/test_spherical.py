"""Spherical-harmonic bases (refine_runtime/spherical.py) held against closed forms and invariants."""
from __future__ import annotations

import numpy as np
import trimesh

from cosim.shbasis import real_sh
from refine_runtime.spherical import (angle_distortion_deg, conformal_sphere, deform, fit, flipped_fraction,
                                      head_proxy, reconstruct, study)


def fibonacci(n: int) -> np.ndarray:
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    r, phi = np.sqrt(1 - z * z), np.pi * (1 + 5 ** 0.5) * k
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], 1)


def test_degree_one_is_the_textbook_real_harmonics():
    d = fibonacci(50)
    b = real_sh(d, 1)
    c = np.sqrt(3 / (4 * np.pi))
    np.testing.assert_allclose(b[:, 0], 0.5 / np.sqrt(np.pi))
    np.testing.assert_allclose(b[:, 1:], c * d[:, [1, 2, 0]], atol=1e-12)  # m = -1, 0, 1: y, z, x


def test_the_basis_is_orthonormal_over_the_sphere():
    d = fibonacci(20000)
    b = real_sh(d, 8)
    gram = b.T @ b * (4 * np.pi / len(d))
    np.testing.assert_allclose(gram, np.eye(b.shape[1]), atol=2e-3)


def test_a_sphere_maps_onto_itself_and_the_head_without_folds():
    ico = trimesh.creation.icosphere(subdivisions=3)
    v, f = np.asarray(ico.vertices), np.asarray(ico.faces)
    s = conformal_sphere(v, f)
    assert angle_distortion_deg(v, s, f) < 0.05 and flipped_fraction(s, f) == 0
    v, f = head_proxy(3)
    s = conformal_sphere(v, f)
    assert flipped_fraction(s, f) == 0 and angle_distortion_deg(v, s, f) < 1.5


def test_the_flow_unfolds_what_a_radial_projection_folds():
    """A dented sphere is not star-shaped: projecting it radially folds triangles; the flow does not."""
    ico = trimesh.creation.icosphere(subdivisions=4)
    d, f = np.asarray(ico.vertices), np.asarray(ico.faces)
    v = d.copy()
    v[:, 2] -= 1.2 * np.exp(-(d[:, 0] ** 2 + d[:, 1] ** 2) / 0.08) * (d[:, 2] > 0) * d[:, 2]
    assert flipped_fraction(conformal_sphere(v, f, steps=0), f) > 0.01
    assert flipped_fraction(conformal_sphere(v, f), f) == 0


def test_the_residual_field_refines_the_sh_base_of_a_deforming_asset():
    v, f = head_proxy(3)
    basis = real_sh(conformal_sphere(v, f), 8)
    residual = v - reconstruct(basis, fit(basis, v))
    m = deform(v, 2.3)
    sh = reconstruct(basis, fit(basis, m))
    assert np.linalg.norm(sh + residual - m, axis=1).mean() < 0.5 * np.linalg.norm(sh - m, axis=1).mean()


def test_the_bench_block_reports_bytes_and_errors_per_degree():
    out = study(degrees=(4, 8), frames=4, subdivisions=3)
    a, b = out["by_degree"]
    assert a["bytes_per_frame"] == 3 * 25 * 4 and a["vertex_bytes_per_frame"] == out["vertices"] * 12
    assert b["sh_l2_cm"] < a["sh_l2_cm"] and b["sh_plus_residual_l2_cm"] < b["sh_l2_cm"]
    assert out["parametrization"]["flipped_faces"] == 0
