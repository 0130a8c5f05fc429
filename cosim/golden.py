"""Golden byte vectors: one file per message type, generated from cosim.protocol.

``python -m cosim.golden [--check]`` writes (or checks) tests/golden/. Each ``<name>.bin`` is a
multipart message: u32 LE frame count, then per frame u32 LE length and the bytes. manifest.json
gives, per vector, its topic, message type, the header as JSON, and the arrays' dtype/shape/values
(numbers as floats, byte strings ``|S<w>`` as the UTF-8 text they hold), so that any
implementation (the C++ core included) can check both decoding and encoding.
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import Sequence

import msgspec
import numpy as np

from cosim import protocol as p
from cosim.shbasis import real_sh

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "tests" / "golden"


def vectors() -> list[tuple[str, bytes, p.Message, dict[str, np.ndarray]]]:
    common = dict(frame=1234, t_ns=13_711_111_111, src="golden")
    big_t = 2**62 + 12345
    return [
        ("hello", p.TOPIC_CONTROL, p.Hello(name="client", role="client", required=True, host="rig-pc", pid=4242,
                                           direct=[p.DirectStream(topic="pose", endpoint="tcp://127.0.0.1:41234",
                                                                  host="rig-pc")], **common), {}),
        ("ready", p.TOPIC_CONTROL, p.Ready(**common), {}),
        ("ack", p.TOPIC_CONTROL, p.Ack(recv_ns=13_711_200_000, done_ns=13_711_900_000, present_ns=13_714_000_000,
                                       photon_ns=13_725_100_000, **common), {}),
        ("ack_minimal", p.TOPIC_CONTROL, p.Ack(recv_ns=-5, done_ns=0, **common), {}),
        ("probe", p.TOPIC_CONTROL, p.Probe(seq=7, t0=big_t, **common), {}),
        ("heartbeat", p.TOPIC_CONTROL, p.Heartbeat(offset_ns=-1_500, rtt_ns=80_000, offset_error_ns=12, **common), {}),
        ("bye", p.TOPIC_CONTROL, p.Bye(reason="done", **common), {}),
        ("welcome", p.TOPIC_CONTROL, p.Welcome(session_id="abc123", host="rig-pc", mode="lockstep", rate_hz=90.0,
                                               pace=0.0, duration_s=10.0, epoch_ns=big_t, heartbeat_interval_s=0.25,
                                               heartbeat_timeout_s=2.0, probe_interval_s=1.0, probe_burst=8,
                                               direct=[p.DirectStream(topic="pose", endpoint="ipc:///tmp/cosim/pose-7.direct",
                                                                      host="rig-pc")], **common), {}),
        ("reject", p.TOPIC_CONTROL, p.Reject(reason="name 'client' is already connected", **common), {}),
        ("probe_reply", p.TOPIC_CONTROL, p.ProbeReply(seq=7, t0=big_t, t1=big_t + 40_000, t2=big_t + 52_000, **common), {}),
        ("error", p.TOPIC_CONTROL, p.Error(reason="unsupported protocol version 4 (this side speaks 5)", **common), {}),
        ("tick", p.TOPIC_TICK, p.Tick(sent_ns=13_711_111_150, dt_ns=11_111_111, epoch_ns=big_t, **common), {}),
        ("start", p.TOPIC_SESSION, p.Start(session_id="abc123", epoch_ns=big_t, mode="realtime", rate_hz=90.0, **common), {}),
        ("end", p.TOPIC_SESSION, p.End(reason="completed", frames=900, **common), {}),
        ("status", p.TOPIC_SESSION, p.Status(started=True, frames=1234, fps=90.01, late=0, lateness_p99_us=41.5,
                                             clients=[p.ClientStatus(name="client", ready=True, required=True,
                                                                     connected=True, frames_behind=0, acks=1233,
                                                                     offset_us=-1.5)], **common), {}),
        ("client_event", p.TOPIC_SESSION, p.ClientEvent(name="pose", event="dropped", reason="no heartbeat",
                                                          direct=[p.DirectStream(topic="pose", endpoint="tcp://127.0.0.1:41234",
                                                                                 host="rig-pc")], **common), {}),
        ("vehicles", p.TOPIC_VEHICLES, p.Vehicles(sim_ns=123_400_000_000, ids_version=3, lights_version=2, **common), {
            "handle": np.array([0, 1, 5], dtype="<u4"),
            "position_cm": np.array([[100.0, -250.5, 12.0], [0.0, 0.0, 0.0], [-1e5, 3.25, 1.5]], dtype="<f4"),
            "yaw_deg": np.array([0.0, 90.0, -179.5], dtype="<f4"),
            "speed_cms": np.array([1388.9, 0.0, 250.0], dtype="<f4"),
            "signals": np.array([8 | 2, 0, 4], dtype="<u2")}),
        ("vehicle_ids", p.TOPIC_VEHICLE_IDS, p.VehicleIds(ids_version=3, **common),
         p.vehicle_ids_arrays([0, 1, 5], ["veh0", "bus_7", "fußgänger.2"], ["passenger", "bus", "ped_walker"],
                              ["passenger", "bus", "pedestrian"],
                              [[450.0, 180.0, 150.0], [1200.0, 250.0, 340.0], [21.5, 47.8, 172.0]],
                              [[255, 255, 0, 255], [0, 128, 255, 255], [0, 0, 0, 0]])),
        ("traffic_lights", p.TOPIC_TRAFFIC_LIGHTS, p.TrafficLights(sim_ns=123_400_000_000, lights_version=2, **common),
         p.traffic_lights_arrays(["C", "junction_7"], ["GGrrrGGrrr", "ryG"])),
        ("event", p.TOPIC_EVENTS, p.Event(kind="collision", sim_ns=123_400_000_000, subject="veh0",
                                          data={"other": "bus_7", "speed_ms": 13.5, "lane": 2, "emergency": True},
                                          at_ns=13_705_432_100, **common), {}),
        ("pose", p.TOPIC_POSE, p.Pose(device="hmd", device_class="HMD", serial="LHR-0001", sample_ns=13_711_000_000,
                                      photon_ns=13_722_100_000, position=(0.1, 1.7, -0.25),
                                      orientation=(1.0, 0.0, 0.0, 0.0), velocity=(0.0, 0.0, 0.5),
                                      angular_velocity=(0.0, 1.0, 0.0), **common), {}),
        ("residuals", p.TOPIC_RESIDUALS, p.Residuals(asset="skirt", base_frame=1233, **common), {
            "offsets": np.array([[0.001, -0.002, 0.0005], [0.0, 0.0, 0.0]], dtype="<f2")}),
        ("asset", p.TOPIC_ASSET, p.Asset(asset="skirt", vertices=3, base_fps=30.0, base_frames=120,
                                         base_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                                         **common), {
            "rest": np.array([[0.0, 1.0, 0.0], [0.1, 1.0, 0.0], [0.0, 0.9, 0.05]], dtype="<f4"),
            "faces": np.array([[0, 1, 2]], dtype="<u4")}),
        ("sh_asset", p.TOPIC_ASSET, p.ShAsset(asset="head", vertices=6, degree=2, **common), {
            "rest": (0.1 * _OCTAHEDRON).astype("<f4"), "faces": _OCTAHEDRON_FACES,
            "sphere": _OCTAHEDRON.astype("<f4"),
            "detail": np.array([[0.001, 0, 0], [0, 0.002, 0], [0, 0, -0.0005], [0.0, 0.0, 0.0],
                                [-0.001, 0.001, 0], [0, 0, 0.003]], dtype="<f4")}),
        ("sh_frame", p.TOPIC_SH, p.ShFrame(asset="head", degree=2, **common), {
            "coeffs": (np.arange(27, dtype=np.float64).reshape(9, 3) / 100 - 0.1).astype("<f4")}),
        ("audio_onset", p.TOPIC_AUDIO, p.AudioOnset(event_kind="click", scheduled_ns=13_711_111_111,
                                                    actual_ns=13_711_131_944, late=False, **common), {}),
        ("frame_report", p.TOPIC_FRAMES, p.FrameReport(recv_ns=13_711_200_000, present_ns=13_714_000_000,
                                                       photon_ns=13_725_100_000, pose_sample_ns=13_710_900_000,
                                                       residual_frame=1232, data={"mtp_ms": 14.2}, **common), {}),
        ("request", p.TOPIC_REQUEST, p.Request(what="sumo.ids", **common), {}),
    ]


_OCTAHEDRON = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float64)
_OCTAHEDRON_FACES = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]],
                             dtype="<u4")
SH_BASIS_DEGREE = 8


def sh_basis_vectors() -> dict:
    """tests/golden/sh_basis.json: the real harmonics (cosim.shbasis, i.e. scipy's) at fixed unit
    vectors up to degree 8 (the poles, the axes, the octahedron's faces' centres and seeded random
    ones), and the mesh that the golden SH_FRAME gives on the golden SH_ASSET."""
    rng = np.random.default_rng(16)
    dirs = np.concatenate([_OCTAHEDRON, [[1, 1, 1], [-1, 1, -1], [0.6, 0, 0.8], [0, -0.8, -0.6]],
                           rng.normal(size=(12, 3))])
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    frames = {name: arrays for name, _, _, arrays in vectors() if name.startswith("sh_")}
    asset, frame = frames["sh_asset"], frames["sh_frame"]
    mesh = real_sh(asset["sphere"].astype(np.float64), 2) @ frame["coeffs"].astype(np.float64) + asset["detail"]
    return {"degree": SH_BASIS_DEGREE, "directions": dirs.tolist(), "values": real_sh(dirs, SH_BASIS_DEGREE).tolist(),
            "sh_frame_on_sh_asset": mesh.tolist()}


def pack_frames(frames: Sequence[bytes | memoryview]) -> bytes:
    out = [struct.pack("<I", len(frames))]
    for f in frames:
        out.append(struct.pack("<I", len(f)))
        out.append(bytes(f))
    return b"".join(out)


def unpack_frames(data: bytes) -> list[bytes]:
    (n,), pos, frames = struct.unpack_from("<I", data), 4, []
    for _ in range(n):
        (length,) = struct.unpack_from("<I", data, pos)
        frames.append(data[pos + 4: pos + 4 + length])
        pos += 4 + length
    if pos != len(data):
        raise ValueError("trailing bytes in golden vector")
    return frames


def _values(array: np.ndarray) -> list[float] | list[str]:
    """An array's elements for the manifest: numbers as floats, byte strings as the text they hold."""
    if array.dtype.kind == "S":
        return [b.decode() for b in array.ravel().tolist()]
    return array.astype(float).ravel().tolist()


def generate() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    manifest = {}
    for name, topic, msg, arrays in vectors():
        frames = p.encode(topic, msg, arrays)
        files[f"{name}.bin"] = pack_frames(frames)
        manifest[name] = {
            "topic": topic.decode(),
            "type": msgspec.msgpack.decode(bytes(frames[1]))["type"],
            "header": msgspec.to_builtins(msg),
            "arrays": {k: {"dtype": v.dtype.str, "shape": list(v.shape), "values": _values(v)} for k, v in arrays.items()},
        }
    files["manifest.json"] = (json.dumps(manifest, indent=1, sort_keys=False) + "\n").encode()
    files["sh_basis.json"] = (json.dumps(sh_basis_vectors(), indent=1) + "\n").encode()
    return files


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if tests/golden differs from the module")
    ap.add_argument("--dir", default=str(GOLDEN_DIR))
    args = ap.parse_args(argv)
    folder = Path(args.dir)
    files = generate()
    if args.check:
        stale = [n for n, b in files.items() if not (folder / n).is_file() or (folder / n).read_bytes() != b]
        if stale:
            print(f"golden vectors out of date: {', '.join(stale)} (run python -m cosim.golden)")
            return 1
        print(f"{len(files)} golden files up to date")
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    for n, b in files.items():
        (folder / n).write_bytes(b)
    print(f"wrote {len(files)} files to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
