"""``python -m bench.sumo``: per-frame cost of the SUMO bridge at 90 Hz, city scale.

For 100, 1,000 and 5,000 vehicles on one generated grid (scenarios/make_demo.sh, all vehicles
inserted in the first 5 s, the session starting at sim time 6 s) it runs real sessions
(syncserver + bridge, realtime, 90 Hz) with libsumo and traci side by side, and replays an FCD trace
of the same run written by SUMO itself (``sumo --fcd-output``, covering the whole session, so the
replay never runs past its end). A subscriber in this process counts the vehicle tables that
actually arrive on the bus. Each case reports the machine's load average before and after it: on a
shared machine, wall-clock figures include time the processes were descheduled (``frame_cpu_ms``
and ``step_cpu_ms`` are the same work in CPU time). Prints one JSON object (last line of stdout).

    python -m bench.sumo [--sizes 100,1000,5000] [--backends libsumo,traci,fcd] [--seconds 8]
                         [--lookahead S] [--record] [--rt-priority N]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import msgspec
import yaml
import zmq

from cosim.config import NetworkSettings, resolve_endpoints
from cosim import protocol as p

REPO = Path(__file__).resolve().parent.parent
KEYS = ("frames", "lagged_frames", "vehicles", "vehicles_max", "frame_cost_ms", "frame_cpu_ms", "publish_ms", "step_ms",
        "step_cpu_ms", "rtf", "rtf_mean", "rtf_capacity", "sim_drift_ms", "fcd_cache", "fcd_load_ms", "rt_priority",
        "gc_collections", "gc_ms", "error")
START_S = 6.0


def make_scenarios(root: Path, sizes: list[int]) -> dict[int, Path]:
    """One grid, the largest trip set from randomTrips; smaller sets are evenly spaced subsets."""
    big = max(sizes)
    env = dict(os.environ, TRIP_ATTRS='departLane="random" departSpeed="0" departPos="random_free"',
               MIN_DISTANCE="1500")
    subprocess.run(["bash", str(REPO / "scenarios" / "make_demo.sh"), str(root / "net"), "24", str(5.0 / big), "5"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    tree = ET.parse(root / "net" / "routes.rou.xml")
    vehicles = [el for el in tree.getroot() if el.tag == "vehicle"]
    out = {}
    for n in sizes:
        keep = set(id(v) for v in vehicles[:: max(1, len(vehicles) // n)][:n])
        sub = ET.Element("routes")
        sub.extend(el for el in tree.getroot() if el.tag != "vehicle" or id(el) in keep)
        d = root / f"n{n}"
        d.mkdir()
        ET.ElementTree(sub).write(d / "routes.rou.xml")
        cfg = (root / "net" / "demo.sumocfg").read_text().replace('value="net.net.xml"', f'value="{root / "net" / "net.net.xml"}"')
        (d / "bench.sumocfg").write_text(cfg)
        out[n] = d / "bench.sumocfg"
    return out


def make_fcd(cfg: Path, out: Path, end_s: float) -> float:
    """SUMO's own FCD output of the scenario from START_S to ``end_s``; returns the seconds it took."""
    from bridges.sumo.backends import sumo_binary
    t0 = time.monotonic()
    subprocess.run([sumo_binary(), "-c", str(cfg), "--seed", "42", "--end", repr(end_s), "--fcd-output", str(out),
                    "--device.fcd.begin", repr(START_S), "--no-step-log", "true", "--duration-log.disable", "true"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.monotonic() - t0, 1)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class BusCounter(threading.Thread):
    def __init__(self, endpoint: str) -> None:
        super().__init__(daemon=True)
        self.endpoint, self.frames, self.bytes, self.stop = endpoint, 0, 0, False

    def run(self) -> None:
        sock = zmq.Context.instance().socket(zmq.SUB)
        sock.setsockopt(zmq.SUBSCRIBE, p.TOPIC_VEHICLES)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.endpoint)
        while not self.stop:
            if sock.poll(100):
                frames = sock.recv_multipart(copy=False)
                self.frames += 1
                self.bytes += sum(len(f) for f in frames)
        sock.close()


