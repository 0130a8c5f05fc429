"""``python -m cosim.checksync --config F --join HOST[:PORT]``: check this host's clock sync with a
running syncserver before a participant arrives (docs/multihost.md). Prints one line per probe
burst and a verdict; ``--json`` prints one JSON object instead. Exit status: 0 ok, 1 poor sync or
no session, 2 a bad config.

Per burst: the offset (master minus this host's CLOCK_MONOTONIC), the smallest round trip, and the
bound: however asymmetric the path, the true offset lies within the bound of the estimate (half the
largest round trip of the probes averaged). Over the run: the jitter (standard deviation of the
burst estimates) and the drift (their trend, ppm). The check joins the session as an extra client
named ``sync-check.<host>``, which the summary lists.

Example: ``python -m cosim.checksync --config configs/rig.yaml --join 192.168.1.10 --seconds 10``
"""
from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import sys
import time
from typing import Any, Sequence

from cosim.clock import StreamingFit
from cosim.config import joined, read_config, resolve_endpoints
from cosim.curve import client_keys
from cosim.errors import CosimError
from cosim.node import Node
from cosim.process import setup_logging

GOOD_BOUND_US = 2000.0  # a fifth of a 90 Hz frame: motion-to-photon and frame timing stay meaningful


def check(node: Node, seconds: float, on_burst=None) -> dict[str, Any]:
    """Probe bursts for ``seconds`` after the first; the figures of the run."""
    est = node.sync.estimator
    bursts: list[dict[str, float]] = []
    fit = StreamingFit()
    seen = 0
    end = time.monotonic() + seconds
    while True:
        if est.bursts > seen and est.offset_ns is not None:
            seen = est.bursts
            now = node.clock.now_ns()
            fit.add(now, now + est.offset_ns)
            row = {"offset_s": est.offset_ns / 1e9, "rtt_us": est.rtt_ns / 1e3, "bound_us": est.bound_ns / 1e3}
            bursts.append(row)
            if on_burst:
                on_burst(row)
        if time.monotonic() >= end or node.stop_reason:
            break
        node.poll(100)
    offsets_us = [b["offset_s"] * 1e6 for b in bursts]
    drift = fit.drift_ppm()
    return {
        "bursts": len(bursts),
        "offset_s": bursts[-1]["offset_s"] if bursts else None,
        "jitter_us": round(statistics.pstdev(offsets_us), 3) if len(offsets_us) > 1 else None,
        "bound_us": round(bursts[-1]["bound_us"], 3) if bursts else None,
        "bound_median_us": round(statistics.median(b["bound_us"] for b in bursts), 3) if bursts else None,
        "bound_worst_us": round(max(b["bound_us"] for b in bursts), 3) if bursts else None,
        "rtt_min_us": round(min(b["rtt_us"] for b in bursts), 3) if bursts else None,
        "drift_ppm": None if drift is None else round(drift, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cosim.checksync", description=__doc__.splitlines()[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="the session config (its network: block and keys)")
    ap.add_argument("--join", metavar="HOST[:PORT]", default=None,
                    help="the syncserver's host (default: network.host of the config)")
    ap.add_argument("--seconds", type=float, default=10.0, help="how long to probe (default 10)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    setup_logging("checksync", "WARNING")
    try:
        cfg = read_config(args.config)
        net = joined(cfg.network, args.join) if args.join else cfg.network
        endpoints = resolve_endpoints(net)
        curve = client_keys(net)
    except CosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host = socket.gethostname()
    name = "sync-check." + (re.sub(r"[^A-Za-z0-9_.-]", "-", host)[:50] or "host")
    show = None if args.json else lambda b: print(
        f"offset {b['offset_s']:+.6f} s   round trip {b['rtt_us']:8.1f} us   bound +-{b['bound_us']:.1f} us", flush=True)
    with Node(name, endpoints, role="sync-check", curve=curve) as node:
        node.install_signal_handlers()
        try:
            welcome = node.connect(min(30.0, args.seconds + 20))
        except CosimError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if show:
            print(f"{host} -> syncserver on {welcome.host} at {endpoints.control} (CURVE {'on' if curve else 'off'})")
        result = check(node, args.seconds, show)
    result = {"host": host, "server_host": welcome.host, "endpoint": endpoints.control, "curve": curve is not None,
              **result}
    ok = result["bound_median_us"] is not None and result["bound_median_us"] <= GOOD_BOUND_US
    result["verdict"] = "ok" if ok else "poor: the median bound exceeds %g us (a busy or distant path)" % GOOD_BOUND_US
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['bursts']} bursts: jitter {result['jitter_us']} us, bound +-{result['bound_median_us']} us "
              f"median, +-{result['bound_worst_us']} us worst, "
              f"drift {result['drift_ppm']} ppm: {result['verdict']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
