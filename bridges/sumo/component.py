"""The SUMO bridge as a component: SUMO runs in its own stepping process (Stepper), started before
the bridge joins; the bridge publishes each frame's vehicle table, id table and events (SumoBridge)."""
from __future__ import annotations

import logging
from typing import Any

import msgspec

from bridges.sumo.bridge import SumoBridge
from bridges.sumo.config import Settings
from bridges.sumo.stepper import Stepper
from cosim import protocol as p
from cosim.node import DataEvent, EndEvent, TickEvent
from cosim.runtime import Component, Context
from cosim.timing import realtime_priority

log = logging.getLogger("sumo")


class SumoComponent(Component):
    """SUMO bridge: traffic on the master clock."""

    name = "sumo"
    role = "sumo"
    Settings = Settings
    subscribe = (p.TOPIC_REQUEST,)
    publishes = True
    frame_gc = True  # the frame's work must not pay for a collection

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        s: Settings = self.settings
        if s.record_fcd:  # relative: into the session folder, like every other recording
            self.settings = s = msgspec.structs.replace(s, record_fcd=str(ctx.output_path(s.record_fcd)))
        self.section: dict[str, Any] = {"backend": s.backend, "scenario": s.scenario}
        self.stepper: Stepper | None = None
        self.bridge: SumoBridge | None = None
        self.frame = 0

    def setup(self) -> None:
        self.stepper = Stepper(self.settings, log_level=logging.getLevelName(logging.getLogger().level))
        self.section.update(self.stepper.start(self.settings.startup_timeout_s))

    def on_join(self, session: p.Welcome) -> None:
        assert self.stepper is not None
        self.bridge = SumoBridge(self.settings, self.stepper, self.ctx.publish, self.ctx.session_ns, self.ctx.frames,
                                 idle=self.ctx.keep_alive)
        self.stepper.set_horizon(self.bridge.clock.sim_at(self.bridge.lookahead_ns))
        # the main thread only (the stepping process and zmq's threads keep theirs)
        realtime = realtime_priority(self.settings.rt_priority, "frames may wait for a CPU under load")
        self.section["rt_priority"] = self.settings.rt_priority if realtime else 0

    def on_tick(self, ev: TickEvent) -> None:
        assert self.bridge is not None
        self.frame = ev.frame
        self.bridge.on_tick(ev.tick)

    def on_message(self, ev: DataEvent) -> None:
        if isinstance(ev.msg, p.Request) and self.bridge is not None:
            self.bridge.on_request(ev.msg, self.frame)

    def on_end(self, ev: EndEvent) -> None:
        if self.bridge is not None:
            log.info("session ended (%s) after %d frames, %d lagged", ev.reason, self.bridge.frames, self.bridge.lagged)

    def close(self) -> None:
        if self.stepper is not None:
            self.section["worker_exit"] = self.stepper.close()

    def sections(self) -> dict[str, Any]:
        if self.bridge is not None:
            self.section.update(self.bridge.section())
        if self.ctx.frame_gc is not None:  # what the runtime's between-frames collector did
            self.section.update(self.ctx.frame_gc.section())
        if self.ctx.error:
            self.section["error"] = self.ctx.error
        return {"sumo": self.section}
