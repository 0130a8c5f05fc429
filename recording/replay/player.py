"""The replay component's loop: re-publish recorded messages after their tick or at their time."""
from __future__ import annotations

import logging
from typing import Iterator

from recording.replay.config import Settings
from recording.replay.source import Item
from syncserver import protocol as p
from syncserver.node import DataEvent, EndEvent, Node, TickEvent
from syncserver.stats import percentile_block

log = logging.getLogger("recording.replay")


class Player:
    def __init__(self, node: Node, settings: Settings, source: Iterator[Item]) -> None:
        self.node = node
        self.s = settings
        self.source = source
        self.next: Item | None = next(source, None)
        self.published = 0
        self.by_topic: dict[str, int] = {}
        self.lateness_ns: list[int] = []
        self.started = False
        self.latest_ids: dict[str, Item] = {}  # newest id table published per recorded source
        self.requests_answered = 0

    def _send(self, item: Item) -> None:
        assert self.node.bus_pub is not None
        self.node.bus_pub.send_multipart(item.frames, copy=False)  # byte for byte, original src kept
        self.published += 1
        name = item.topic.decode(errors="replace")
        self.by_topic[name] = self.by_topic.get(name, 0) + 1
        if item.topic == p.TOPIC_VEHICLE_IDS:
            self.latest_ids[item.src] = item

    def on_request(self, req: p.Request) -> None:
        """A late joiner asks for the vehicle id table (``sumo.ids``), as it would ask a live SUMO
        bridge: re-send the newest table replayed so far of each recorded source, byte for byte."""
        if req.what != "sumo.ids" or not self.latest_ids:
            return
        for item in list(self.latest_ids.values()):
            self._send(item)
        self.requests_answered += 1

    def publish_through_frame(self, frame: int) -> None:
        while self.next is not None and self.next.frame <= frame:
            self._send(self.next)
            self.next = next(self.source, None)

    def publish_due(self) -> None:
        now = self.node.session_ns()
        while self.next is not None and self.next.log_ns <= now:
            self.lateness_ns.append(now - self.next.log_ns)
            self._send(self.next)
            self.next = next(self.source, None)
            now = self.node.session_ns()

    def _timeout_ms(self) -> int:
        if self.s.timing != "time" or self.next is None or not self.started:
            return 50
        return max(0, min(50, (self.next.log_ns - self.node.session_ns()) // 1_000_000))

    def run(self) -> None:
        while not self.node.stop_reason:
            for ev in self.node.poll(self._timeout_ms()):
                if isinstance(ev, TickEvent):
                    self.started = True
                    if self.s.timing == "frames":
                        self.publish_through_frame(ev.frame)
                    else:
                        self.publish_due()
                    self.node.ack(ev)
                elif isinstance(ev, DataEvent) and isinstance(ev.msg, p.Request):
                    self.on_request(ev.msg)
                elif isinstance(ev, EndEvent):
                    return
            if self.started and self.s.timing == "time":
                self.publish_due()

    def sections(self, name: str) -> dict:
        return {"replay": {name: {
            "source": self.s.source, "timing": self.s.timing, "topics": list(self.s.topics),
            "published": self.published, "by_topic": dict(sorted(self.by_topic.items())),
            "id_requests_answered": self.requests_answered,
            "left_unpublished": self.next is not None,
            "publish_lateness_us": percentile_block(self.lateness_ns, 1e-3),
        }}}
