"""The pose bridge's loop: wait for the session to start, then read the source whenever it is due,
stamp each sample with its publish time (``t_ns``) and put it on the bus (TOPIC_POSE)."""
from __future__ import annotations

import logging
from array import array
from collections import Counter
from typing import Any

from bridges.pose import TOPIC_OPENVR
from bridges.pose.source import PoseSource
from bridges.pose.trace import TraceWriter
from syncserver import protocol as p
from syncserver.node import EndEvent, Node, TickEvent
from syncserver.stats import percentile_block
from syncserver.timing import spin_until

log = logging.getLogger("bridges.pose")

MAX_WAIT_NS = 20_000_000  # serve heartbeats and probes at least this often while waiting


class PoseBridge:
    def __init__(self, node: Node, source: PoseSource, *, spin_ns: int = 0,
                 recorder: TraceWriter | None = None, ack_ticks: bool = True) -> None:
        self.node = node
        self.source = source
        self.spin_ns = spin_ns
        self.recorder = recorder
        self.ack_ticks = ack_ticks
        self.end_reason: str | None = None
        self.sample_to_bus = array("q")
        self.wake_late = array("q")
        self.per_device: Counter[str] = Counter()
        self.device_classes: dict[str, str] = {}
        self.first_ns: dict[str, int] = {}
        self.last_ns: dict[str, int] = {}
        self.events_published = 0
        self._serve_by = 0

    # --- loop ---------------------------------------------------------------------------------

    def _pump(self, timeout_ms: int) -> bool:
        """Serve the node (heartbeats, probes, END); False once the session is over."""
        self._serve_by = self.node.clock.now_ns() + MAX_WAIT_NS
        if self.node.stop_reason:
            self.end_reason = self.end_reason or self.node.stop_reason
            return False
        for ev in self.node.poll(timeout_ms):
            if isinstance(ev, TickEvent) and self.ack_ticks:
                self.node.ack(ev)
            elif isinstance(ev, EndEvent):
                self.end_reason = ev.reason
                return False
        return True

    def _wait_until(self, due_ns: int) -> bool:
        """Wait on the node's sockets with a microsecond timeout (a control reply wakes us at once,
        which keeps clock probes accurate), serving each arrival, then spin the last ``spin_ns``.
        The node is served when something arrived or MAX_WAIT_NS after it last was (heartbeats and
        probes), not after every timed-out wait: at 1 kHz that is a socket poll per sample saved."""
        while (rest := due_ns - self.spin_ns - self.node.session_ns()) > 0:
            arrived = self.node.wait(min(rest, MAX_WAIT_NS))
            if self.node.stop_reason or arrived or self.node.clock.now_ns() >= self._serve_by:
                if not self._pump(0):
                    return False
        if self.spin_ns:
            spin_until(due_ns, self.node.session_ns)
        return self._pump(0) if self.node.stop_reason else True

    def run(self) -> str:
        while self.node.epoch_ns is None or self.node.session_ns() < 0:  # stamp nothing before the epoch
            if not self._pump(5):
                return self.end_reason or "ended"
        self.source.start(self.node.session_ns())
        log.info("streaming %s poses", self.source.kind)
        while True:
            due = self.source.next_due_ns()
            if due is None:  # an exhausted trace: stay in the session until it ends
                if not self._pump(100):
                    break
                continue
            if not self._wait_until(due):
                break
            now = self.node.session_ns()
            self.wake_late.append(now - due)
            self.publish(self.source.read(now))
            for event in self.source.events():
                self.node.publish(TOPIC_OPENVR, event)
                self.events_published += 1
        return self.end_reason or "ended"

    def publish(self, poses: list[p.Pose]) -> None:
        frame = self.node.last_frame or 0
        for pose in poses:
            pose.frame = frame
            pose.t_ns = self.node.session_ns()
            self.node.publish(p.TOPIC_POSE, pose)
            self.sample_to_bus.append(pose.t_ns - pose.sample_ns)
            self.per_device[pose.device] += 1
            self.device_classes[pose.device] = pose.device_class
            self.first_ns.setdefault(pose.device, pose.sample_ns)
            self.last_ns[pose.device] = pose.sample_ns
            if self.recorder is not None:
                self.recorder.write(pose)

    # --- results --------------------------------------------------------------------------

    def measured_rate_hz(self) -> float | None:
        rates = [(n - 1) / ((self.last_ns[d] - self.first_ns[d]) * 1e-9)
                 for d, n in self.per_device.items() if n > 1 and self.last_ns[d] > self.first_ns[d]]
        return round(max(rates), 2) if rates else None

    def section(self, configured_rate_hz: float | None, inject_latency_ms: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source.kind,
            "rate_hz": {"configured": configured_rate_hz, "measured": self.measured_rate_hz()},
            "samples": sum(self.per_device.values()),
            "devices": {d: {"class": self.device_classes[d], "samples": n} for d, n in self.per_device.items()},
            "inject_latency_ms": inject_latency_ms,
            "direct": [d.endpoint for d in self.node.direct_offered],
            "sample_to_bus_ms": percentile_block(self.sample_to_bus, 1e-6),
            "wake_late_us": percentile_block(self.wake_late, 1e-3),
            self.source.kind: self.source.stats(),
        }
        if self.events_published:
            out["openvr_events"] = self.events_published
        if self.recorder is not None:
            out["record"] = {"path": str(self.recorder.path), "samples": self.recorder.samples}
        return out
