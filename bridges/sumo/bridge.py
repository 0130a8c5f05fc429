"""Per frame: frame -> sim time -> the segment that brackets it -> interpolated table -> bus.
Measures everything the summary's ``sumo`` section reports.

Times come from the frame clock (cosim.frameclock): SUMO's sim time follows frame k's content
time (``content_ns(k)``, scaled and anchored by SimClock); VEHICLES and VEHICLE_IDS of frame k carry
TICK k's ``t_ns``; an EVENT belongs to the first frame at or after it, carries that frame's
scheduled ``t_ns``, and its exact session time in ``at_ns``. In unpaced lockstep a frame's time is
known only from its TICK, so events for later frames wait for it."""
from __future__ import annotations

import logging
import math
import time
from collections import Counter
from typing import Any, Callable

import numpy as np

from bridges.sumo.area import Area
from bridges.sumo.config import Settings
from bridges.sumo.interp import Workspace, evaluate
from bridges.sumo.segment import Segment
from bridges.sumo.simclock import SimClock
from bridges.sumo.stepper import Stepper, StepperError
from cosim import protocol as p
from cosim.frameclock import FrameClock
from cosim.stats import Samples, abs_block, percentile_block

log = logging.getLogger("sumo.bridge")

Publish = Callable[..., None]


