"""``python -m refine_runtime --config FILE --name refine``: serves refined garment residuals live.

Loads the checkpoint and the recorded base sequence, announces the asset it refines (ASSET: rest
positions, faces, the base motion's hash), follows the ticks, and for the newest tick refines the
base state at that tick's session time (the recording plays looped on the master clock). Publishes
RESIDUALS (float16 offsets (n, 3), ``base_frame`` = the tick whose base state they refine) on
TOPIC_RESIDUALS, stamped with the tick's ``t_ns``. In lockstep as a required component it refines
every tick before ACKing it; otherwise a worker thread refines the newest tick (latest only).
With ``settings.sh`` it also streams a closed asset as spherical-harmonic coefficients: SH_ASSET
beside ASSET, and each tick's SH_FRAME on TOPIC_SH (shstream.py).
"""
from __future__ import annotations

import hashlib
import logging
import sys
import threading
from typing import Any

import numpy as np
import torch

from cosim import protocol as p
from cosim.node import DataEvent, EndEvent, TickEvent
from cosim.runtime import Component, Context, run
from cosim.stats import percentile_block
from refine_runtime.assets import asset_paths, ensure_built
from refine_runtime.checkpoint import load_checkpoint
from refine_runtime.config import Settings
from refine_runtime.kernels import cpu_precision
from refine_runtime.runtime import RefineWorker, WorkerStats
from refine_runtime.sampler import AssetIndex, Sampler, pick_device
from refine_runtime.sequence import Sequence, load_sequence
from refine_runtime.shstream import ShStream

log = logging.getLogger("refine")


def asset_message(seq: Sequence, base_sha256: str) -> tuple[p.Asset, dict[str, np.ndarray]]:
    """The ASSET announcement of ``seq`` and its payload (rest <f4 (n, 3), faces <u4 (f, 3))."""
    msg = p.Asset(asset=seq.name, vertices=seq.n, base_fps=float(seq.fps), base_frames=seq.frames,
                  base_sha256=base_sha256)
    return msg, {"rest": seq.rest.astype("<f4"), "faces": seq.faces.astype("<u4")}


