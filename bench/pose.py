"""``python -m bench.pose``: pose pipeline latency and motion-to-photon, printed as one JSON object.

- A real session (syncserver, pose bridge, headless client as processes): synthetic poses at 1 kHz
  alongside 90 Hz ticks; pose sample -> client receive latency (the software pipeline) and MTP in
  the headless display model, with its breakdown.
- Baseline measured in the same run: raw pyzmq PUB -> SUB between two processes at the same rate
  (8-byte timestamps, no proxy, no MessagePack), the transport floor under the same machine load.
- ``--rt-priority N`` (default 10, as the shipped demo and rig configs): each round also runs the
  session with the syncserver, client and pose bridge at SCHED_FIFO N, and the baseline's two
  processes at the same priority (reported under ``rt``, with its own goals).
- ``--repeat`` rounds of both (default 3); headline figures and goals are medians over rounds and
  every round is printed under ``rounds`` (one run can land in a burst of host noise).
- Poses take the direct stream from the pose bridge to the client, as in every shipped config;
  ``--via-proxy`` adds, per round, the same session with ``network.direct_streams: false`` (poses
  through the syncserver's bus proxy), at the real-time priority when one is given (``via_proxy``).

Goals (issue 4): software pipeline p99 <= 1 ms; MTP p99 <= 20 ms at 90 Hz.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml
import zmq

from bench.machine import host_stalls
from bench.rounds import add_round_args, check_round_args, median, priority_from_env
from cosim.config import NetworkSettings, resolve_endpoints
from session.config import load_config
from session.supervisor import Supervisor, prepare_session_dir
from cosim.process import mark_streaming, process_figures
from cosim.stats import percentile_block

REPO = Path(__file__).resolve().parent.parent
PIPELINE_GOAL_MS = 1.0
MTP_GOAL_MS = 20.0
RT_ENV = "BENCH_POSE_RT_PRIORITY"


def session_figures(duration_s: float, rate_hz: float, work: Path, rt_priority: int = 0,
                    direct: bool = True) -> dict[str, Any]:
    raw = {"session": {"name": "bench-pose", "mode": "realtime", "rate_hz": 90, "duration_s": duration_s,
                       "rt_priority": rt_priority},
           "network": {"host": "127.0.0.1", "base_port": 0, "direct_streams": direct},
           "components": {
               "client": {"module": "client", "required": True, "rt_priority": rt_priority,
                          "settings": {"display": {"refresh_hz": 90, "vsync_phase_ms": 3.0,
                                                   "vsync_to_photon_ms": 11.1, "render_ms": 1.0}}},
               "pose": {"module": "bridges.pose", "rt_priority": rt_priority,
                        "settings": {"source": "synthetic", "rate_hz": rate_hz}}}}
    tag = f"rt{rt_priority}{'' if direct else '-proxy'}"
    path = work / f"bench-pose-{tag}.yaml"
    path.write_text(yaml.safe_dump(raw))
    outcome = Supervisor(load_config(path), prepare_session_dir(work / f"session-{tag}"), quiet=True).run()
    s = outcome.summary
    mtp, pose = s.get("mtp", {}), s.get("pose", {})
    received = pose.get("received", {})
    return {
        "status": outcome.status,
        "pose_rate_hz": {"configured": rate_hz, "published": pose.get("rate_hz", {}).get("measured"),
                         "received": received.get("rate_hz")},
        "poses_received": received.get("samples"),
        "poses_direct": received.get("direct"),  # straight from the pose bridge, not via the bus proxy
        "pipeline_ms": received.get("sample_to_client_ms"),  # pose sample -> client receive
        "sample_to_bus_ms": pose.get("sample_to_bus_ms"),
        "bus_to_client_ms": received.get("bus_to_client_ms"),
        "mtp_ms": mtp.get("total_ms"),
        "mtp_breakdown_ms": {k[:-3]: mtp.get(k) for k in ("sample_to_bus_ms", "bus_to_client_ms",
                                                          "client_to_present_ms", "present_to_vsync_ms",
                                                          "vsync_to_photon_ms")},
        "mtp_frames": mtp.get("frames"),
        "prediction_error": {k: (mtp.get("prediction_error") or {}).get(k)
                             for k in ("rotation_deg", "unpredicted_rotation_deg")},
        "tick_lateness_us": s.get("ticks", {}).get("lateness_us"),
        # CPU time per wall time while streaming, one core = 100 (far steadier than latency on a shared host)
        "cpu_percent": {name: fig.get("streaming_cpu_percent") for name, fig in s.get("processes", {}).items()},
        "late_ticks": s.get("ticks", {}).get("late"),
    }


def raw_sub(endpoint: str, count: int) -> None:
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    lat = []
    while len(lat) < count and sock.poll(5000):
        body = sock.recv()
        lat.append(time.monotonic_ns() - int.from_bytes(body[:8], "little"))
        if len(lat) == 1:
            mark_streaming()
    print(json.dumps({"latency_ns": lat, "cpu": process_figures()}))


def raw_pub(endpoint: str, count: int, rate_hz: float) -> None:
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.bind(endpoint)
    time.sleep(1.5)  # the subscriber connects and subscribes
    start = time.monotonic_ns()
    mark_streaming()
    period = 1e9 / rate_hz
    for k in range(count):
        due = start + int(k * period)
        while (left := due - time.monotonic_ns()) > 0:
            time.sleep(left * 1e-9)
        sock.send(time.monotonic_ns().to_bytes(8, "little") + bytes(120))
    time.sleep(0.2)
    sock.close(linger=1000)
    print(json.dumps({"cpu": process_figures()}))


def raw_baseline(duration_s: float, rate_hz: float, rt_priority: int = 0) -> dict[str, Any]:
    """Plain pyzmq PUB (sleep-paced) -> SUB, two processes, same rate (and priority) as the session."""
    endpoint = resolve_endpoints(NetworkSettings(base_port=0)).bus_in
    count = int(duration_s * rate_hz)
    env = dict(os.environ, **{RT_ENV: str(rt_priority)})
    run = [sys.executable, "-m", "bench.pose"]
    pub = subprocess.Popen([*run, "--raw-pub", endpoint, str(count), str(rate_hz)], cwd=REPO, env=env,
                           stdout=subprocess.PIPE, text=True)
    sub = subprocess.Popen([*run, "--raw-sub", endpoint, str(count)], cwd=REPO, env=env,
                           stdout=subprocess.PIPE, text=True)
    try:
        out, _ = sub.communicate(timeout=duration_s + 60)
        pub_out, _ = pub.communicate(timeout=30)
    finally:
        for proc in (pub, sub):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    got, pub_got = last_json(out), last_json(pub_out)
    lat = got.get("latency_ns", [])
    return {"messages": len(lat), "rt_priority": rt_priority, "latency_ms": percentile_block(lat, 1e-6),
            "cpu_percent": {side: part.get("cpu", {}).get("streaming_cpu_percent")
                            for side, part in (("pub", pub_got), ("sub", got))}}


def last_json(text: str | None) -> dict[str, Any]:
    """The JSON object a worker printed as its last line ({} if it printed nothing)."""
    lines = (text or "").strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def one_round(duration_s: float, rate_hz: float, rt_priority: int, via_proxy: bool) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pose-") as tmp:
        for key, priority in [("", 0)] + ([("_rt", rt_priority)] if rt_priority else []):
            session = session_figures(duration_s, rate_hz, Path(tmp), priority)
            baseline = raw_baseline(min(duration_s, 5.0), rate_hz, priority)
            p99 = (session["pipeline_ms"] or {}).get("p99")
            raw99 = baseline["latency_ms"]["p99"]
            out[f"session{key}"] = session
            out[f"baseline_raw_pyzmq{key}"] = baseline
            out[f"pipeline_p99_over_raw_p99{key}"] = round(p99 / raw99, 2) if p99 and raw99 else None
        if via_proxy:
            out["session_via_proxy"] = session_figures(duration_s, rate_hz, Path(tmp), rt_priority, direct=False)
    out.update(loadavg_1m_before=round(load_before, 2), loadavg_1m_after=round(os.getloadavg()[0], 2))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="session seconds (default 10)")
    ap.add_argument("--rate", type=float, default=1000.0, help="pose rate in Hz (default 1000)")
    add_round_args(ap, "the syncserver, client and pose bridge (and the baseline's two processes)")
    ap.add_argument("--via-proxy", action="store_true",
                    help="also run each round's session with poses through the bus proxy (no direct stream)")
    ap.add_argument("--raw-sub", nargs=2, metavar=("ENDPOINT", "COUNT"), help=argparse.SUPPRESS)
    ap.add_argument("--raw-pub", nargs=3, metavar=("ENDPOINT", "COUNT", "RATE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.raw_sub or args.raw_pub:
        priority_from_env(RT_ENV)
        if args.raw_sub:
            raw_sub(args.raw_sub[0], int(args.raw_sub[1]))
        else:
            raw_pub(args.raw_pub[0], int(args.raw_pub[1]), float(args.raw_pub[2]))
        return 0
    check_round_args(ap, args)
    print("host stalls: a busy loop for 3 s ...", file=sys.stderr)
    stalls = host_stalls()
    rounds = []
    for r in range(1, args.repeat + 1):
        print(f"round {r}/{args.repeat}: session, then raw pyzmq baseline ...", file=sys.stderr)
        rounds.append(one_round(args.duration, args.rate, args.rt_priority, args.via_proxy))

    def med(get: Callable[[dict], float | None]) -> float | None:
        return median([get(r) for r in rounds])

    def figures(suffix: str) -> dict[str, Any]:
        key = f"session{suffix}"
        p99 = med(lambda r: (r[key]["pipeline_ms"] or {}).get("p99"))
        mtp99 = med(lambda r: (r[key]["mtp_ms"] or {}).get("p99"))
        return {
            "raw_pyzmq_p50_ms": med(lambda r: r[f"baseline_raw_pyzmq{suffix}"]["latency_ms"]["p50"]),
            "raw_pyzmq_p99_ms": med(lambda r: r[f"baseline_raw_pyzmq{suffix}"]["latency_ms"]["p99"]),
            "pipeline_p99_over_raw_p99": med(lambda r: r[f"pipeline_p99_over_raw_p99{suffix}"]),
            "pipeline_p50_ms": med(lambda r: (r[key]["pipeline_ms"] or {}).get("p50")),
            "pipeline_p99_ms": p99,
            "mtp_p50_ms": med(lambda r: (r[key]["mtp_ms"] or {}).get("p50")),
            "mtp_p99_ms": mtp99,
            "goals": {"judged_on": f"medians over {args.repeat} round(s); every round is listed under 'rounds'",
                      "pipeline_p99_ms": PIPELINE_GOAL_MS, "mtp_p99_ms": MTP_GOAL_MS,
                      "pipeline_met": p99 is not None and p99 <= PIPELINE_GOAL_MS,
                      "mtp_met": mtp99 is not None and mtp99 <= MTP_GOAL_MS},
        }

    result = {
        "bench": "pose",
        "duration_s": args.duration,
        "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "loadavg_1m_before": [r["loadavg_1m_before"] for r in rounds],
                    "host_stalls_over_1ms": stalls},
        **figures(""),
        **({"rt": {"rt_priority": args.rt_priority, **figures("_rt")}} if args.rt_priority else {}),
        **({"via_proxy": {"rt_priority": args.rt_priority, **{
            f"{k}_{q}_ms": med(lambda r, k=k, q=q: (r["session_via_proxy"][f"{k}_ms"] or {}).get(q))
            for k, q in (("pipeline", "p50"), ("pipeline", "p99"), ("mtp", "p50"), ("mtp", "p99"))}}}
           if args.via_proxy else {}),
        "rounds": rounds,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
