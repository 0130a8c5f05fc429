"""``python -m bench.soak [--minutes N]``: a long session, watched for growth. Prints one JSON object.

16 headless clients, SUMO on the demo scenario, the pose bridge, the recorder, 90 Hz realtime, for
``--minutes`` (default 5). Every 5 s it reads each process's resident memory (RSS, psutil); the
figure is ``rss_mb_per_min.<process>``: the slope of a least-squares line through the samples after
the first minute (start-up, imports and first allocations excluded), with the tick figures of the
same run. Goals: every process at most 0.5 MB/min; the master keeps time however many clients
there are: tick lateness p99 at most 100 us and no late ticks. The syncserver runs SCHED_FIFO above
every component (as the shipped configs do) and the clients under normal scheduling: real-time
clients by the dozen exhaust the kernel's real-time budget, and the throttling that follows stops
the master too (seen here: 30-50 ms stalls, "sched: RT throttling activated").

Example: ``.venv/bin/python -m bench.soak --minutes 10 --clients 16``
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import psutil

from bench.machine import host_stalls
from session.config import load_config
from session.supervisor import Supervisor, prepare_session_dir

SAMPLE_S = 5.0
GOAL_MB_PER_MIN = 0.5
GOAL_LATENESS_P99_US = 100.0


def soak_config(minutes: float, clients: int, server_priority: int, client_priority: int,
                pose_priority: int) -> dict[str, Any]:
    comps: dict[str, Any] = {f"client{i}": {"module": "client", "required": False, "rt_priority": client_priority,
                                            "settings": {"residuals": {"enabled": False}, "report_frames": i == 0}}
                             for i in range(clients)}
    comps["sumo"] = {"module": "bridges.sumo", "settings": {"scenario": "scenarios/demo/demo.sumocfg", "start_s": 60,
                                                            "rt_priority": max(0, pose_priority - 5)}}
    comps["pose"] = {"module": "bridges.pose", "rt_priority": pose_priority,
                     "settings": {"source": "synthetic", "rate_hz": 250}}
    comps["recorder"] = {"module": "recording"}
    return {"session": {"name": "soak", "mode": "realtime", "rate_hz": 90, "duration_s": minutes * 60,
                        "rt_priority": server_priority, "ready_timeout_s": 120},
            "network": {"base_port": 0}, "components": comps}


class RssSampler(threading.Thread):
    """RSS of every child of the supervisor, by component name, every SAMPLE_S."""

    def __init__(self, sup: Supervisor) -> None:
        super().__init__(daemon=True)
        self.sup = sup
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_S):
            now = (time.monotonic() - self.t0) / 60
            for name, child in list(self.sup.children.items()):
                try:
                    rss = psutil.Process(child.proc.pid).memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.samples.setdefault(name, []).append((now, rss))


def read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text())
    except (OSError, ValueError):
        return None


def slope_mb_per_min(points: list[tuple[float, float]]) -> float | None:
    after = [(t, r) for t, r in points if t >= 1.0]
    if len(after) < 3:
        return None
    t, r = np.array(after).T
    return round(float(np.polyfit(t, r, 1)[0]), 3)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0, help="session length (default 5)")
    ap.add_argument("--clients", type=int, default=16, help="headless clients (default 16)")
    ap.add_argument("--keep", metavar="DIR", default=None, help="keep the session folder here (default: a temporary one)")
    ap.add_argument("--rt-priority", type=int, default=20, metavar="N",
                    help="SCHED_FIFO of the syncserver; the pose bridge runs at N-10 (default 20; 0: none)")
    ap.add_argument("--client-rt-priority", type=int, default=0, metavar="N",
                    help="SCHED_FIFO of every client (default 0: normal scheduling). Sixteen real-time clients "
                         "exhaust Linux's real-time budget (sched_rt_runtime_us, 95%% of each second) and every "
                         "real-time thread, the master's included, is then throttled for up to 50 ms")
    args = ap.parse_args(argv)
    if args.minutes <= 1.5:
        ap.error("--minutes must exceed 1.5: the fit starts after the first minute")
    print("host stalls: a busy loop for 3 s ...", file=sys.stderr)
    stalls = host_stalls()
    pose_priority = max(0, args.rt_priority - 10) if args.rt_priority else 0
    cfg = load_config(raw=soak_config(args.minutes, args.clients, args.rt_priority, args.client_rt_priority, pose_priority))
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        folder = prepare_session_dir(Path(args.keep) if args.keep else Path(tmp) / "session")
        sup = Supervisor(cfg, folder, quiet=True)
        sampler = RssSampler(sup)
        sampler.start()
        print(f"soak: {args.minutes:g} min, {args.clients} clients ...", file=sys.stderr)
        outcome = sup.run()
        sampler.stop.set()
        summary = outcome.summary
    rates = {name: slope_mb_per_min(pts) for name, pts in sorted(sampler.samples.items())}
    lateness = summary["ticks"]["lateness_us"]
    result = {
        "bench": "soak", "minutes": args.minutes, "clients": args.clients, "status": summary["status"],
        "machine": {"cpus": os.cpu_count(), "host_stalls_over_1ms": stalls},
        "rt_priority": {"syncserver": args.rt_priority, "pose": pose_priority, "clients": args.client_rt_priority},
        "rt_budget": {"sched_rt_runtime_us": read_int("/proc/sys/kernel/sched_rt_runtime_us"),
                      "sched_rt_period_us": read_int("/proc/sys/kernel/sched_rt_period_us")},
        "rss_mb_per_min": rates,
        "rss_mb_last": {name: round(pts[-1][1], 1) for name, pts in sorted(sampler.samples.items()) if pts},
        "ticks": {"frames": summary["session"].get("frames"), "lateness_us": lateness, "late": summary["ticks"]["late"]},
        "clients_dropped": sorted(n for n, c in summary.get("clients", {}).items() if c.get("dropped")),
    }
    worst = max((v for v in rates.values() if v is not None), default=None)
    result["goals"] = {
        "rss_le_0.5_mb_per_min": worst is not None and worst <= GOAL_MB_PER_MIN,
        "worst_mb_per_min": worst,
        "tick_lateness_p99_le_100us": lateness["p99"] is not None and lateness["p99"] <= GOAL_LATENESS_P99_US,
        "no_late_ticks": summary["ticks"]["late"] == 0,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
