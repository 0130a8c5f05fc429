"""The live part: a latest-only worker that refines the base state of the newest tick.

The clock loop only drops (frame, t_ns) into a one-slot mailbox and never waits; a worker thread
takes whatever is newest, refines it and publishes RESIDUALS itself. A tick that is overwritten
before the worker got to it is counted as skipped, never queued.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cosim.stats import Samples, percentile_block
from refine_runtime.sampler import Sampler
from refine_runtime.sequence import Sequence
from refine_runtime.unionfind import SeamGroups, stitch_consistency

log = logging.getLogger("refine")


@dataclass
class WorkerStats:
    refreshed: int = 0
    skipped: int = 0
    errors: int = 0
    frame_ns: Samples = field(default_factory=Samples)
    seam_gap_m: Samples = field(default_factory=Samples)  # the model's own, before seam groups are averaged
    first_ns: int | None = None
    last_ns: int | None = None


class LatestOnly:
    """A one-slot mailbox: ``put`` replaces (and counts) an unconsumed item; ``take`` waits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: tuple[int, int] | None = None
        self._closed = False
        self.replaced = 0

    def put(self, item: tuple[int, int]) -> None:
        with self._cond:
            if self._item is not None:
                self.replaced += 1
            self._item = item
            self._cond.notify()

    def take(self, timeout: float = 0.5) -> tuple[int, int] | None:
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


Publish = Callable[[int, int, int, np.ndarray], None]  # (frame, t_ns, base_frame, offsets f16)


class RefineWorker:
    def __init__(self, sampler: Sampler, seq: Sequence, publish: Publish) -> None:
        self.sampler = sampler
        self.seq = seq
        self.publish = publish
        self.box = LatestOnly()
        self.stats = WorkerStats()
        self._thread: threading.Thread | None = None
        self._base = np.empty((seq.n, 3), np.float32)
        self._prev = np.empty((seq.n, 3), np.float32)
        self._dt_seq_ns = int(round(1e9 / seq.fps))
        self.last: tuple[np.ndarray, np.ndarray] | None = None  # (base, float16 offsets) of the newest frame

    def refine_frame(self, frame: int, t_ns: int) -> np.ndarray:
        """Base state at ``t_ns`` -> float16 offsets (n, 3); times the whole per-frame path."""
        start = time.perf_counter_ns()
        self.seq.base_at(t_ns, self._base)
        self.seq.base_at(t_ns - self._dt_seq_ns, self._prev)
        offsets = self.sampler.refine(self._base, self._prev)
        out = offsets.to("cpu").numpy().astype(np.float16, copy=False)
        end = time.perf_counter_ns()
        self.last = (self._base, out)
        st = self.stats
        st.frame_ns.append(end - start)
        st.seam_gap_m.append(float(self.sampler.seam_gap))
        st.refreshed += 1
        st.first_ns = st.first_ns if st.first_ns is not None else start
        st.last_ns = end
        return out

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="refine-worker", daemon=True)
        self._thread.start()

    def submit(self, frame: int, t_ns: int) -> None:
        self.box.put((frame, t_ns))

    def _run(self) -> None:
        while not self.box.closed:
            item = self.box.take()
            if item is None:
                continue
            frame, t_ns = item
            try:
                offsets = self.refine_frame(frame, t_ns)
                self.publish(frame, t_ns, frame, offsets)
            except Exception:  # keep serving: a bad frame is counted and logged, never fatal
                self.stats.errors += 1
                log.exception("refining frame %d failed", frame)

    def stop(self, timeout: float = 5.0) -> None:
        self.box.close()
        if self._thread is not None:
            self._thread.join(timeout)
        self.stats.skipped = self.box.replaced

    def stitch_check(self, tolerance_m: float) -> dict | None:
        """Union-find stitch consistency of the newest refined frame, as displayed (base + float16
        offsets), and over the session the model's own seam gap before averaging (a seam vertex's
        distance to its group's mean)."""
        if self.last is None:
            return None
        base, offsets = self.last
        rep = stitch_consistency(base + offsets.astype(np.float32), SeamGroups.from_pairs(self.seq.n, self.seq.stitches),
                                 tolerance_m)
        return {"groups": rep.groups, "max_spread_mm": round(rep.max_spread_m * 1e3, 4), "ok": rep.ok,
                "before_averaging_mm": percentile_block(self.stats.seam_gap_m, 1e3, 4)}

    def refresh_hz(self, session_s: float | None = None) -> float | None:
        st = self.stats
        span = session_s if session_s else ((st.last_ns - st.first_ns) / 1e9 if st.first_ns and st.last_ns else 0)
        return round(st.refreshed / span, 2) if span else None
