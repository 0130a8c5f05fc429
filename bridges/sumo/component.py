"""The SUMO bridge as a component: SUMO runs in its own stepping process (Stepper), started before
the bridge joins; the bridge publishes each frame's vehicle table, id table and events (SumoBridge)."""
from __future__ import annotations

import logging
import math
import os
from typing import Any

import msgspec

from bridges.sumo.bridge import SumoBridge
from bridges.sumo.config import Settings, check_settings
from bridges.sumo.scenario import resolve
from bridges.sumo.stepper import Stepper
from cosim import protocol as p
from cosim import quat
from cosim.config import ParticipantSettings, read_config
from cosim.errors import ConfigError
from cosim.node import DataEvent, EndEvent, TickEvent
from cosim.runtime import Component, Context
from cosim.timing import realtime_priority

log = logging.getLogger("sumo")


def net_position(pose: p.Pose, cal: ParticipantSettings, origin_m: tuple[float, float, float]) \
        -> tuple[float, float, float] | None:
    """A tracking-space pose as SUMO net metres and a heading (degrees clockwise from north); None for
    another device. The calibration maps onto the wire's frame, which is the net minus ``origin_m``."""
    if not cal.follows(pose.device, pose.device_class):
        return None
    east, north = cal.to_net(pose.position[0], pose.position[2])
    rot = quat.to_matrix(pose.orientation)
    ahead_e, ahead_n = cal.to_net(pose.position[0] - rot[0][2], pose.position[2] - rot[2][2])  # the head's -Z
    heading = math.degrees(math.atan2(ahead_e - east, ahead_n - north)) % 360.0
    return east + origin_m[0], north + origin_m[1], heading


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
        if ctx.out is not None and s.backend != "fcd" and not s.traci.port and "--output-prefix" not in s.sumo_args:
            # the scenario's own outputs (tripinfo, detectors, ...) into the session folder, not the scenario's
            # SUMO puts the prefix before each output's relative path and reads the result relative to
            # the .sumocfg's folder, so the prefix leads from there to the session's (an absolute one
            # would be appended to that folder)
            outputs = ctx.output_path("sumo")
            outputs.mkdir(parents=True, exist_ok=True)
            prefix = os.path.relpath(outputs, resolve(s.scenario).parent) + os.sep
            self.settings = s = msgspec.structs.replace(s, sumo_args=[*s.sumo_args, "--output-prefix", prefix])
        self.section: dict[str, Any] = {"backend": s.backend, "scenario": s.scenario}
        self.stepper: Stepper | None = None
        self.bridge: SumoBridge | None = None
        self.frame = 0
        self.calibration: ParticipantSettings | None = None
        self.placed: tuple[float, float, float] | None = None  # the newest participant position, not yet sent
        if s.participant.enabled or s.area.radius_m > 0:
            self.calibration = read_config(ctx.config_path).participant
        if s.participant.enabled:
            if self.calibration is None:
                raise ConfigError("sumo: participant.enabled needs the config's participant: block (the rig's "
                                  "calibration onto the net; docs/safety.md)")
        check_settings(s)
        if self.calibration is not None:  # the participant places SUMO's person and/or centres the area
            self.subscribe = (p.TOPIC_REQUEST, p.TOPIC_POSE)
        self.section["participant_in_sumo"] = s.participant.enabled and s.participant.visible
        self.section["participant_followed"] = s.participant.enabled

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
        assert self.bridge is not None and self.stepper is not None
        self.frame = ev.frame
        if self.placed is not None:  # at most once a frame: SUMO steps no faster
            self.stepper.place(*self.placed)
            self.placed = None
        self.bridge.on_tick(ev.tick)

    def on_message(self, ev: DataEvent) -> None:
        if isinstance(ev.msg, p.Request) and self.bridge is not None:
            self.bridge.on_request(ev.msg, self.frame)
        elif isinstance(ev.msg, p.Pose) and self.calibration is not None:
            where = net_position(ev.msg, self.calibration, self.settings.origin_m)
            if where is None:
                return
            if self.settings.participant.enabled or self.settings.area.at_source:
                self.placed = where
            if self.bridge is not None:
                origin = self.settings.origin_m
                self.bridge.place_area(where[0] - origin[0], where[1] - origin[1])

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
