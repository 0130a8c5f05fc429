"""The photodiode component: photon times from the board, on the session clock, on the bus.

Each light onset the board reports becomes an EVENT ``photon`` on ``events.photodiode`` with
``at_ns`` the session time it happened (the device clock mapped through the probe fit) and in
``data`` the device time and the fit's error bound. The client matches them to its flash frames."""
from __future__ import annotations

import logging
import time
from typing import Any

from bridges.photodiode.clockfit import DeviceClock
from bridges.photodiode.config import Settings
from bridges.photodiode.link import SerialLink
from cosim import protocol as p
from cosim.node import EndEvent
from cosim.runtime import Component, Context
from cosim.stats import Samples, percentile_block

log = logging.getLogger("photodiode")
MAX_WAITING = 256  # flashes whose time the clock fit cannot tell yet


class PhotodiodeBridge(Component):
    """Photodiode on a serial port: measured photon times (docs/photodiode.md)."""

    name = "photodiode"
    Settings = Settings
    publishes = True

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.link: SerialLink | None = None
        self.waiting: list[tuple[int, int, int, int]] = []  # SerialLink.flashes' rows
        self.published = 0
        self.dropped = 0
        self.lost_to_reset = 0
        self.onset_gap_ms = Samples()
        self._last_at: int | None = None

    def _now(self) -> int:
        node = self.ctx.node
        return node.clock.now_ns() if node is not None else time.monotonic_ns()

    def setup(self) -> None:
        s: Settings = self.settings
        self.link = SerialLink(s.port, s.baud, round(s.probe_interval_ms * 1e6),
                               DeviceClock(s.fit_window, s.best_fraction), self._now)
        self.link.start()

    def on_idle(self) -> None:
        self._publish(settle=self.settings.settle_probes)

    def on_end(self, ev: EndEvent) -> None:
        self._publish(settle=0)  # what the fit knows now
        untimed = len(self.waiting) + (len(self.link.flashes) if self.link else 0)
        if untimed:
            log.warning("%d photons could not be timed: the board's clock was never fitted (does it answer probes?)",
                        untimed)

    def _publish(self, settle: int) -> None:
        """Photons whose time the fit can tell: once ``settle`` probes came back after the flash, so the
        fit interpolates rather than extrapolates."""
        if self.link is None or self.ctx.node is None or self.ctx.node.epoch_ns is None:
            return
        self.waiting += self.link.take_flashes()
        if len(self.waiting) > MAX_WAITING:
            self.dropped += len(self.waiting) - MAX_WAITING
            del self.waiting[:-MAX_WAITING]
        clock = self.link.clock
        stale = [w for w in self.waiting if w[3] != clock.resets]  # timed by a clock that has since started over
        if stale:
            self.lost_to_reset += len(stale)
            self.waiting = [w for w in self.waiting if w[3] == clock.resets]
        while self.waiting and clock.synced and clock.rtt_ns.count - self.waiting[0][2] >= settle:
            t_us, read, _, _ = self.waiting.pop(0)
            host = self.link.to_host(t_us)
            assert host is not None
            at = self.ctx.node.session_ns(host)
            # host_ns: the photon on this host's clock; read_us: how long after it the host read its line
            # (what timing by arrival would add)
            self.ctx.publish(p.TOPIC_PHOTODIODE, p.Event(kind="photon", subject=self.ctx.name, at_ns=at, data={
                "device_us": t_us, "host_ns": host, "bound_us": round(self.link.clock.bound_ns / 1e3, 3),
                "read_us": round((read - host) / 1e3, 3)}))
            self.published += 1
            if self._last_at is not None:
                self.onset_gap_ms.append((at - self._last_at) / 1e6)
            self._last_at = at

    def close(self) -> None:
        if self.link is not None:
            self.link.close()

    def sections(self) -> dict[str, Any]:
        link = self.link
        if link is None:
            return {"photodiode": {"error": self.ctx.error or "not started"}}
        with link.lock:
            clock = link.clock.section()
        return {"photodiode": {
            "port": self.settings.port, "device": f"{link.hello.name} {link.hello.version}" if link.hello else None,
            "photons": self.published, "untimed": len(self.waiting) + len(link.flashes),
            "dropped": self.dropped + link.overflowed, "lost_to_reset": self.lost_to_reset,
            "onset_gap_ms": percentile_block(self.onset_gap_ms), "clock": clock, "unanswered_probes": link.unanswered,
            "unsent_probes": link.unsent, "bad_lines": link.bad_lines,
            "device_errors": link.device_errors, **({"error": link.error} if link.error else {})}}