def run_case(tmp: Path, name: str, settings: dict[str, Any], seconds: float) -> dict[str, Any]:
    eps = resolve_endpoints(NetworkSettings(base_port=0))  # free ports, known here for the counter
    cfg = {"session": {"name": name, "mode": "realtime", "rate_hz": 90, "duration_s": seconds},
           "network": msgspec.structs.asdict(eps),
           "components": {"sumo": {"module": "bridges.sumo", "settings": {"startup_timeout_s": 300, **settings}}}}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    counter = BusCounter(eps.bus_out)
    counter.start()
    load_before = load()
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(REPO / "run_session.py"), "--config", str(path),
                           "--out", str(tmp / name), "--quiet"], cwd=REPO, capture_output=True, text=True)
    counter.stop = True
    counter.join()
    try:
        section = json.loads((tmp / name / "summary.json").read_text()).get("sumo", {})
    except (OSError, ValueError) as exc:
        section = {"error": f"no summary: {exc}; exit {proc.returncode}: {proc.stderr[-500:]}"}
    out = {k: section.get(k) for k in KEYS}
    out["received_tables"] = counter.frames
    out["received_mb_per_s"] = round(counter.bytes / 1e6 / seconds, 2)
    out["wall_s"] = round(time.monotonic() - t0, 1)
    out["load_avg_before"], out["load_avg_after"] = load_before, load()
    print(f"{name}: {json.dumps(out)}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sumo")
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--backends", default="libsumo,traci,fcd")
    ap.add_argument("--lookahead", type=float, default=None, help="lookahead_s for every case (default: the bridge's)")
    ap.add_argument("--record", action="store_true", help="the libsumo cases also record FCD (record_fcd)")
    ap.add_argument("--rt-priority", type=int, default=0,
                    help="also run each FCD case with the bridge's main thread at this SCHED_FIFO priority")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    results: dict[str, dict[str, Any]] = {b: {} for b in backends}
    with tempfile.TemporaryDirectory(prefix="bench-sumo-") as d:
        tmp = Path(d)
        t0 = time.monotonic()
        scenarios = make_scenarios(tmp, sizes)
        gen_s = round(time.monotonic() - t0, 1)
        fcd_generation_s: dict[str, float] = {}
        for n in sizes:
            common: dict[str, Any] = {"scenario": str(scenarios[n]), "start_s": START_S,
                                      "fcd_cache_dir": str(tmp / "fcd-cache")}
            if args.lookahead is not None:
                common["lookahead_s"] = args.lookahead
            if "libsumo" in backends:
                rec = {"record_fcd": str(tmp / f"rec{n}.xml.gz")} if args.record else {}
                results["libsumo"][str(n)] = run_case(tmp, f"libsumo{n}", {**common, "backend": "libsumo", **rec},
                                                      args.seconds)
            if "traci" in backends:
                results["traci"][str(n)] = run_case(tmp, f"traci{n}", {**common, "backend": "traci"}, args.seconds)
            if "fcd" in backends:
                fcd = tmp / f"fcd{n}.xml.gz"
                fcd_generation_s[str(n)] = make_fcd(scenarios[n], fcd, START_S + args.seconds + 3.0)
                results["fcd"][str(n)] = run_case(tmp, f"fcd{n}", {**common, "backend": "fcd", "scenario": str(fcd)},
                                                  args.seconds)
                if args.rt_priority:
                    results.setdefault("fcd_rt", {})[str(n)] = run_case(
                        tmp, f"fcd_rt{n}", {**common, "backend": "fcd", "scenario": str(fcd),
                                            "rt_priority": args.rt_priority}, args.seconds)
    report: dict[str, Any] = {"bench": "sumo", "rate_hz": 90, "seconds": args.seconds, "cpus": os.cpu_count(),
                              "load_avg": load(), "lookahead_s": args.lookahead, "record_fcd": args.record,
                              "scenario_generation_s": gen_s, "fcd_generation_s": fcd_generation_s,
                              "results": results}
    goals: dict[str, Any] = {}
    for backend, goal in (("fcd", "fcd_5000_frame_cost_p99_ms"), ("fcd_rt", "fcd_5000_frame_cost_p99_ms_rt")):
        fcd5k = results.get(backend, {}).get("5000")
        if fcd5k and fcd5k.get("frame_cost_ms"):
            p99 = fcd5k["frame_cost_ms"]["p99"]
            goals[goal] = {"value": p99, "goal": 2.0, "met": p99 is not None and p99 <= 2.0,
                           **({"rt_priority": fcd5k["rt_priority"]} if backend == "fcd_rt" else {}),
                           "frame_cpu_p99_ms": (fcd5k.get("frame_cpu_ms") or {}).get("p99"),
                           "lagged_frames": fcd5k["lagged_frames"], "load_avg_before": fcd5k["load_avg_before"]}
    live1k = results.get("libsumo", {}).get("1000")
    if live1k and live1k.get("rtf_mean") is not None:
        ok = live1k["rtf_mean"] >= 0.999 and live1k["lagged_frames"] == 0 and (live1k["vehicles"] or {}).get("p50", 0) >= 1000
        goals["libsumo_1000_rtf"] = {"rtf_mean": live1k["rtf_mean"], "lagged_frames": live1k["lagged_frames"],
                                     "vehicles_p50": (live1k["vehicles"] or {}).get("p50"),
                                     "received_tables": live1k["received_tables"],
                                     "rtf_capacity_p50": (live1k["rtf_capacity"] or {}).get("p50"),
                                     "step_cpu_ms_p50": (live1k.get("step_cpu_ms") or {}).get("p50"),
                                     "load_avg_before": live1k["load_avg_before"], "met": ok}
    report["goals"] = goals
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
