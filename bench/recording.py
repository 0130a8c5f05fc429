"""Recorder write/read throughput on this machine: ``python -m bench.recording``.

Writes a 90 Hz session's worth of traffic (tick, vehicle table of N vehicles with 4 payload arrays,
pose, frame report per frame) through SessionWriter with each compression, and reads it back. The
baseline, measured in the same run, is encoding the same messages with cosim.protocol alone (what
every publisher already pays), so ``write_cost_vs_encode`` says how much recording adds on top.
Prints one JSON object as its last line.
"""
from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from recording.reader import Recording
from recording.writer import SessionWriter
from cosim import protocol as p

FRAMES = 90 * 20
VEHICLES = 150


def traffic(frames: int) -> list[tuple[bytes, p.Message, dict]]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(frames):
        t = k * 11_111_111
        out.append((p.TOPIC_TICK, p.Tick(frame=k, t_ns=t, sent_ns=t + 5000, dt_ns=11_111_111, epoch_ns=1), {}))
        out.append((p.TOPIC_VEHICLES, p.Vehicles(frame=k, t_ns=t, sim_ns=t, ids_version=1), {
            "handle": np.arange(VEHICLES, dtype="<u4"),
            "position_cm": rng.normal(0, 1e4, (VEHICLES, 3)).astype("<f4"),
            "yaw_deg": rng.uniform(-180, 180, VEHICLES).astype("<f4"),
            "speed_cms": rng.uniform(0, 2000, VEHICLES).astype("<f4")}))
        out.append((p.TOPIC_POSE, p.Pose(frame=k, t_ns=t, device="hmd", sample_ns=t - 2_000_000,
                                         position=(0.0, 1.7, 0.0), orientation=(1.0, 0.0, 0.0, 0.0)), {}))
        out.append((p.TOPIC_FRAMES, p.FrameReport(frame=k, t_ns=t, recv_ns=t + 1, present_ns=t + 2, photon_ns=t + 3), {}))
    return out


def main() -> None:
    msgs = traffic(FRAMES)
    t = time.perf_counter()
    encoded = [p.encode(topic, msg, arrays) for topic, msg, arrays in msgs]
    encode_s = time.perf_counter() - t
    result: dict = {"bench": "recording", "frames": FRAMES, "messages": len(msgs), "vehicles": VEHICLES,
                    "session_s": FRAMES / 90, "baseline_encode_s": round(encode_s, 4), "by_compression": {},
                    "machine": {"python": platform.python_version(), "platform": platform.platform()}}
    with tempfile.TemporaryDirectory() as tmp:
        for comp in ("none", "lz4", "zstd"):
            path = Path(tmp) / f"{comp}.mcap"
            w = SessionWriter(path, compression=comp, flush_interval_s=0.5)
            t = time.perf_counter()
            for i, frames in enumerate(encoded):
                w.write(frames[0], frames[1], frames[2:], log_ns=i, publish_ns=i)
                if i % 180 == 0:  # as the recorder does: a chunk per 0.5 s of a 90 Hz session
                    w.flush()
            w.close()
            write_s = time.perf_counter() - t
            t = time.perf_counter()
            n = sum(1 for _ in Recording.open(path).messages())
            read_s = time.perf_counter() - t
            assert n == len(msgs)
            result["by_compression"][comp] = {
                "write_s": round(write_s, 4), "read_decode_s": round(read_s, 4),
                "write_msgs_per_s": round(len(msgs) / write_s), "bytes": path.stat().st_size,
                "mb_per_session_minute": round(path.stat().st_size / (FRAMES / 90) * 60 / 1e6, 2),
                "write_cost_vs_encode": round(write_s / encode_s, 3),
                "realtime_headroom": round((FRAMES / 90) / write_s, 1)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
