"""What the host does to a process that never sleeps: the floor under every latency figure here.

A busy loop reads the monotonic clock back to back; any gap over ``threshold_us`` is time the
process was not running (the hypervisor took the vCPU, or the kernel ran something else). On a
shared 2-core VM such stalls of one to several milliseconds happen about once a second, which is
why p99 latencies of multi-process paths land at milliseconds here whatever the code does.
"""
from __future__ import annotations

import os
import time
from typing import Any


def host_stalls(seconds: float = 3.0, threshold_us: float = 1000.0) -> dict[str, Any]:
    threshold = int(threshold_us * 1000)
    end = time.monotonic_ns() + int(seconds * 1e9)
    last = time.monotonic_ns()
    gaps: list[int] = []
    while last < end:
        now = time.monotonic_ns()
        if now - last > threshold:
            gaps.append(now - last)
        last = now
    return {"seconds": seconds, "threshold_us": threshold_us, "stalls": len(gaps),
            "per_s": round(len(gaps) / seconds, 2), "max_ms": round(max(gaps) / 1e6, 3) if gaps else 0.0,
            "total_ms": round(sum(gaps) / 1e6, 3), "loadavg_1m": round(os.getloadavg()[0], 2)}
