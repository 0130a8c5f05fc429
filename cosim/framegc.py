"""Python's cyclic garbage collector kept off a frame loop's deadlines.

Everything alive at start-up is frozen (never scanned again), automatic collection is off, and the
loop collects between frames, as often as the automatic policy would have (same thresholds, same
generations). The component runtime does this for a component with ``frame_gc = True``.
"""
from __future__ import annotations

import gc
import time
from typing import Any

from cosim.stats import Samples, percentile_block


class FrameGc:
    def __init__(self) -> None:
        self.thresholds = gc.get_threshold()
        self.collect_ns = Samples()
        self.active = False

    def start(self) -> None:
        gc.collect()
        gc.freeze()
        gc.disable()
        self.active = True

    def between_frames(self) -> None:
        if not self.active:
            return
        (c0, c1, c2), (t0, t1, t2) = gc.get_count(), self.thresholds
        if t0 <= 0 or c0 <= t0:
            return
        gen = 2 if c1 >= t1 and c2 >= t2 else 1 if c1 >= t1 else 0
        t = time.perf_counter_ns()
        gc.collect(gen)
        self.collect_ns.append(time.perf_counter_ns() - t)

    def stop(self) -> None:
        if self.active:
            gc.enable()
            self.active = False

    def section(self) -> dict[str, Any]:
        return {"gc_collections": len(self.collect_ns), "gc_ms": percentile_block(self.collect_ns, 1e-6)}