class SumoBridge:
    def __init__(self, settings: Settings, stepper: Stepper, publish: Publish, session_ns: Callable[[], int],
                 frames: FrameClock, idle: Callable[[], None] = lambda: None) -> None:
        self.s = settings
        self.stepper = stepper
        self.publish = publish
        self.session_ns = session_ns
        self.frame_clock = frames
        self.lockstep = frames.mode == "lockstep"
        self.idle = idle  # keeps the session connection alive while a lockstep frame waits for SUMO
        start = round(settings.start_s * 1e9) if settings.start_s is not None else stepper.first_ns
        self.clock = SimClock(start, settings.time_scale)  # content time -> sim time
        self.lookahead_ns = round(settings.lookahead_s * 1e9)
        self.tick: p.Tick | None = None  # the frame being published
        self.held: list[p.Event] = []  # unpaced lockstep: events for frames whose TICK has not come
        self.seeking = False  # a seek was asked for: its first frame waits for the new state
        self.published_version: int | None = None
        self.published_lights = 0
        self.area = Area(settings.area, settings.origin_m)
        self.area_rows = Samples()
        self.area_ids_sent = 0
        self._area_ids: p.VehicleIds | None = None  # the area's newest id table, for a request
        self._area_ids_arrays: dict[str, np.ndarray] = {}
        self.current: Segment | None = None
        self.work = Workspace()  # the frame's scratch arrays, reused
        self.frames = 0
        self.lagged = 0
        self.frame_cost_ns = Samples()  # wall time of the frame work
        self.publish_ns = Samples()  # wall time from the tick to the table handed to the bus
        self.frame_cpu_ns = Samples()  # its CPU time: the difference is time the process was descheduled
        self.drift_ns = Samples()  # shown sim time - the frame's sim time
        self.vs_session_ns = Samples()  # shown sim time - sim time of the session clock at publication
        self.step_ms = Samples()
        self.step_cpu_ms = Samples()
        self.sumo_step_ms = Samples()  # of the step: SUMO's own simulationStep (live SUMO)
        self.sumo_step_cpu_ms = Samples()
        self.capacity = Samples()  # sim seconds per wall second SUMO could do, per step
        self.vehicles = Samples()
        self.rtf = Samples()  # sim seconds per session second over ~1 s windows of frames
        self._first_shown: tuple[int, int] | None = None  # (frame t_ns, shown sim ns): the session's first
        self._window: tuple[int, int] | None = None  # the current rtf window's start
        self._last_shown: tuple[int, int] | None = None
        self.events = Counter()
        self.ids_sent = 0
        self.lights_sent = 0
        self.requests = Counter()

    # --- per frame ------------------------------------------------------------------------

    def on_tick(self, tick: p.Tick) -> None:
        if self.stepper.failed:  # frozen traffic is not a session: end with the reason
            raise StepperError(self.stepper.failed)
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        self.tick = tick
        content = self.frame_clock.content_ns(tick.frame)
        target = self.clock.sim_at(content)
        horizon = self.clock.sim_at(content + self.lookahead_ns)
        if self.held:
            self._release_held(tick)
        if self.lockstep:
            self.stepper.set_horizon(horizon)
            self._take(self.stepper.drain())
            waited, waited_cpu = self._wait_for(target)
            t0, c0 = t0 + waited, c0 + waited_cpu
        elif not self.stepper.covers(target):
            self._take(self.stepper.drain())  # the state this frame needs may just have arrived
            if self.seeking and not self.stepper.covers(target):
                # the first frame after a seek waits for the new state rather than show no traffic at all
                self.stepper.set_horizon(horizon)
                waited, waited_cpu = self._wait_for(target)
                t0, c0 = t0 + waited, c0 + waited_cpu
        seg = self.stepper.segment_for(target)
        if seg is not None:
            lag = target >= seg.s_b and not seg.terminal and not self.stepper.ended
            shown = min(target, seg.s_b) if lag else target
            table = evaluate(seg, shown, self.work)
            if seg.ids_version != self.published_version:
                self._send_ids(seg, tick.frame, tick.t_ns)
            if seg.lights_version != self.published_lights:
                self._send_lights(seg, tick.frame, tick.t_ns)
            self.current = seg
            self.publish(p.TOPIC_VEHICLES, p.Vehicles(frame=tick.frame, t_ns=tick.t_ns, sim_ns=shown,
                                                       ids_version=seg.ids_version,
                                                       lights_version=seg.lights_version), arrays=table)
            if self.area.active:
                self._publish_area(seg, table, tick, shown)
            self.seeking = False
            self.publish_ns.append(time.perf_counter_ns() - t0)
        # Only once the table is out: wake the stepping process (so that its step does not compete
        # with this frame for a CPU) and take in what it sent meanwhile.
        self.stepper.set_horizon(horizon)
        self._take(self.stepper.drain())
        self.frames += 1
        if seg is None:
            self.lagged += 1
            return
        self.frame_cost_ns.append(time.perf_counter_ns() - t0)
        self.frame_cpu_ns.append(time.thread_time_ns() - c0)
        self.lagged += lag
        self.drift_ns.append(shown - target)
        now_content = self.frame_clock.content_of_session(self.session_ns())
        if now_content is not None:
            self.vs_session_ns.append(shown - self.clock.sim_at(now_content))
        self.vehicles.append(len(seg))
        self._shown(tick.t_ns, shown)

    def _wait_for(self, target: int) -> tuple[int, int]:
        """Lockstep: block until SUMO has reached ``target``; returns the wall and CPU ns spent waiting."""
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        deadline = time.monotonic() + self.s.wait_timeout_s
        while not self.stepper.covers(target):
            if time.monotonic() > deadline:
                raise StepperError(f"SUMO did not reach sim time {target / 1e9:.3f} s within "
                                   f"{self.s.wait_timeout_s} s (wait_timeout_s)")
            self._take(self.stepper.drain(50))
            self.idle()
        return time.perf_counter_ns() - t0, time.thread_time_ns() - c0

    def _take(self, segments: list[Segment]) -> None:
        for seg in segments:
            if seg.s_b > seg.s_a:
                self.step_ms.append(seg.step_ms)
                self.step_cpu_ms.append(seg.step_cpu_ms)
                if seg.sumo_step_ms:
                    self.sumo_step_ms.append(seg.sumo_step_ms)
                    self.sumo_step_cpu_ms.append(seg.sumo_step_cpu_ms)
                if seg.step_ms > 0:
                    self.capacity.append((seg.s_b - seg.s_a) / 1e6 / seg.step_ms)
            for ev in seg.events:
                self.events[ev.kind] += 1
                content = self.clock.session_at(ev.sim_ns)  # None while paused: now
                now = self.tick.frame if self.tick is not None else 0
                at = None if content is None else self.frame_clock.session_of_content(content)
                frame = now if content is None else (self.frame_clock.frame_at(at) if at is not None
                                                     else self.frame_clock.frame_of_content(content))
                msg = p.Event(frame=frame, t_ns=0, kind=ev.kind, sim_ns=ev.sim_ns, subject=ev.subject[:128],
                              data=ev.data, at_ns=at)
                self._publish_event(msg)

    def _publish_event(self, msg: p.Event) -> None:
        t = self.frame_clock.t_ns(msg.frame)
        if t is None:  # unpaced: the frame's time is TICK's
            if self.tick is None or msg.frame > self.tick.frame:
                self.held.append(msg)
                return
            msg.frame, t = self.tick.frame, self.tick.t_ns  # a frame gone by: published with this one
        msg.t_ns = t
        if msg.at_ns is None:
            msg.at_ns = t
        self.publish(p.TOPIC_EVENTS, msg)

    def _release_held(self, tick: p.Tick) -> None:
        due = [m for m in self.held if m.frame <= tick.frame]
        self.held = [m for m in self.held if m.frame > tick.frame]
        for msg in due:
            self._publish_event(msg)

    def _send_ids(self, seg: Segment, frame: int, t_ns: int) -> None:
        table = seg.table
        if table is None:
            return
        # the arrays as the stepping process built them (views of the pipe's frames): no per-vehicle work here
        self.publish(p.TOPIC_VEHICLE_IDS, p.VehicleIds(frame=frame, t_ns=t_ns, ids_version=table.version),
                     arrays=table.arrays)
        self.published_version = table.version
        self.ids_sent += 1

    def _publish_area(self, seg: Segment, table: dict[str, np.ndarray], tick: p.Tick, shown: int) -> None:
        """The frame's rows within the area of interest, after its own id table when the set changed."""
        if seg.table is None or len(seg.table.arrays["handles"]) != len(table["handle"]):
            return  # no id table of this set yet (the frame after a seek waits for it)
        keep, changed = self.area.select(table["handle"], table["position_cm"])
        if changed:
            self._area_ids = p.VehicleIds(frame=tick.frame, t_ns=tick.t_ns, ids_version=self.area.version)
            self._area_ids_arrays = Area.subset(seg.table.arrays, keep)
            self._send_area_ids(tick)
        self.publish(p.TOPIC_AREA_VEHICLES, p.Vehicles(frame=tick.frame, t_ns=tick.t_ns, sim_ns=shown,
                                                       ids_version=self.area.version,
                                                       lights_version=seg.lights_version),
                     arrays=Area.subset(table, keep))
        self.area_rows.append(int(keep.sum()))

    def _send_area_ids(self, tick: p.Tick) -> None:
        if self._area_ids is None:
            return
        self._area_ids.frame, self._area_ids.t_ns = tick.frame, tick.t_ns
        self.publish(p.TOPIC_AREA_IDS, self._area_ids, arrays=self._area_ids_arrays)
        self.area_ids_sent += 1

    def place_area(self, east_m: float, north_m: float) -> None:
        """The participant's position (net metres relative to the origin): the area's new centre."""
        self.area.centre_cm = Area.wire(east_m, north_m)

    def _send_lights(self, seg: Segment, frame: int, t_ns: int) -> None:
        lights = seg.lights
        if lights is None:
            return
        self.publish(p.TOPIC_TRAFFIC_LIGHTS, p.TrafficLights(frame=frame, t_ns=t_ns, sim_ns=lights.sim_ns,
                                                             lights_version=lights.version), arrays=lights.arrays)
        self.published_lights = lights.version
        self.lights_sent += 1

    # --- requests on the bus --------------------------------------------------------------

    def on_request(self, req: p.Request, now_frame: int) -> None:
        """``sumo.ids`` re-sends the id table, ``sumo.tls`` the traffic lights; ``sumo.pause``,
        ``sumo.resume``, ``sumo.seek:<s>``, ``sumo.speed:<factor>``."""
        what = req.what
        t = self.frame_clock.content_ns(now_frame)
        if what == "sumo.ids":
            if self.current is not None and self.tick is not None:
                self._send_ids(self.current, self.tick.frame, self.tick.t_ns)
        elif what == "sumo.tls":
            if self.current is not None and self.tick is not None:
                self._send_lights(self.current, self.tick.frame, self.tick.t_ns)
        elif what == "area.ids":
            if self.tick is not None:
                self._send_area_ids(self.tick)
        elif what.startswith("sumo.area:"):
            try:
                radius = float(what.split(":", 1)[1])
            except ValueError:
                radius = math.nan
            if not 0 <= radius <= self.area.max_radius_m:
                log.warning("ignored request %r: the area needs a radius in metres in [0, %g], e.g. sumo.area:250%s", what,
                            self.area.max_radius_m, " (area.at_source: SUMO reports no farther)" if self.area.at_source else "")
                return
            self.area.set_radius(radius)
        elif what == "sumo.pause":
            self.clock.pause(t)
        elif what == "sumo.resume":
            self.clock.resume(t)
        elif what.startswith("sumo.speed:"):
            try:
                scale = float(what.split(":", 1)[1])
            except ValueError:
                scale = math.nan
            if not 0 < scale <= 1000:
                log.warning("ignored request %r: speed needs a factor in (0, 1000], e.g. sumo.speed:2", what)
                return
            self.clock.set_speed(self.frame_clock.content_ns(now_frame + 1), scale)
        elif what.startswith("sumo.seek:"):
            try:
                sim_ns = round(float(what.split(":", 1)[1]) * 1e9)
            except ValueError:
                log.warning("ignored request %r: seek needs seconds, e.g. sumo.seek:12.5", what)
                return
            if sim_ns < 0 or not math.isfinite(sim_ns):
                log.warning("ignored request %r: negative time", what)
                return
            self.clock.seek(self.frame_clock.content_ns(now_frame + 1), sim_ns)
            self.stepper.seek(sim_ns)
            self.seeking = True
            self.area.restart()
        else:
            return
        self.requests[what.split(":")[0]] += 1

    # --- summary --------------------------------------------------------------------------

    def section(self) -> dict[str, Any]:
        return {
            **self.stepper.info,
            "mode": "lockstep" if self.lockstep else "realtime",
            "time_scale": self.s.time_scale,
            "frames": self.frames,
            "lagged_frames": self.lagged,
            "rtf": percentile_block(self.rtf),
            "rtf_mean": self._rtf_mean(),
            "rtf_capacity": percentile_block(self.capacity),
            "step_ms": percentile_block(self.step_ms),
            "step_cpu_ms": percentile_block(self.step_cpu_ms),
            "sumo_step_ms": percentile_block(self.sumo_step_ms),
            "sumo_step_cpu_ms": percentile_block(self.sumo_step_cpu_ms),
            "frame_cost_ms": percentile_block(self.frame_cost_ns, 1e-6),
            "frame_cpu_ms": percentile_block(self.frame_cpu_ns, 1e-6),
            "publish_ms": percentile_block(self.publish_ns, 1e-6),
            "sim_drift_ms": abs_block(self.drift_ns, 1e-6),
            "sim_vs_session_ms": percentile_block(self.vs_session_ns, 1e-6),
            "vehicles": percentile_block(self.vehicles),
            "vehicles_max": int(self.vehicles.max or 0),
            "steps": self.stepper.received,
            "events": dict(self.events),
            "ids_tables_sent": self.ids_sent,
            "lights_tables_sent": self.lights_sent,
            "area": {"radius_m": self.area.radius_cm / 100, "hysteresis_m": self.area.hysteresis_cm / 100,
                     "rows": percentile_block(self.area_rows), "ids_tables_sent": self.area_ids_sent,
                     "at_source": self.area.at_source},
            "requests": dict(self.requests),
            "source_ended": self.stepper.ended,
            "error": self.stepper.failed,
        }

    def _shown(self, t_ns: int, sim_ns: int, window_ns: int = 1_000_000_000) -> None:
        """Real-time factor: sim seconds per session second over consecutive ~1 s windows of frames,
        and over the whole session (from its first and newest frames)."""
        point = (t_ns, sim_ns)
        if self._first_shown is None:
            self._first_shown = self._window = point
        elif self._window is not None and t_ns - self._window[0] >= window_ns:
            self.rtf.append((sim_ns - self._window[1]) / (t_ns - self._window[0]))
            self._window = point
        self._last_shown = point

    def _rtf_mean(self) -> float | None:
        if self._first_shown is None or self._last_shown is None or self._last_shown[0] == self._first_shown[0]:
            return None
        (t0, s0), (t1, s1) = self._first_shown, self._last_shown
        return round((s1 - s0) / (t1 - t0), 4)