class RefineRuntime(Component):
    """Refinement runtime: diffusion-refined garment residuals."""

    name = "refine"
    role = "refine"
    Settings = Settings
    publishes = True
    subscribe = (p.TOPIC_REQUEST,)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        s: Settings = self.settings
        self.section: dict[str, Any] = {"vertices": 0, "steps": s.steps,
                                        "mode": "regressor" if s.steps == 0 else "diffusion", "device": None, "refreshed": 0, "skipped": 0,
                                        "frame_ms": percentile_block([]), "refresh_hz": None, "errors": 0}
        self.worker: RefineWorker | None = None
        self.sh: ShStream | None = None
        self.ticks = 0
        self.lockstep = False
        self.announced = False
        self.last_tick = (0, 0)  # (frame, t_ns) of the newest tick
        self._socket = threading.Lock()  # a zmq socket is not thread-safe

    def setup(self) -> None:
        s: Settings = self.settings
        torch.set_num_threads(s.threads)
        paths = asset_paths(s)
        if s.build_if_missing:
            ensure_built(paths)
        seq = load_sequence(paths.sequence).static_only()
        ck = load_checkpoint(paths.checkpoint, topology=seq.topology_key(), vertices=seq.n)
        device = pick_device(s.device)
        sampler = Sampler(ck.model, AssetIndex(seq.rest, seq.faces, ck.chart, ck.uv, seq.stitches), seq.fps,
                          steps=s.steps, warm_start=s.warm_start, seed=s.seed, device=device, half=s.half,
                          cuda_graphs=s.cuda_graphs, precision=cpu_precision(s.cpu_precision))
        self.seq = seq
        self.asset = asset_message(seq, hashlib.sha256(paths.sequence.read_bytes()).hexdigest())
        self.section.update(vertices=seq.n, device=f"{device.type} {str(sampler.dtype).removeprefix('torch.')}",
                            asset=seq.name, checkpoint=str(paths.checkpoint), heldout=ck.stats.get("heldout"),
                            heldout_tail=ck.stats.get("heldout_tail"))
        if s.sh is not None:
            self.sh = ShStream(s.sh.asset, s.sh.degree, s.sh.subdivisions)
        self.worker = RefineWorker(sampler, seq, self._publish)
        self.worker.refine_frame(0, 0)  # warm-up (and CUDA graph capture) before the clock starts
        sampler.reset()
        self.worker.stats = WorkerStats()

    def _publish(self, frame: int, t_ns: int, base_frame: int, offsets: np.ndarray) -> None:
        with self._socket:  # the worker thread publishes residuals, the main thread announcements
            self.ctx.publish(p.TOPIC_RESIDUALS, p.Residuals(frame=frame, t_ns=t_ns, asset=self.seq.name,
                                                            base_frame=base_frame), arrays={"offsets": offsets})

    def _announce(self, frame: int, t_ns: int) -> None:
        msg, arrays = self.asset
        msg.frame, msg.t_ns = frame, t_ns
        with self._socket:
            self.ctx.publish(p.TOPIC_ASSET, msg, arrays)
            if self.sh is not None:
                sh_msg, sh_arrays = self.sh.asset_message()
                sh_msg.frame, sh_msg.t_ns = frame, t_ns
                self.ctx.publish(p.TOPIC_ASSET, sh_msg, sh_arrays)
        self.announced = True

    def on_join(self, session: p.Welcome) -> None:
        assert self.worker is not None
        self.lockstep = session.mode == "lockstep" and self.ctx.required  # refined and published before the ACK
        if not self.lockstep:
            self.worker.start()

    def on_tick(self, ev: TickEvent) -> None:
        assert self.worker is not None
        self.ticks += 1
        self.last_tick = (ev.frame, ev.tick.t_ns)
        if not self.announced:  # the first tick: every subscriber is connected (all were READY)
            self._announce(ev.frame, ev.tick.t_ns)
        if self.sh is not None:
            sh_msg, sh_arrays = self.sh.frame_message(ev.frame, ev.tick.t_ns, self.sh.coefficients(ev.tick.t_ns / 1e9))
            with self._socket:
                self.ctx.publish(p.TOPIC_SH, sh_msg, sh_arrays)
        if self.lockstep:
            self._publish(ev.frame, ev.tick.t_ns, ev.frame, self.worker.refine_frame(ev.frame, ev.tick.t_ns))
        else:
            self.worker.submit(ev.frame, ev.tick.t_ns)

    def on_message(self, ev: DataEvent) -> None:
        if isinstance(ev.msg, p.Request) and ev.msg.what == "refine.asset" and self.worker is not None:
            self._announce(*self.last_tick)

    def on_end(self, ev: EndEvent) -> None:
        log.info("session ended (%s) after %d ticks", ev.reason, self.ticks)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def sections(self) -> dict[str, Any]:
        if self.worker is not None:
            st, worker = self.worker.stats, self.worker
            node = self.ctx.node
            rate = node.welcome.rate_hz if node is not None and node.welcome is not None else None
            session_s = self.ticks / rate if self.ticks and rate else None
            self.section.update(
                ticks=self.ticks, refreshed=st.refreshed, skipped=st.skipped, errors=st.errors,
                frame_ms=percentile_block(st.frame_ns, 1e-6), refresh_hz=worker.refresh_hz(session_s),
                capacity_hz=round(1e9 / float(np.median(st.frame_ns.values())), 1) if st.frame_ns else None,
                stitch=worker.stitch_check(self.settings.stitch_tolerance_m))
        if self.sh is not None:
            self.section["sh"] = self.sh.section()
        if self.ctx.error:
            self.section["error"] = self.ctx.error
        return {"refine": self.section}


if __name__ == "__main__":
    sys.exit(run(RefineRuntime))
