"""The recorder component: every tick, session broadcast and bus message into one MCAP file."""
from __future__ import annotations

import logging
import os
import socket
from typing import Any

import msgspec

from cosim import protocol as p
from cosim.config import read_config
from cosim.node import DataEvent, EndEvent, SessionEvent, TickEvent
from cosim.runtime import Component, Context
from recording.config import Settings
from recording.errors import RecordingError
from recording.foxglove import FoxgloveView, LiveView
from recording.lsl import LslOutlets, load_pylsl
from recording.writer import SessionWriter

log = logging.getLogger("recording")


class Recorder(Component):
    """Records every stream of the session into one MCAP file."""

    name = "recorder"
    role = "recorder"
    Settings = Settings
    subscribe = (b"",)
    poll_ms = 50

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        s: Settings = self.settings
        self.linger_s = s.linger_s
        self.writer: SessionWriter | None = None
        self.omit = {t.encode() for t in s.omit_payloads}
        self.payloads_omitted = 0
        self.end_reason: str | None = None
        self.lsl: LslOutlets | None = None
        fox = self.settings.foxglove
        self.session = read_config(ctx.config_path)  # its participant calibration, study and pose rate
        self.view = FoxgloveView(fox.scene_hz, fox.head_hz, self.session.participant) \
            if fox.channels or fox.live else None
        self.live: LiveView | None = None

    def setup(self) -> None:
        s: Settings = self.settings
        path = self.ctx.output_path(s.path)
        try:
            self.writer = SessionWriter(path, flush_interval_s=s.flush_interval_s, chunk_bytes=s.chunk_bytes,
                                        compression=s.compression)
        except OSError as exc:
            raise RecordingError(f"cannot create the recording {str(path)!r}: {exc}") from None
        if s.foxglove.live:
            try:
                self.live = LiveView(s.foxglove.host, s.foxglove.port, f"cosim {self.ctx.name}")
            except Exception as exc:  # the SDK's errors have no common base: a port in use, a bad address
                raise RecordingError(f"cannot start the live Foxglove server on {s.foxglove.host}:{s.foxglove.port}: "
                                     f"{exc}") from None
            log.info("live Foxglove view: open ws://%s:%d in Foxglove", s.foxglove.host, self.live.port)
        self.writer.metadata("recorder", {"host": socket.gethostname(), "pid": str(os.getpid()),
                                          "name": self.ctx.name, "protocol_version": str(p.PROTOCOL_VERSION)})
        study = self.session.study
        if study.tag() or study.notes:
            self.writer.metadata("study", {k: "" if v is None else str(v) for k, v in msgspec.structs.asdict(study).items()})
        self.writer.attach("config.yaml", "application/yaml", self.ctx.config_path.read_bytes())
        log.info("recording to %s", path)

    def on_join(self, session: p.Welcome) -> None:
        s: Settings = self.settings
        if s.lsl.enabled:  # after WELCOME: the ticks' nominal rate is the session's
            pylsl = load_pylsl()
            if pylsl is not None:
                self.lsl = LslOutlets(s.lsl, self.ctx.session_ns, pylsl, session.rate_hz, self._pose_rate_hz())

    def _pose_rate_hz(self) -> float:
        """The pose source's sampling rate from the session config (0: irregular, e.g. a trace)."""
        for spec in self.session.enabled().values():
            if spec.module == "bridges.pose":
                settings = spec.settings
                try:
                    return 0.0 if settings.get("source", "synthetic") == "trace" else float(settings.get("rate_hz", 1000.0))
                except (ValueError, TypeError):
                    return 0.0
        return 0.0

    @staticmethod
    def log_ns(ev: DataEvent | SessionEvent) -> int:
        """Receive time in session time; 0 for what arrived before START (the epoch was not known)."""
        return ev.recv_ns if ev.timed else 0

    def on_tick(self, ev: TickEvent) -> None:  # the runtime's ACK gives the recorder a delivery latency
        assert self.writer is not None
        self.writer.write_message(p.TOPIC_TICK, ev.tick, log_ns=ev.recv_ns)
        self._lsl(ev.tick)
        self._view(p.TOPIC_TICK, ev.tick, {}, ev.recv_ns)

    def on_message(self, ev: DataEvent) -> None:
        assert self.writer is not None
        payloads = [] if ev.topic in self.omit else [a.reshape(-1).view("u1") for a in ev.arrays.values()]
        self.payloads_omitted += bool(ev.arrays) and ev.topic in self.omit
        self.writer.write_message(ev.topic, ev.msg, payloads, log_ns=self.log_ns(ev))
        self._lsl(ev.msg)
        self._view(ev.topic, ev.msg, ev.arrays, self.log_ns(ev))

    def on_session(self, ev: SessionEvent) -> None:
        assert self.writer is not None
        if isinstance(ev.msg, p.Start):
            self.writer.metadata("session", {"session_id": ev.msg.session_id, "epoch_ns": str(ev.msg.epoch_ns),
                                             "mode": ev.msg.mode, "rate_hz": str(ev.msg.rate_hz)})
        self.writer.write_message(p.TOPIC_SESSION, ev.msg, log_ns=self.log_ns(ev))
        self._view(p.TOPIC_SESSION, ev.msg, {}, self.log_ns(ev))

    def on_end(self, ev: EndEvent) -> None:
        assert self.writer is not None
        self.end_reason = ev.reason
        if ev.frames is not None:  # the syncserver's END (a signal ends us without one)
            now = self.ctx.session_ns()
            self.writer.write_message(p.TOPIC_SESSION, p.End(reason=ev.reason, frames=ev.frames, frame=ev.frames,
                                                             t_ns=now, src="syncserver"), log_ns=now)

    def on_idle(self) -> None:
        assert self.writer is not None
        self.writer.maybe_flush()

    def _view(self, topic: bytes, msg: p.Message, arrays: dict, log_ns: int) -> None:
        if self.view is None:
            return
        assert self.writer is not None
        for name, out in self.view.convert(topic, msg, arrays):
            if self.settings.foxglove.channels:
                self.writer.write_view(name, out, log_ns=log_ns)
            if self.live is not None:
                self.live.log(name, out, log_ns)

    def _lsl(self, msg: p.Message) -> None:
        if self.lsl is not None:
            self.lsl.on_message(msg)

    def close(self) -> None:
        if self.live is not None:
            self.live.close()
        if self.writer is not None:
            self.writer.close()
            w = self.writer
            log.info("recorded %d messages (%s) in %d flushes", w.messages,
                     ", ".join(f"{k} {v}" for k, v in w.by_topic.items()), w.flushes)

    def sections(self) -> dict[str, Any]:
        w = self.writer
        if w is None:
            return {"recording": {"error": self.ctx.error}}
        out = self.ctx.out
        path = str(w.path.relative_to(out)) if out and w.path.is_relative_to(out) else str(w.path)
        node = self.ctx.node
        return {"recording": {
            "path": path,
            "bytes": w.path.stat().st_size if w.path.exists() else 0,
            "messages": w.messages,
            "by_topic": dict(sorted(w.by_topic.items())),
            "flushes": w.flushes,
            "flush_interval_s": self.settings.flush_interval_s,
            "max_flush_gap_ms": round(w.max_flush_gap_ns / 1e6, 3),
            "payloads_omitted": self.payloads_omitted,
            "omit_payloads": list(self.settings.omit_payloads),
            "decode_errors": node.stats.decode_errors if node else 0,
            "end_reason": self.end_reason,
            "lsl_samples": None if self.lsl is None else self.lsl.pushed,
            "foxglove_messages": w.views,
            "foxglove_live": None if self.live is None else {"port": self.live.port, "sent": self.live.sent},
            **({"error": self.ctx.error} if self.ctx.error else {}),
        }}
