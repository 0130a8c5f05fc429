"""``python -m bench.unreal_client``: clock-offset error of the C++ client vs the Python client, as JSON.

Each round runs a lockstep session (pace 0, 1000 frames) against a real ``python -m syncserver``
twice, once with the Unreal plugin core's ``cosim_client`` and once with the headless Python client
(``python -m client``) as the only required client, alternating so that both see the same machine
load. The figure is the syncserver's ``clients.<name>.clock_offset_error_us`` (|estimate - truth|
from the client's HEARTBEATs; the truth is 0 on one host).

Goal (issue 7): the C++ client meets the Python client's bound, |error| p99 <= 50 us.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import yaml

from cosim.config import free_ports

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "build" / "cpp"
GOAL_P99_US = 50.0


def build_core(build_dir: Path = BUILD_DIR) -> Path:
    """cmake configure (once) and build the core, its tests and tools; returns the build folder."""
    if not (build_dir / "CMakeCache.txt").is_file():
        subprocess.run(["cmake", "-S", str(REPO_ROOT / "unreal_plugin"), "-B", str(build_dir),
                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], check=True, capture_output=True, text=True)
    subprocess.run(["cmake", "--build", str(build_dir), "-j2"], check=True, capture_output=True, text=True)
    return build_dir


def write_config(folder: Path, name: str, frames: int, module: str, settings: dict | None = None,
                 rate_hz: float = 90.0) -> tuple[Path, dict[str, str]]:
    """A lockstep (pace 0) session with explicit free loopback endpoints and one required client."""
    ports = free_ports("127.0.0.1", 4)
    eps = {k: f"tcp://127.0.0.1:{p}" for k, p in zip(("control", "ticks", "bus_in", "bus_out"), ports)}
    spec: dict[str, Any] = {"module": module, "required": True}
    if settings is not None:
        spec["settings"] = settings
    cfg = {
        "session": {"name": "bench-unreal", "mode": "lockstep", "pace": 0, "rate_hz": rate_hz,
                    "duration_s": frames / rate_hz, "start_delay_s": 0.05, "ready_timeout_s": 30,
                    "heartbeat_interval_s": 0.05, "probe_interval_s": 0.2},
        "network": {"base_port": 0, **eps},
        "components": {name: spec},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "session.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, eps


def _serve(cfg: Path, out: Path, client_cmd: list[str], timeout_s: float) -> tuple[subprocess.CompletedProcess, str]:
    server = subprocess.Popen([sys.executable, "-m", "syncserver", "--config", str(cfg), "--out", str(out)],
                              cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = subprocess.run(client_cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s)
        server_log, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    if client.returncode != 0 or server.returncode != 0:
        raise RuntimeError(f"session failed (client {client.returncode}, server {server.returncode}):\n"
                           f"{client.stderr[-3000:]}\n{server_log[-3000:]}")
    return client, server_log


def run_cpp_session(build_dir: Path, folder: Path, frames: int, *extra: str) -> tuple[dict, dict]:
    """One session with cosim_client as the required client: (client summary, syncserver sections)."""
    cfg, eps = write_config(folder, "cpp", frames, "unreal_plugin")
    out = folder / "session"
    client, _ = _serve(cfg, out, [str(build_dir / "cosim_client"), "--name", "cpp", "--required",
                                  "--control", eps["control"], "--ticks", eps["ticks"], "--bus-in", eps["bus_in"],
                                  "--report-frames", *extra], timeout_s=120)
    summary = json.loads(client.stdout.strip().splitlines()[-1])
    return summary, json.loads((out / "sections" / "syncserver.json").read_text())


def run_python_session(folder: Path, frames: int) -> dict:
    """One session with the headless Python client as the required client: syncserver sections."""
    cfg, _ = write_config(folder, "py", frames, "client", settings={"report_frames": True})
    out = folder / "session"
    _serve(cfg, out, [sys.executable, "-m", "client", "--config", str(cfg), "--name", "py", "--out", str(out)],
           timeout_s=120)
    return json.loads((out / "sections" / "syncserver.json").read_text())


def _median(values: list[float | None]) -> float | None:
    """Median of the rounds that measured something; None when none did."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=1000)
    args = ap.parse_args(argv)
    build_dir = build_core()
    cpp_p99, py_p99, cpp_gaps, cpp_missed = [], [], 0, 0
    with tempfile.TemporaryDirectory(prefix="bench-unreal-") as tmp:
        for k in range(args.rounds):
            summary, sections = run_cpp_session(build_dir, Path(tmp) / f"cpp{k}", args.frames)
            cpp_p99.append(sections["clients"]["cpp"]["clock_offset_error_us"]["p99"])
            cpp_gaps += summary["gaps"]
            cpp_missed += sections["clients"]["cpp"]["missed"]
            py = run_python_session(Path(tmp) / f"py{k}", args.frames)
            py_p99.append(py["clients"]["py"]["clock_offset_error_us"]["p99"])
    cpp_med, py_med = _median(cpp_p99), _median(py_p99)
    print(json.dumps({
        "bench": "unreal_client",
        "mode": "lockstep pace 0",
        "frames_per_session": args.frames,
        "rounds": args.rounds,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpp_offset_error_p99_us_per_round": cpp_p99,
        "python_offset_error_p99_us_per_round": py_p99,
        "cpp_offset_error_p99_us_median": cpp_med,
        "python_offset_error_p99_us_median": py_med,
        "cpp_tick_gaps": cpp_gaps,
        "cpp_missed_acks": cpp_missed,
        "goal_p99_us": GOAL_P99_US,
        "goal_met": cpp_med is not None and cpp_med <= GOAL_P99_US,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
