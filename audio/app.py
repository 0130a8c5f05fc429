"""The audio component's logic, independent of sockets: bus messages in, onsets to the backend,
measured onsets out (published and summarised)."""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np

from audio.backends.base import Backend, Measured
from audio.config import Settings
from audio.mixer import Mixer
from audio.sounds import SoundBank
from audio.spatial import Listener, source_gains
from cosim import protocol as p
from cosim.errors import ProtocolError
from cosim.stats import abs_block, percentile_block

log = logging.getLogger(__name__)

MS = 1_000_000
NS = 1_000_000_000
ONSET_LOG_FIELDS = ("kind", "scheduled_ns", "actual_ns", "error_ns", "late", "sample", "baseline_ns")


class AudioComponent:
    def __init__(self, settings: Settings, backend: Backend, bank: SoundBank,
                 publish: Callable[[p.AudioOnset], None] | None = None, mixer: Mixer | None = None) -> None:
        self.settings = settings
        self.backend = backend
        self.bank = bank
        self.publish = publish
        self.mixer = mixer
        self.listener = Listener(settings.listener)
        self.delay_ns = round(settings.event_delay_ms * MS)
        self.positions: dict[int, np.ndarray] = {}
        self.handle_of: dict[str, int] = {}
        self.measured: list[Measured] = []
        self.received: dict[str, int] = {}
        self.vehicle_msgs = 0
        self.vehicle_msgs_ignored = 0
        self.max_vehicle_voices = 0
        self._warned: set[str] = set()
        self._next_click = 0

    # --- inputs ---------------------------------------------------------------------------

    def on_message(self, msg: p.Message, arrays: dict[str, np.ndarray]) -> None:
        if isinstance(msg, p.Event):
            self.on_event(msg)
        elif isinstance(msg, p.Pose):
            if msg.device == self.settings.listener.pose_device:
                self.listener.update(msg.position, msg.orientation)
        elif isinstance(msg, p.Vehicles):
            self.on_vehicles(msg, arrays)
        elif isinstance(msg, p.VehicleIds):
            self.on_vehicle_ids(msg, arrays)

    def on_event(self, ev: p.Event) -> None:
        self.received[ev.kind] = self.received.get(ev.kind, 0) + 1
        sound = self.bank.get(ev.kind)
        if sound is None:
            self._warn_once(f"kind:{ev.kind}", "no sound for event kind %r (configure sounds.%s); ignored",
                            ev.kind, ev.kind)
            return
        at = ev.at_ns if ev.at_ns is not None else ev.t_ns  # the event's own time, between frames
        self.backend.submit(at + self.delay_ns, ev.kind, sound, self._gains_of_subject(ev.subject))

    def _gains_of_subject(self, subject: str) -> np.ndarray | float:
        handle = self.handle_of.get(subject)
        pos = self.positions.get(handle) if handle is not None else None
        if pos is None:
            return 1.0
        return source_gains(self.listener, pos[None, :], self.settings.vehicles, self.settings.channels, 1.0)[0]

    def on_vehicle_ids(self, msg: p.VehicleIds, arrays: dict[str, np.ndarray]) -> None:
        try:
            table = p.vehicle_id_table(msg, arrays)
        except ProtocolError as exc:
            self._warn_once("ids", "VEHICLE_IDS ignored: %s", exc)
            return
        self.handle_of = dict(zip(table.ids, table.handles))

    def on_vehicles(self, msg: p.Vehicles, arrays: dict[str, np.ndarray]) -> None:
        """Relies on columns ``handle`` (n,) and ``position_cm`` (n, 3); anything else is ignored."""
        self.vehicle_msgs += 1
        handles, pos = arrays.get("handle"), arrays.get("position_cm")
        problem = None
        if handles is None or pos is None:
            problem = f"missing column(s) {[c for c in ('handle', 'position_cm') if c not in arrays]}"
        elif handles.ndim != 1 or pos.ndim != 2 or pos.shape != (len(handles), 3):
            problem = f"shapes handle {handles.shape} / position_cm {pos.shape} do not match (n,) / (n, 3)"
        elif handles.dtype.kind not in "ui" or pos.dtype.kind != "f":
            problem = f"dtypes handle {handles.dtype} / position_cm {pos.dtype} (need integer / float)"
        if problem:
            self.vehicle_msgs_ignored += 1
            self._warn_once("vehicles", "VEHICLES message ignored: %s", problem)
            return
        pos = pos.astype(np.float64)
        self.positions = dict(zip(handles.tolist(), pos))
        vs = self.settings.vehicles
        if not vs.enabled or vs.max_voices == 0:
            return
        gains = source_gains(self.listener, pos, vs, self.settings.channels, vs.gain)
        level = gains.sum(axis=1)
        audible = np.flatnonzero(level > 0)
        nearest = audible[np.argsort(-level[audible], kind="stable")[:vs.max_voices]]
        self.max_vehicle_voices = max(self.max_vehicle_voices, len(nearest))
        self.backend.set_loops(msg.t_ns, {int(handles[i]): gains[i].astype(np.float32) for i in nearest})

    def schedule_clicks(self, now_ns: int) -> None:
        """Queue the configured test clicks up to ``lead`` ahead of ``now_ns``."""
        tc = self.settings.test_clicks
        if tc is None:
            return
        sound = self.bank.get("click")
        if sound is None:
            return
        period = round(tc.period_s * NS)
        start = round(tc.start_s * NS)
        horizon = now_ns + round(tc.lead_ms * MS)
        while start + self._next_click * period <= horizon:
            t = start + self._next_click * period
            self._next_click += 1
            self.received["click"] = self.received.get("click", 0) + 1
            self.backend.submit(t, "click", sound, tc.gain)

    def advance(self, now_ns: int) -> None:
        self.schedule_clicks(now_ns)
        self.backend.advance(now_ns)
        self.collect()

    def collect(self, flush: bool = False) -> None:
        for m in self.backend.drain(flush):
            self.measured.append(m)
            if m.late:
                log.warning("late %s: scheduled %.3f s, played %.3f ms late", m.kind, m.scheduled_ns / NS,
                            m.error_ns / MS)
            if self.publish is not None and self.settings.publish_onsets:
                self.publish(p.AudioOnset(t_ns=m.scheduled_ns, event_kind=m.kind, scheduled_ns=m.scheduled_ns,
                                          actual_ns=m.actual_ns, late=m.late))

    def _warn_once(self, key: str, fmt: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(fmt, *args)

    # --- results --------------------------------------------------------------------------

    def section(self) -> dict[str, Any]:
        ms = self.measured
        late = [m for m in ms if m.late]
        baseline = [m.baseline_ns - m.scheduled_ns for m in ms if m.baseline_ns is not None]
        out: dict[str, Any] = {
            "events": len(ms),
            "received": dict(sorted(self.received.items())),
            "onset_error_ms": abs_block([m.error_ns for m in ms], 1e-6),
            "onset_error_signed_ms": percentile_block([m.error_ns for m in ms], 1e-6),
            "late": len(late),
            "late_by_ms": percentile_block([m.error_ns for m in late], 1e-6),
            "sound_errors": list(self.bank.errors),
            "unknown_kinds": dict(self.bank.unknown_kinds),
            "event_delay_ms": self.settings.event_delay_ms,
            "sample_rate": self.settings.sample_rate,
            "vehicles": {"messages": self.vehicle_msgs, "ignored": self.vehicle_msgs_ignored,
                         "max_voices": self.max_vehicle_voices},
            "listener_poses": self.listener.poses,
        }
        if self.mixer is not None:
            out["clipped_samples"] = self.mixer.clipped
        if baseline:
            out["baseline_next_callback_error_ms"] = abs_block(baseline, 1e-6)
        out.update(self.backend.summary())
        return out

    def write_onset_log(self, path: Path) -> None:
        """One row per placed onset (CSV), for offline analysis."""
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(ONSET_LOG_FIELDS)
            for m in self.measured:
                w.writerow((m.kind, m.scheduled_ns, m.actual_ns, m.error_ns, int(m.late), m.sample,
                            "" if m.baseline_ns is None else m.baseline_ns))
