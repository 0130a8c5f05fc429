"""A deforming closed asset streamed as spherical-harmonic coefficients (issue 16, Build 4).

The asset is mapped once onto the sphere (spherical.py), the SH basis of degree L evaluated at each
vertex, and the least-squares fit reduced to one matrix (the basis's pseudo-inverse). The rest
shape's residual over the sphere is the detail field R, announced once with the asset (SH_ASSET);
each frame then travels as 3 (L+1)^2 float32 coefficients (SH_FRAME) and a client shows
``Y(sphere) @ coeffs + R``. The deformation here is the head proxy's synthetic animation
(spherical.deform: breathing, jaw, nod, a function of session time): a stand-in for a tracked or
simulated head, named as one.
"""
from __future__ import annotations

import hashlib
import time

import numpy as np

from cosim import protocol as p
from cosim.stats import Samples, percentile_block
from cosim.shbasis import real_sh
from refine_runtime.spherical import conformal_sphere, deform, head_proxy

ERROR_EVERY = 8


class ShStream:
    def __init__(self, name: str = "head", degree: int = 16, subdivisions: int = 4) -> None:
        self.name, self.degree = name, degree
        self.rest, self.faces = head_proxy(subdivisions)
        self.sphere = conformal_sphere(self.rest, self.faces)
        self.basis = real_sh(self.sphere, degree)
        pinv = np.linalg.pinv(self.basis)  # ((L+1)^2, n): coefficients = pinv @ positions
        self.detail = self.rest - self.basis @ (pinv @ self.rest)
        self.fit_matrix = pinv.astype(np.float32)  # float32 like what is sent (half the work per frame)
        self.fit_ns = Samples()
        self.error_m = Samples()  # every ERROR_EVERY-th frame: mean |Y c + R - truth| as sent (float32 coefficients)
        self.frames = 0

    @property
    def vertices(self) -> int:
        return len(self.rest)

    def asset_message(self) -> tuple[p.ShAsset, dict[str, np.ndarray]]:
        msg = p.ShAsset(asset=self.name, vertices=self.vertices, degree=self.degree)
        arrays = {"rest": self.rest, "faces": self.faces, "sphere": self.sphere, "detail": self.detail}
        return msg, {k: v.astype("<u4" if k == "faces" else "<f4") for k, v in arrays.items()}

    def coefficients(self, t_s: float) -> np.ndarray:
        """The asset's shape at session time ``t_s`` as float32 coefficients ((L+1)^2, 3)."""
        start = time.perf_counter_ns()
        truth = deform(self.rest, t_s)
        coeffs = self.fit_matrix @ truth.astype(np.float32)
        self.fit_ns.append(time.perf_counter_ns() - start)
        if self.frames % ERROR_EVERY == 0:  # what a client rebuilds, against the truth (as much work again)
            shown = self.basis @ coeffs.astype(np.float64) + self.detail
            self.error_m.append(float(np.linalg.norm(shown - truth, axis=1).mean()))
        self.frames += 1
        return coeffs

    def frame_message(self, frame: int, t_ns: int, coeffs: np.ndarray) -> tuple[p.ShFrame, dict[str, np.ndarray]]:
        return p.ShFrame(frame=frame, t_ns=t_ns, asset=self.name, degree=self.degree), {"coeffs": coeffs}

    def section(self) -> dict:
        coeff_bytes = 3 * (self.degree + 1) ** 2 * 4
        return {"asset": self.name, "vertices": self.vertices, "degree": self.degree, "frames": self.frames,
                "bytes_per_frame": coeff_bytes, "vertex_bytes_per_frame": self.vertices * 3 * 4,
                "fit_ms": percentile_block(self.fit_ns, 1e-6),
                "l2_cm": percentile_block(self.error_m, 100.0, 4),
                "topology_sha256": hashlib.sha256(self.faces.astype("<u4").tobytes()).hexdigest()}
