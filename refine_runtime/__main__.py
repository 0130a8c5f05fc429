"""``python -m refine_runtime --config FILE --name refine``: serves refined garment residuals live.

Loads the checkpoint and the recorded base sequence, follows the ticks, and for the newest tick
refines the base state at that tick's session time (the recording plays looped on the master clock).
Publishes RESIDUALS (float16 offsets (n, 3), ``base_frame`` = the tick whose base state they refine)
on TOPIC_RESIDUALS. In lockstep as a required component it refines every tick before ACKing it.
"""
from __future__ import annotations

import logging
import sys
from typing import Sequence as Seq

import numpy as np
import torch

from refine_runtime.assets import asset_paths, ensure_built
from refine_runtime.checkpoint import load_checkpoint
from refine_runtime.runtime import RefineWorker, WorkerStats
from refine_runtime.sampler import AssetIndex, Sampler, pick_device
from refine_runtime.sequence import load_sequence
from syncserver import protocol as p
from syncserver.component import start_component
from syncserver.errors import CosimError
from syncserver.node import EndEvent, Node, TickEvent
from syncserver.stats import percentile_block

log = logging.getLogger("refine")


def main(argv: Seq[str] | None = None) -> int:
    ctx = start_component("refine_runtime", "Refinement runtime: diffusion-refined garment residuals.", argv,
                          default_name="refine")
    s = ctx.settings
    torch.set_num_threads(s.threads)
    section: dict = {"refine": {"vertices": 0, "steps": s.steps, "device": None, "refreshed": 0, "skipped": 0,
                                "frame_ms": percentile_block([]), "refresh_hz": None, "errors": 0}}
    try:
        paths = asset_paths(s)
        if s.build_if_missing:
            ensure_built(paths)
        seq = load_sequence(paths.sequence).static_only()
        ck = load_checkpoint(paths.checkpoint, topology=seq.topology_key(), vertices=seq.n)
        device = pick_device(s.device)
        sampler = Sampler(ck.model, AssetIndex(seq.rest, seq.faces, ck.chart, ck.uv, seq.stitches), seq.fps,
                          steps=s.steps, warm_start=s.warm_start, seed=s.seed, device=device, half=s.half,
                          cuda_graphs=s.cuda_graphs)
    except CosimError as exc:
        log.error("%s", exc)
        section["refine"]["error"] = str(exc)
        ctx.write_sections(section)
        return 2
    section["refine"].update(vertices=seq.n, device=f"{device.type}" + (" float16" if sampler.dtype == torch.float16 else " float32"),
                             asset=seq.name, checkpoint=str(paths.checkpoint), heldout=ck.stats.get("heldout"),
                             heldout_tail=ck.stats.get("heldout_tail"))
    lockstep = ctx.config.session.mode == "lockstep" and ctx.required
    ticks = 0
    with Node(ctx.name, ctx.endpoints, role="refine", required=ctx.required, publish=True) as node:
        node.install_signal_handlers()

        def publish(frame: int, t_ns: int, base_frame: int, offsets: np.ndarray) -> None:
            node.publish(p.TOPIC_RESIDUALS, p.Residuals(frame=frame, t_ns=t_ns, asset=seq.name, base_frame=base_frame),
                         arrays={"offsets": offsets})

        worker = RefineWorker(sampler, seq, publish)
        worker.refine_frame(0, 0)  # warm-up (and CUDA graph capture) before the clock starts
        sampler.reset()
        worker.stats = WorkerStats()
        try:
            node.connect()
            node.ready()
            if not lockstep:
                worker.start()
            for ev in node.events():
                if isinstance(ev, TickEvent):
                    ticks += 1
                    if lockstep:  # refined and published before the ACK
                        publish(ev.frame, ev.tick.t_ns, ev.frame, worker.refine_frame(ev.frame, ev.tick.t_ns))
                    else:
                        worker.submit(ev.frame, ev.tick.t_ns)
                    node.ack(ev)
                elif isinstance(ev, EndEvent):
                    log.info("session ended (%s) after %d ticks", ev.reason, ticks)
        except CosimError as exc:
            log.error("%s", exc)
            section["refine"]["error"] = str(exc)
        finally:
            worker.stop()
            st = worker.stats
            session_s = ticks / ctx.config.session.rate_hz if ticks else None
            section["refine"].update(
                ticks=ticks, refreshed=st.refreshed, skipped=st.skipped, errors=st.errors,
                frame_ms=percentile_block(st.frame_ns, 1e-6), refresh_hz=worker.refresh_hz(session_s),
                capacity_hz=round(1e9 / float(np.median(st.frame_ns)), 1) if st.frame_ns else None,
                stitch=worker.stitch_check(s.stitch_tolerance_m))
            ctx.write_sections(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
