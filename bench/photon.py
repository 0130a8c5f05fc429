"""``python -m bench.photon``: photon times measured through a photodiode, held against the truth.

Runs a real session (syncserver, pose bridge, headless client flashing every ``--every-frames``
frames, photodiode bridge) with the EMULATED board (bridges/photodiode/emulator.py) on a pty: its
clock drifts (``--drift-ppm``), its USB-serial link has a latency each way (``--link-latency-ms``),
and it lights a known, jittered delay after each flash reaches its screen (``--delay-ms`` ±
``--jitter-ms``). Per flash: the ``injected_ms`` delay (the emulator's truth, host clock), the
``measured_ms`` one (the photodiode bridge's photon time, the board's clock through the probe fit,
on the same host clock − the moment the flash reached the screen), their difference, and the client's measured and modelled motion-to-photon.
Baseline in the same run: timing each photon by when its line reached the host (no device clock),
``baseline_error_ms``. Goal: |measured − injected| p99 <= 0.5 ms. Prints one JSON object (last line).

    python -m bench.photon [--seconds 20] [--every-frames 30] [--delay-ms 20] [--jitter-ms 3]
                           [--drift-ppm 40] [--link-latency-ms 0.2:1.2]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import yaml
import zmq

from cosim import protocol as p
from cosim.config import NetworkSettings, resolve_endpoints
from cosim.stats import percentile_block

REPO = Path(__file__).resolve().parent.parent
GOAL_MS = 0.5


class Listener(threading.Thread):
    """The photon events on the bus: the photodiode's and the client's matches."""

    def __init__(self, bus: str) -> None:
        super().__init__(daemon=True)
        self.bus = bus
        self.photons: list[p.Event] = []  # events.photodiode
        self.frames: list[p.Event] = []  # events.photons (the client's matches)
        self.stop = False

    def run(self) -> None:
        sock = zmq.Context.instance().socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        for t in (p.TOPIC_PHOTODIODE, p.TOPIC_PHOTONS):
            sock.setsockopt(zmq.SUBSCRIBE, t)
        sock.connect(self.bus)
        decoder = p.bus_decoder()
        while not self.stop:
            if not sock.poll(100):
                continue
            try:
                _, msg, _ = decoder.decode(sock.recv_multipart())
            except Exception as exc:
                print("bench.photon: undecodable message:", exc, file=sys.stderr)
                continue
            if isinstance(msg, p.Event) and msg.kind == "photon":
                self.photons.append(msg)
            elif isinstance(msg, p.Event) and msg.kind == "photon.frame":
                self.frames.append(msg)
        sock.close()


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    link, screen, truth = tmp / "tty", tmp / "screen", tmp / "truth.jsonl"
    emu = subprocess.Popen([sys.executable, "-m", "bridges.photodiode.emulator", "--link", str(link), "--screen",
                            str(screen), "--truth", str(truth), "--delay-ms", repr(args.delay_ms), "--jitter-ms",
                            repr(args.jitter_ms), "--drift-ppm", repr(args.drift_ppm), "--link-latency-ms",
                            args.link_latency_ms], cwd=REPO, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not (link.exists() and screen.exists()):
            if time.monotonic() > deadline or emu.poll() is not None:
                raise SystemExit("bench.photon: the emulator did not start")
            time.sleep(0.05)
        eps = resolve_endpoints(NetworkSettings(base_port=0))
        cfg = {"session": {"name": "bench-photon", "rate_hz": 90, "duration_s": args.seconds},
               "network": msgspec.structs.asdict(eps),
               "components": {
                   "client": {"module": "client", "required": True, "settings": {
                       "residuals": {"enabled": False},
                       "flash": {"every_frames": args.every_frames, "screen_socket": str(screen)}}},
                   "pose": {"module": "bridges.pose", "settings": {"source": "synthetic", "rate_hz": 500}},
                   "photodiode": {"module": "bridges.photodiode", "required": True, "settings": {"port": str(link)}}}}
        path = tmp / "bench-photon.yaml"
        path.write_text(yaml.safe_dump(cfg))
        listener = Listener(eps.bus_out)
        listener.start()
        proc = subprocess.run([sys.executable, str(REPO / "run_session.py"), "--config", str(path), "--out",
                               str(tmp / "session"), "--quiet"], cwd=REPO, capture_output=True, text=True)
        time.sleep(0.2)
        listener.stop = True
        listener.join()
    finally:
        emu.send_signal(signal.SIGTERM)
        emu.wait(5)
    summary = json.loads((tmp / "session" / "summary.json").read_text()) if (tmp / "session" / "summary.json").exists() else {}
    if proc.returncode != 0 or not listener.photons:
        raise SystemExit(f"bench.photon: the session failed or saw no photon (exit {proc.returncode}): "
                         f"{proc.stderr[-800:]}")
    rows = {r["device_us"]: r for r in map(json.loads, truth.read_text().splitlines())}
    by_frame = {e.frame: e.data for e in listener.frames}
    flashes = []
    for e in listener.photons:
        t = rows.get(int(e.data["device_us"]) % 2**32)
        if t is None:
            continue
        measured = (int(e.data["host_ns"]) - t["screen_ns"]) / 1e6  # both on this host's CLOCK_MONOTONIC
        frame = by_frame.get(t["frame"], {})
        flashes.append({"frame": t["frame"], "injected_ms": round(t["injected_ms"], 4), "measured_ms": round(measured, 4),
                        "error_ms": round(measured - t["injected_ms"], 4),
                        "baseline_error_ms": round(measured - t["injected_ms"] + float(e.data["read_us"]) / 1e3, 4),
                        "measured_mtp_ms": frame.get("measured_mtp_ms"), "modelled_mtp_ms": frame.get("modelled_mtp_ms")})
    err = np.abs([f["error_ms"] for f in flashes])
    base = np.abs([f["baseline_error_ms"] for f in flashes])
    p99 = float(np.percentile(err, 99)) if len(err) else None
    return {"flashes_sent": len(rows), "flashes_measured": len(flashes),
            "abs_error_ms": percentile_block(err) if len(err) else None,
            "baseline_abs_error_ms": percentile_block(base) if len(base) else None,
            "mtp_measured": (summary.get("mtp") or {}).get("measured"),
            "photodiode": summary.get("photodiode"),
            "goal": {"abs_error_p99_ms": p99, "goal": GOAL_MS,
                     "met": p99 is not None and p99 <= GOAL_MS and len(flashes) == len(rows) > 0},
            "per_flash": flashes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.photon", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="session length (default 20)")
    ap.add_argument("--every-frames", type=int, default=30, help="flash every N frames (default 30: 3 per s at 90 Hz)")
    ap.add_argument("--delay-ms", type=float, default=20.0, help="the emulated display's flash-to-light delay")
    ap.add_argument("--jitter-ms", type=float, default=3.0, help="± uniform around it")
    ap.add_argument("--drift-ppm", type=float, default=40.0, help="the emulated board's clock rate error")
    ap.add_argument("--link-latency-ms", default="0.2:1.2", help="USB-serial latency each way, LO:HI uniform")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-photon-") as d:
        report = {"bench": "photon", "seconds": args.seconds, "every_frames": args.every_frames,
                  "emulator": {"delay_ms": args.delay_ms, "jitter_ms": args.jitter_ms, "drift_ppm": args.drift_ppm,
                               "link_latency_ms": args.link_latency_ms},
                  "cpus": os.cpu_count(), "load_avg_before": [round(x, 2) for x in os.getloadavg()]}
        report.update(run(args, Path(d)))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
