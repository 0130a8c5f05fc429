"""``python -m bridges.sumo --config FILE --name sumo [--out DIR]``: the SUMO bridge component."""
from __future__ import annotations

import gc
import logging
import sys
import time
from collections import deque
from typing import Any, Sequence

import msgspec

from bridges.sumo.bridge import SumoBridge
from bridges.sumo.config import Settings
from bridges.sumo.stepper import Stepper
from syncserver import protocol as p
from syncserver.component import start_component
from syncserver.errors import CosimError
from syncserver.node import DataEvent, EndEvent, Event, Node, TickEvent
from syncserver.stats import percentile_block
from syncserver.timing import realtime_priority

log = logging.getLogger("sumo")


class FrameGc:
    """Keeps Python's cyclic garbage collector off the frame path: everything alive at startup is
    frozen (never scanned again), automatic collection is off, and the loop collects between frames,
    as often as the automatic policy would have (same thresholds, same generations)."""

    def __init__(self) -> None:
        self.thresholds = gc.get_threshold()
        self.collect_ns: list[int] = []
        self.active = False

    def start(self) -> None:
        gc.collect()
        gc.freeze()
        gc.disable()
        self.active = True

    def between_frames(self) -> None:
        if not self.active:
            return
        (c0, c1, c2), (t0, t1, t2) = gc.get_count(), self.thresholds
        if t0 <= 0 or c0 <= t0:
            return
        gen = 2 if c1 >= t1 and c2 >= t2 else 1 if c1 >= t1 else 0
        t = time.perf_counter_ns()
        gc.collect(gen)
        self.collect_ns.append(time.perf_counter_ns() - t)

    def stop(self) -> None:
        if self.active:
            gc.enable()
            self.active = False

    def section(self) -> dict[str, Any]:
        return {"gc_collections": len(self.collect_ns), "gc_ms": percentile_block(self.collect_ns, 1e-6)}


def run(node: Node, bridge: SumoBridge, pending: deque[Event], collector: FrameGc | None = None) -> None:
    frame = 0
    while True:
        if node.stop_reason:
            log.info("stopping (%s)", node.stop_reason)
            return
        if not pending:
            pending.extend(node.poll(100))
        while pending:
            ev = pending.popleft()
            if isinstance(ev, TickEvent):
                frame = ev.frame
                bridge.on_tick(ev.tick)
                node.ack(ev)
                if collector is not None and not pending:
                    collector.between_frames()
            elif isinstance(ev, DataEvent) and isinstance(ev.msg, p.Request):
                bridge.on_request(ev.msg, frame)
            elif isinstance(ev, EndEvent):
                log.info("session ended (%s) after %d frames, %d lagged", ev.reason, bridge.frames, bridge.lagged)
                return


def main(argv: Sequence[str] | None = None) -> int:
    ctx = start_component("bridges.sumo", "SUMO bridge: traffic on the master clock.", argv, default_name="sumo")
    settings: Settings = ctx.settings or Settings()
    if settings.record_fcd:  # relative: into the session folder, like every other recording
        settings = msgspec.structs.replace(settings, record_fcd=str(ctx.output_path(settings.record_fcd)))
    section: dict[str, Any] = {"backend": settings.backend, "scenario": settings.scenario}
    stepper: Stepper | None = None
    code = 0
    try:
        stepper = Stepper(settings, log_level=logging.getLevelName(logging.getLogger().level))
        section.update(stepper.start(settings.startup_timeout_s))
        with Node(ctx.name, ctx.endpoints, role="sumo", required=ctx.required, data_topics=[p.TOPIC_REQUEST],
                  publish=True) as node:
            node.install_signal_handlers()
            welcome = node.connect()
            pending: deque[Event] = deque()
            bridge = SumoBridge(settings, stepper, node.publish, node.session_ns,
                                lockstep=welcome.mode == "lockstep", idle=lambda: pending.extend(node.poll(0)))
            stepper.set_horizon(bridge.clock.sim_at(bridge.lookahead_ns))
            # the main thread only (the stepping process and zmq's threads keep theirs)
            realtime = realtime_priority(settings.rt_priority, "frames may wait for a CPU under load")
            section["rt_priority"] = settings.rt_priority if realtime else 0
            collector = FrameGc()
            collector.start()
            node.ready()
            try:
                run(node, bridge, pending, collector)
            finally:
                collector.stop()
                section.update(bridge.section())
                section.update(collector.section())
    except CosimError as exc:
        log.error("%s", exc)
        section["error"] = str(exc)
        code = 1
    finally:
        if stepper is not None:
            section["worker_exit"] = stepper.close()
        ctx.write_sections({"sumo": section})
    return code


if __name__ == "__main__":
    sys.exit(main())
