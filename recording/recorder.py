"""The recorder component: every tick, session broadcast and bus message into one MCAP file."""
from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import msgspec

from recording.config import Settings
from recording.lsl import LslOutlets, load_pylsl
from recording.writer import SessionWriter
from session.config import dump_yaml
from syncserver import protocol as p
from syncserver.component import ComponentContext
from syncserver.node import DataEvent, EndEvent, Node, SessionEvent, TickEvent

log = logging.getLogger("recording")


class Recorder:
    def __init__(self, ctx: ComponentContext, node: Node, settings: Settings) -> None:
        self.ctx = ctx
        self.node = node
        self.s = settings
        path = Path(settings.path)
        if not path.is_absolute():
            path = (ctx.out or Path.cwd()) / path
        self.writer = SessionWriter(path, flush_interval_s=settings.flush_interval_s, chunk_bytes=settings.chunk_bytes,
                                    compression=settings.compression, foxglove_json=settings.foxglove_json)
        self.omit = {t.encode() for t in settings.omit_payloads}
        self.payloads_omitted = 0
        self.end_reason: str | None = None
        self.lsl: LslOutlets | None = None
        if settings.lsl.enabled:
            pylsl = load_pylsl()
            if pylsl is not None:
                self.lsl = LslOutlets(settings.lsl, node.session_ns, pylsl)
        self.writer.metadata("recorder", {"host": socket.gethostname(), "pid": str(os.getpid()),
                                          "name": ctx.name, "protocol_version": str(p.PROTOCOL_VERSION)})
        self.writer.attach("config.yaml", "application/yaml", dump_yaml(ctx.config).encode())

    def log_ns(self, recv_ns: int) -> int:
        """Receive time in session time; 0 before START (the epoch is not known yet)."""
        return recv_ns if self.node.epoch_ns else 0

    def on_event(self, ev: TickEvent | DataEvent | SessionEvent | EndEvent) -> None:
        if isinstance(ev, TickEvent):
            self.writer.write_message(p.TOPIC_TICK, ev.tick, log_ns=ev.recv_ns)
            self._lsl(ev.tick)
            self.node.ack(ev)  # gives the recorder a delivery latency; blocks lockstep only if required
        elif isinstance(ev, DataEvent):
            payloads = [] if ev.topic in self.omit else [a.reshape(-1).view("u1") for a in ev.arrays.values()]
            self.payloads_omitted += bool(ev.arrays) and ev.topic in self.omit
            self.writer.write_message(ev.topic, ev.msg, payloads, log_ns=self.log_ns(ev.recv_ns))
            self._lsl(ev.msg)
        elif isinstance(ev, SessionEvent):
            if isinstance(ev.msg, p.Start):
                self.writer.metadata("session", {"session_id": ev.msg.session_id, "epoch_ns": ev.msg.epoch_ns,
                                                 "mode": ev.msg.mode, "rate_hz": ev.msg.rate_hz})
            self.writer.write_message(p.TOPIC_SESSION, ev.msg, log_ns=self.log_ns(ev.recv_ns))
        elif isinstance(ev, EndEvent):
            self.end_reason = ev.reason
            if ev.frames is not None:  # the syncserver's END (a signal ends us without one)
                now = self.node.session_ns()
                self.writer.write_message(p.TOPIC_SESSION, p.End(reason=ev.reason, frames=ev.frames, frame=ev.frames,
                                                                 t_ns=now, src="syncserver"), log_ns=now)

    def _lsl(self, msg: p.Message) -> None:
        if self.lsl is not None:
            self.lsl.on_message(msg)

    def run(self) -> None:
        """Record until END (then drain the bus for ``linger_s``) or a signal."""
        linger_until: float | None = None
        while True:
            if self.node.stop_reason and linger_until is None:
                self.on_event(EndEvent(self.node.stop_reason))
                break
            for ev in self.node.poll(50):
                self.on_event(ev)
                if isinstance(ev, EndEvent) and linger_until is None:
                    linger_until = time.monotonic() + self.s.linger_s
            self.writer.maybe_flush()
            if linger_until is not None and time.monotonic() >= linger_until:
                break

    def close(self) -> None:
        self.writer.close()

    def sections(self) -> dict:
        w = self.writer
        out = self.ctx.out
        path = str(w.path.relative_to(out)) if out and w.path.is_relative_to(out) else str(w.path)
        return {"recording": {
            "path": path,
            "bytes": w.path.stat().st_size if w.path.exists() else 0,
            "messages": w.messages,
            "by_topic": dict(sorted(w.by_topic.items())),
            "flushes": w.flushes,
            "flush_interval_s": self.s.flush_interval_s,
            "max_flush_gap_ms": round(w.max_flush_gap_ns / 1e6, 3),
            "payloads_omitted": self.payloads_omitted,
            "omit_payloads": list(self.s.omit_payloads),
            "decode_errors": self.node.stats.decode_errors,
            "end_reason": self.end_reason,
            "lsl_samples": None if self.lsl is None else self.lsl.pushed,
        }}


def settings_of(ctx: ComponentContext) -> Settings:
    return ctx.settings if ctx.settings is not None else msgspec.convert({}, Settings)
