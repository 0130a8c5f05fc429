"""Showing SH assets in the headless client, as the Unreal plugin does (docs/protocol.md "SH assets").

An SH_ASSET announces a closed asset: rest, faces, each vertex's place on the sphere and the detail
field R. The client evaluates the basis (cosim.shbasis) at those places once; each SH_FRAME's
coefficients then give the mesh ``Y @ coeffs + R``, built when the frame arrives (off the tick's
path) and shown from the next tick on (the newest frame wins; its age in ticks is kept like a
residual's).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from cosim import protocol as p
from cosim.errors import ProtocolError
from cosim.shbasis import real_sh
from cosim.stats import Samples, percentile_block

log = logging.getLogger("client.sh")
MAX_ASSETS = 8  # announcements beyond this many distinct assets are refused (bounded memory)


@dataclass
class _Shown:
    msg: p.ShAsset
    basis: np.ndarray  # (n, (L+1)^2) float32
    detail: np.ndarray  # (n, 3) float32
    mesh: np.ndarray  # (n, 3) float32: what is displayed
    frame: int | None = None  # of the SH_FRAME the mesh was built from (None: the rest shape, no frame yet)


class ShApplier:
    def __init__(self) -> None:
        self.assets: dict[str, _Shown] = {}
        self.ages = Samples()
        self.build_ns = Samples()
        self.applied = 0
        self.rejected = 0
        self.unknown_asset = 0
        self.bytes_received = 0
        self.frames_received = 0

    def on_asset(self, msg: p.ShAsset, arrays: dict[str, np.ndarray]) -> None:
        try:
            a = p.sh_asset_arrays(msg, arrays)
        except ProtocolError as exc:
            self.rejected += 1
            log.warning("rejected %s", exc)
            return
        old = self.assets.get(msg.asset)
        if old is not None and old.msg == msg and np.array_equal(old.detail, a["detail"]):
            return  # the same announcement again
        if old is None and len(self.assets) >= MAX_ASSETS:
            self.rejected += 1
            log.warning("rejected SH_ASSET %r: already showing %d SH assets", msg.asset, MAX_ASSETS)
            return
        basis = real_sh(a["sphere"].astype(np.float64), msg.degree).astype(np.float32)
        self.assets[msg.asset] = _Shown(msg, basis, a["detail"].copy(), a["rest"].copy())
        log.info("SH asset %r: %d vertices, degree %d (%d bytes per frame instead of %d)", msg.asset,
                 msg.vertices, msg.degree, 12 * (msg.degree + 1) ** 2, 12 * msg.vertices)

    def on_frame(self, msg: p.ShFrame, arrays: dict[str, np.ndarray]) -> bool:
        """Take an SH_FRAME; False when its asset is not known yet (ask for it)."""
        shown = self.assets.get(msg.asset)
        if shown is None:
            self.unknown_asset += 1
            return False
        try:
            coeffs = p.sh_frame_coeffs(msg, arrays)
            if msg.degree != shown.msg.degree:
                raise ProtocolError(f"SH_FRAME {msg.asset!r}: degree {msg.degree}, the asset was announced with {shown.msg.degree}")
        except ProtocolError as exc:
            self.rejected += 1
            log.warning("rejected %s", exc)
            return True
        self.frames_received += 1
        self.bytes_received += coeffs.nbytes
        if shown.frame is None or msg.frame >= shown.frame:
            start = time.perf_counter_ns()
            np.matmul(shown.basis, coeffs, out=shown.mesh)
            shown.mesh += shown.detail
            self.build_ns.append(time.perf_counter_ns() - start)
            shown.frame = msg.frame
        return True

    def on_tick(self, frame: int) -> None:
        for shown in self.assets.values():
            if shown.frame is not None:
                self.applied += 1
                self.ages.append(frame - shown.frame)

    def mesh(self, asset: str) -> np.ndarray | None:
        shown = self.assets.get(asset)
        return None if shown is None or shown.frame is None else shown.mesh

    def section(self) -> dict:
        return {"sh_assets": {"assets": {k: {"vertices": v.msg.vertices, "degree": v.msg.degree}
                                         for k, v in self.assets.items()},
                              "frames_received": self.frames_received,
                              "bytes_per_frame": self.bytes_received // self.frames_received if self.frames_received else None,
                              "applied_frames": self.applied, "age_frames": percentile_block(self.ages),
                              "build_ms": percentile_block(self.build_ns, 1e-6, 4),
                              "rejected": self.rejected, "frames_before_asset": self.unknown_asset}}
