"""Repeated rounds for benchmarks on a noisy machine: the shared options and the median."""
from __future__ import annotations

import argparse
import os
import statistics
from typing import Sequence

from cosim.timing import realtime_priority


def add_round_args(ap: argparse.ArgumentParser, rt_what: str) -> None:
    """``--repeat`` (rounds, medians as headline) and ``--rt-priority`` (the same rounds at SCHED_FIFO)."""
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of every case (default 3); headline figures are medians over rounds")
    ap.add_argument("--rt-priority", type=int, default=10, metavar="N",
                    help=f"also run every round with {rt_what} at SCHED_FIFO N, as configs/demo.yaml and "
                         "configs/rig.yaml do (reported under 'rt'; needs CAP_SYS_NICE; 0 = skip; default 10)")


def check_round_args(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.repeat < 1:
        ap.error(f"--repeat must be at least 1, got {args.repeat}")


def median(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.median(kept), 3) if kept else None


def priority_from_env(env: str) -> int:
    """A benchmark worker process runs at the SCHED_FIFO priority its parent put in ``env`` (0: as
    it is); call it before any zmq context exists, so zmq's threads inherit it."""
    priority = int(os.environ.get(env, "0"))
    realtime_priority(priority, "the figures include scheduling delays")
    return priority
