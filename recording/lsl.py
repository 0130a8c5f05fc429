"""Optional Lab Streaming Layer outlets (ticks, poses, events), so LabRecorder captures the session
next to physiological streams. Timestamps are session times mapped into LSL's clock
(``pylsl.local_clock()``) by the offset measured when each sample is pushed."""
from __future__ import annotations

import logging
from typing import Any, Callable

from recording.config import LslSettings
from cosim import protocol as p

log = logging.getLogger(__name__)


def load_pylsl() -> Any | None:
    """pylsl, or None with the reason logged (the wheel bundles liblsl; a source install may not)."""
    try:
        import pylsl
        pylsl.local_clock()
        return pylsl
    except (ImportError, RuntimeError, OSError) as exc:
        log.warning("LSL outlets disabled: pylsl/liblsl is not usable here (%s)", exc)
        return None


class LslOutlets:
    """``tick_rate_hz``: the session's rate (WELCOME), the ticks' nominal rate; ``pose_rate_hz``: the
    pose source's, or 0 (irregular) where it has none (a trace replays at its own times). Numbers go
    out as numeric streams, events as the string ``Markers`` stream LabRecorder expects."""

    def __init__(self, settings: LslSettings, session_now_ns: Callable[[], int], pylsl: Any,
                 tick_rate_hz: float = 0.0, pose_rate_hz: float = 0.0) -> None:
        self.lsl = pylsl
        self.session_now_ns = session_now_ns
        self.pushed = 0
        sid = settings.source_id

        def outlet(name: str, kind: str, channels: list[str], fmt: Any, rate: float) -> Any:
            info = pylsl.StreamInfo(name, kind, len(channels), rate, fmt, f"{sid}.{name}")
            chans = info.desc().append_child("channels")
            for label in channels:
                chans.append_child("channel").append_child_value("label", label)
            return pylsl.StreamOutlet(info)

        self.ticks = outlet("cosim_ticks", "FrameTiming", ["frame", "t_s"], pylsl.cf_double64,
                            tick_rate_hz) if settings.ticks else None
        self.poses = outlet("cosim_poses", "Mocap", ["x", "y", "z", "qw", "qx", "qy", "qz"],
                            pylsl.cf_float32, pose_rate_hz) if settings.poses else None
        self.events = outlet("cosim_events", "Markers", ["event"], pylsl.cf_string, 0) if settings.events else None

    def lsl_time(self, t_ns: int) -> float:
        """LSL clock reading of session time ``t_ns`` (both clocks are this host's monotonic clock
        on one machine; the mapping is re-measured at each push, so no drift accumulates)."""
        return self.lsl.local_clock() - (self.session_now_ns() - t_ns) / 1e9

    def on_message(self, msg: p.Message) -> None:
        if isinstance(msg, p.Tick) and self.ticks is not None:
            self.ticks.push_sample([float(msg.frame), msg.t_ns / 1e9], self.lsl_time(msg.t_ns))
        elif isinstance(msg, p.Pose) and self.poses is not None:
            self.poses.push_sample([*msg.position, *msg.orientation], self.lsl_time(msg.sample_ns))
        elif isinstance(msg, p.Event) and self.events is not None:
            self.events.push_sample([f"{msg.kind}:{msg.subject}" if msg.subject else msg.kind],
                                    self.lsl_time(msg.at_ns if msg.at_ns is not None else msg.t_ns))
        else:
            return
        self.pushed += 1
