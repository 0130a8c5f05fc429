"""The real spherical harmonics that SH_FRAME coefficients are in (docs/protocol.md "SH assets").

Degree l = 0..L, order m = -l..l, column l*l + l + m; orthonormal over the unit sphere (integral of
Y_lm^2 = 1), no Condon-Shortley phase: Y_1,-1 = c y, Y_1,0 = c z, Y_1,1 = c x with c = sqrt(3 / 4 pi).
In terms of scipy's complex sph_harm_y (which has the phase): Y_l0 = Re Y_l^0, and for m != 0
sqrt(2) (-1)^m times Re Y_l^m (m > 0) or Im Y_l^|m| (m < 0). The C++ core computes the same
functions by recurrence and is held against values from this module (tests/golden/sh_basis.json).
"""
from __future__ import annotations

import numpy as np
from scipy.special import sph_harm_y

from cosim.protocol import SH_MAX_DEGREE


def coefficient_count(degree: int) -> int:
    return (degree + 1) ** 2


def real_sh(dirs: np.ndarray, degree: int) -> np.ndarray:
    """The basis at unit vectors ``dirs`` (n, 3): float64 (n, (degree+1)^2)."""
    if not 0 <= degree <= SH_MAX_DEGREE:
        raise ValueError(f"spherical-harmonic degree {degree} outside 0..{SH_MAX_DEGREE}")
    theta = np.arccos(np.clip(dirs[:, 2], -1, 1))  # polar angle
    phi = np.arctan2(dirs[:, 1], dirs[:, 0])
    cols = []
    for ell in range(degree + 1):
        for m in range(-ell, ell + 1):
            y = sph_harm_y(ell, abs(m), theta, phi)
            cols.append(np.sqrt(2) * (-1) ** m * (y.imag if m < 0 else y.real) if m else y.real)
    return np.stack(cols, 1)
