"""The pose bridge: once the session has started, read the source whenever it is due, stamp each
sample with its publish time (``t_ns``) and put it on the bus (TOPIC_POSE), offered as a direct
stream too. The component runtime waits for each due time to the microsecond (cosim.runtime)."""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from bridges.pose.config import Settings
from bridges.pose.source import PoseSource
from bridges.pose.sources import open_source
from bridges.pose.trace import TraceWriter
from cosim import protocol as p
from cosim.node import EndEvent
from cosim.process import REPO_ROOT
from cosim.runtime import Component, Context
from cosim.stats import Samples, percentile_block

log = logging.getLogger("bridges.pose")


class PoseBridge(Component):
    """Pose bridge: OpenVR, trace replay or synthetic poses."""

    name = "pose"
    role = "bridge"
    Settings = Settings
    publishes = True
    direct = (p.TOPIC_POSE,)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        s: Settings = self.settings
        self.spin_ns = round(s.spin_us * 1e3)
        self.source: PoseSource | None = None
        self.recorder: TraceWriter | None = None
        self.streaming = False
        self._due: int | None = None  # what next_due_ns said last
        self.end_reason: str | None = None
        self.sample_to_bus = Samples()
        self.wake_late = Samples()
        self.per_device: Counter[str] = Counter()
        self.device_classes: dict[str, str] = {}
        self.first_ns: dict[str, int] = {}
        self.last_ns: dict[str, int] = {}
        self.events_published = 0

    def setup(self) -> None:
        s: Settings = self.settings
        self.source = open_source(s, f"components.{self.ctx.name}.settings", root=REPO_ROOT)
        if s.record:
            self.recorder = TraceWriter(self.ctx.output_path(s.record))

    # --- the loop's callbacks -------------------------------------------------------------

    def next_due_ns(self) -> int | None:
        if not self.streaming:
            return 0  # stamp nothing before the epoch (session time 0)
        assert self.source is not None
        self._due = self.source.next_due_ns()  # None: an exhausted trace stays in the session until it ends
        return self._due

    def on_due(self, now_ns: int) -> None:
        assert self.source is not None
        if not self.streaming:
            self.source.start(now_ns)
            self.streaming = True
            log.info("streaming %s poses", self.source.kind)
            return
        if self._due is not None:
            self.wake_late.append(now_ns - self._due)
        self.publish(self.source.read(now_ns))
        for event in self.source.events():
            self.ctx.publish(p.TOPIC_OPENVR, event)
            self.events_published += 1

    def publish(self, poses: list[p.Pose]) -> None:
        node = self.ctx.node
        assert node is not None
        frame = node.last_frame or 0
        for pose in poses:
            pose.frame = frame
            pose.t_ns = node.session_ns()
            node.publish(p.TOPIC_POSE, pose)
            self.sample_to_bus.append(pose.t_ns - pose.sample_ns)
            self.per_device[pose.device] += 1
            self.device_classes[pose.device] = pose.device_class
            self.first_ns.setdefault(pose.device, pose.sample_ns)
            self.last_ns[pose.device] = pose.sample_ns
            if self.recorder is not None:
                self.recorder.write(pose)

    def on_end(self, ev: EndEvent) -> None:
        self.end_reason = ev.reason
        log.info("session ended (%s) after %d samples", ev.reason, sum(self.per_device.values()))

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
        if self.recorder is not None:
            self.recorder.close()

    # --- results --------------------------------------------------------------------------

    def measured_rate_hz(self) -> float | None:
        rates = [(n - 1) / ((self.last_ns[d] - self.first_ns[d]) * 1e-9)
                 for d, n in self.per_device.items() if n > 1 and self.last_ns[d] > self.first_ns[d]]
        return round(max(rates), 2) if rates else None

    def sections(self) -> dict[str, Any]:
        s: Settings = self.settings
        if self.source is None:
            return {"pose": {"source": s.source, "error": self.ctx.error}}
        node = self.ctx.node
        out: dict[str, Any] = {
            "source": self.source.kind,
            "rate_hz": {"configured": None if s.source == "trace" else s.rate_hz, "measured": self.measured_rate_hz()},
            "samples": sum(self.per_device.values()),
            "devices": {d: {"class": self.device_classes[d], "samples": n} for d, n in self.per_device.items()},
            "inject_latency_ms": s.inject_latency_ms,
            "direct": [d.endpoint for d in node.direct_offered] if node else [],
            "sample_to_bus_ms": percentile_block(self.sample_to_bus, 1e-6),
            "wake_late_us": percentile_block(self.wake_late, 1e-3),
            self.source.kind: self.source.stats(),
        }
        if self.events_published:
            out["openvr_events"] = self.events_published
        if self.recorder is not None:
            out["record"] = {"path": str(self.recorder.path), "samples": self.recorder.samples}
        if self.ctx.error:
            out["error"] = self.ctx.error
        return {"pose": out}
