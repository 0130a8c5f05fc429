"""Applying a refiner's RESIDUALS in the headless client, as the Unreal plugin does.

The client learns the asset from the bus: the refiner announces it (ASSET: name, vertex count,
rest positions and faces as raw arrays, and the SHA-256 of the base motion it refines). The client
displays ``base(t) + latest offsets`` each frame, where the base is the client's own (as a
renderer's would be): a base-motion file it is configured with (``residuals.base_motion``, checked
against the announced hash), or the announced rest pose. A residual refines the base of tick
``base_frame``; the age of the one displayed is ``frame - base_frame`` (0 = made for this frame).
"""
from __future__ import annotations

import logging

import numpy as np

from client.basemotion import BaseMotion
from cosim import protocol as p
from cosim.stats import Samples, percentile_block

log = logging.getLogger("client.residuals")


class ResidualApplier:
    def __init__(self, base_motion: BaseMotion | None = None) -> None:
        self.motion = base_motion
        self.asset: p.Asset | None = None
        self.rest: np.ndarray | None = None
        self.mesh: np.ndarray | None = None
        self.offsets: np.ndarray | None = None
        self.base_frame: int | None = None
        self.ages = Samples()
        self.applied = 0
        self.without = 0
        self.rejected = 0
        self.unknown_asset = 0  # residuals that came before their asset's ASSET
        self.base_source = "none"

    def on_asset(self, msg: p.Asset, arrays: dict[str, np.ndarray]) -> None:
        rest, faces = arrays.get("rest"), arrays.get("faces")
        n = msg.vertices
        if rest is None or rest.shape != (n, 3) or rest.dtype != np.float32 or not np.isfinite(rest).all() \
                or faces is None or faces.ndim != 2 or faces.shape[1:] != (3,) or faces.dtype != np.uint32 \
                or (faces.size and int(faces.max()) >= n):
            self.rejected += 1
            log.warning("rejected ASSET %r: rest must be finite <f4 (%d, 3) and faces <u4 (f, 3) indexing them", msg.asset, n)
            return
        if self.asset is not None and (self.asset.asset, self.asset.base_sha256) == (msg.asset, msg.base_sha256):
            return  # the same announcement again
        self.asset, self.rest = msg, rest.copy()
        self.mesh = np.empty((n, 3), np.float32)
        self.offsets, self.base_frame = None, None
        self.base_source = "rest"
        if self.motion is not None:
            if self.motion.sha256 != msg.base_sha256 or self.motion.vertices != n:
                log.warning("base motion %s (%d vertices, sha256 %s...) is not the base of %r (%d vertices, "
                            "sha256 %s...): the rest pose is used instead", self.motion.path, self.motion.vertices,
                            self.motion.sha256[:12], msg.asset, n, msg.base_sha256[:12])
            else:
                self.base_source = "base_motion"
        log.info("asset %r: %d vertices, %d faces; base: %s", msg.asset, n, len(faces), self.base_source)

    def on_residuals(self, msg: p.Residuals, arrays: dict[str, np.ndarray]) -> bool:
        """Take a RESIDUALS message; False when its asset is not known yet (ask for it)."""
        if self.asset is None or msg.asset != self.asset.asset:
            self.unknown_asset += 1
            return False
        offsets = arrays.get("offsets")
        n = self.asset.vertices
        if offsets is None or offsets.shape != (n, 3) or offsets.dtype != np.float16:
            self.rejected += 1
            log.warning("rejected RESIDUALS for asset %r: %s", msg.asset,
                        "no offsets" if offsets is None else f"{offsets.dtype} {offsets.shape}, expected float16 ({n}, 3)")
            return True
        if self.base_frame is None or msg.base_frame >= self.base_frame:
            self.offsets = offsets  # read-only view of the received frame; applied on the next tick
            self.base_frame = msg.base_frame
        return True

    def on_tick(self, frame: int, t_ns: int) -> int | None:
        """Build this frame's displayed mesh; returns the base frame of the residual used (or None)."""
        if self.mesh is None or self.rest is None:
            self.without += 1
            return None
        if self.base_source == "base_motion" and self.motion is not None:
            self.motion.at(t_ns, self.mesh)
        else:
            self.mesh[:] = self.rest
        if self.offsets is None or self.base_frame is None:
            self.without += 1
            return None
        self.mesh += self.offsets
        self.applied += 1
        self.ages.append(frame - self.base_frame)
        return self.base_frame

    def section(self) -> dict:
        return {"refine": {"residual_age_frames": percentile_block(self.ages), "applied_frames": self.applied,
                           "frames_without_residual": self.without, "rejected_residuals": self.rejected,
                           "residuals_before_asset": self.unknown_asset, "asset": self.asset.asset if self.asset else None,
                           "client_base": self.base_source}}
