"""The replay component: re-publish recorded messages, byte for byte, after their tick or at their time."""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterator, Sequence

from cosim import protocol as p
from cosim.node import DataEvent, EndEvent, TickEvent
from cosim.runtime import Component, Context
from cosim.stats import Samples, percentile_block
from recording.reader import Recording
from recording.replay.config import Settings
from recording.replay.source import Item, SourceStats, items

log = logging.getLogger("recording.replay")


STATE_TOPICS = (p.TOPIC_VEHICLE_IDS, p.TOPIC_TRAFFIC_LIGHTS)


class Player:
    """What goes out when: ``publish_through_frame`` (timing ``frames``) or ``publish_due`` (``time``)."""

    def __init__(self, publish_frames: Callable[[Sequence[bytes]], None], session_ns: Callable[[], int],
                 settings: Settings, source: Iterator[Item]) -> None:
        self._publish = publish_frames
        self._session_ns = session_ns
        self.s = settings
        self.source = source
        self.next: Item | None = next(source, None)
        self.published = 0
        self.by_topic: dict[str, int] = {}
        self.lateness_ns = Samples()
        self.latest: dict[tuple[bytes, str], Item] = {}  # newest state table (STATE_TOPICS) per topic and source
        self.requests_answered = 0

    def _send(self, item: Item) -> None:
        self._publish(item.frames)  # byte for byte, original src kept
        self.published += 1
        name = item.topic.decode(errors="replace")
        self.by_topic[name] = self.by_topic.get(name, 0) + 1
        if item.topic in STATE_TOPICS:
            self.latest[item.topic, item.src] = item

    def on_request(self, req: p.Request) -> None:
        """A late joiner asks for the vehicle id table (``sumo.ids``) or the traffic lights
        (``sumo.tls``), as it would ask a live SUMO bridge: re-send the newest one replayed so far of
        each recorded source, byte for byte."""
        items = [item for (topic, _), item in self.latest.items() if topic == req.what.encode()]
        if not items:
            return
        for item in items:
            self._send(item)
        self.requests_answered += 1

    def publish_through_frame(self, frame: int) -> None:
        while self.next is not None and self.next.frame <= frame:
            self._send(self.next)
            self.next = next(self.source, None)

    def publish_due(self) -> None:
        now = self._session_ns()
        while self.next is not None and self.next.log_ns <= now:
            self.lateness_ns.append(now - self.next.log_ns)
            self._send(self.next)
            self.next = next(self.source, None)
            now = self._session_ns()

    def sections(self, name: str) -> dict:
        return {"replay": {name: {
            "source": self.s.source, "timing": self.s.timing, "topics": list(self.s.topics),
            "published": self.published, "by_topic": dict(sorted(self.by_topic.items())),
            "id_requests_answered": self.requests_answered,
            "left_unpublished": self.next is not None,
            "publish_lateness_us": percentile_block(self.lateness_ns, 1e-3),
        }}}


class Replay(Component):
    """Re-publishes recorded poses, vehicles and events."""

    name = "replay"
    role = "replay"
    Settings = Settings
    publishes = True
    subscribe = (p.TOPIC_REQUEST,)
    poll_ms = 50

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.player: Player | None = None
        self.stats = SourceStats()
        self.rec: Recording | None = None
        self.started = False

    def setup(self) -> None:
        s: Settings = self.settings
        self.rec = Recording.open(s.source)
        self.player = Player(self._publish_frames, self.ctx.session_ns, s, items(self.rec, s.topics, self.stats))
        log.info("replaying %s (%s) by %s", self.rec.path, ", ".join(s.topics), s.timing)

    def _publish_frames(self, frames: Sequence[bytes]) -> None:
        assert self.ctx.node is not None
        self.ctx.node.publish_frames(frames)

    def on_tick(self, ev: TickEvent) -> None:
        assert self.player is not None
        self.started = True
        if self.settings.timing == "frames":
            self.player.publish_through_frame(ev.frame)
        else:
            self.player.publish_due()

    def on_message(self, ev: DataEvent) -> None:
        if isinstance(ev.msg, p.Request) and self.player is not None:
            self.player.on_request(ev.msg)

    def next_due_ns(self) -> int | None:
        if self.settings.timing != "time" or not self.started or self.player is None or self.player.next is None:
            return None
        return self.player.next.log_ns

    def on_due(self, now_ns: int) -> None:
        assert self.player is not None
        self.player.publish_due()

    def on_end(self, ev: EndEvent) -> None:
        log.info("published %d recorded messages", self.player.published if self.player else 0)

    def sections(self) -> dict[str, Any]:
        name = self.ctx.name
        if self.player is None or self.rec is None:
            return {"replay": {name: {"source": self.settings.source, "error": self.ctx.error}}}
        sections = self.player.sections(name)
        sections["replay"][name].update(skipped=self.stats.skipped, source_complete=self.rec.complete,
                                        source_stopped=self.rec.stopped)
        if self.ctx.error:
            sections["replay"][name]["error"] = self.ctx.error
        return sections
