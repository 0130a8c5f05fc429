"""Applying refine_runtime's residuals in the headless client.

The client plays the same recorded base sequence the refine runtime plays (from the same asset file,
found through the session config's refine_runtime component), and each frame displays
``base(t) + latest residual offsets``. A residual refines the base of tick ``base_frame``; the age of
the one displayed is ``frame - base_frame`` (0 = refined for exactly this frame).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from session.config import Config, convert
from syncserver import protocol as p
from syncserver.errors import CosimError
from syncserver.stats import percentile_block

log = logging.getLogger("client.residuals")
REFINE_MODULE = "refine_runtime"


class ResidualApplier:
    def __init__(self, seq: Any) -> None:
        self.seq = seq
        self.mesh = np.empty((seq.n, 3), np.float32)
        self.offsets: np.ndarray | None = None
        self.base_frame: int | None = None
        self.ages: list[int] = []
        self.applied = 0
        self.without = 0
        self.rejected = 0

    @classmethod
    def from_config(cls, cfg: Config) -> ResidualApplier | None:
        """The applier for the session's (first enabled) refine component, or None when there is none."""
        for name, spec in cfg.enabled().items():
            if spec.module != REFINE_MODULE:
                continue
            from refine_runtime.assets import load_base_sequence
            from refine_runtime.config import Settings
            try:
                settings = convert(spec.settings, Settings, where=f"components.{name}.settings")
                return cls(load_base_sequence(settings).static_only())
            except CosimError as exc:
                log.error("residuals will not be applied: %s", exc)
                return None
        return None

    def on_residuals(self, msg: p.Message, arrays: dict[str, np.ndarray]) -> None:
        if not isinstance(msg, p.Residuals):
            return
        offsets = arrays.get("offsets")
        if msg.asset != self.seq.name or offsets is None or offsets.shape != (self.seq.n, 3) or offsets.dtype != np.float16:
            self.rejected += 1
            log.warning("rejected RESIDUALS for asset %r: %s", msg.asset,
                        "no offsets" if offsets is None else f"{offsets.dtype} {offsets.shape}, expected float16 ({self.seq.n}, 3)")
            return
        if self.base_frame is None or msg.base_frame >= self.base_frame:
            self.offsets = offsets  # read-only view of the received frame; applied on the next tick
            self.base_frame = msg.base_frame

    def on_tick(self, frame: int, t_ns: int) -> int | None:
        """Build this frame's displayed mesh; returns the base frame of the residual used (or None)."""
        self.seq.base_at(t_ns, self.mesh)
        if self.offsets is None or self.base_frame is None:
            self.without += 1
            return None
        self.mesh += self.offsets
        self.applied += 1
        self.ages.append(frame - self.base_frame)
        return self.base_frame

    def section(self) -> dict:
        return {"refine": {"residual_age_frames": percentile_block(self.ages), "applied_frames": self.applied,
                           "frames_without_residual": self.without, "rejected_residuals": self.rejected}}
