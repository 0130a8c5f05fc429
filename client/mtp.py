"""Motion-to-photon in the client (docs/architecture.md, "Measurements"): per frame, photon time minus the sample time
of the pose the frame used, and its breakdown, which adds up to the total exactly:

    sample_to_bus      pose sample -> published on the bus (Pose.t_ns)
    bus_to_client      published -> received by this client
    client_to_present  received -> frame submitted (render done; waiting for the tick included)
    present_to_vsync   submitted -> the vsync that shows it
    vsync_to_photon    vsync -> photons (display model, or OpenVR's Prop_SecondsFromVsyncToPhotons)

Prediction error: each predicted pose is compared with the device's own stream at the frame's photon
time (interpolated between the two samples around it) once that sample has arrived; with a replayed
trace the stream is the recorded truth.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from client import prediction as pred
from client.config import PoseUseSettings
from client.display import DisplayModel, Presented
from cosim import protocol as p
from cosim.stats import Samples, percentile_block

log = logging.getLogger("client.mtp")

TERMS = ("sample_to_bus", "bus_to_client", "client_to_present", "present_to_vsync", "vsync_to_photon")
MAX_PENDING = 4096


@dataclass
class Received:
    pose: p.Pose
    recv_ns: int


@dataclass
class FrameMtp:
    sample_ns: int
    total_ns: int
    terms: dict[str, int]
    predicted_dt_ns: int | None

    def data(self) -> dict[str, float]:
        out = {"mtp_ms": round(self.total_ns * 1e-6, 4)}
        out.update({f"{k}_ms": round(v * 1e-6, 4) for k, v in self.terms.items()})
        if self.predicted_dt_ns is not None:
            out["predicted_ms"] = round(self.predicted_dt_ns * 1e-6, 4)
        return out


@dataclass
class Pending:
    photon_ns: int
    predicted: pred.Rigid | None
    unpredicted: pred.Rigid


class MotionToPhoton:
    def __init__(self, settings: PoseUseSettings, display: DisplayModel) -> None:
        self.settings = settings
        self.display = display
        self.device = settings.device
        self.latest: Received | None = None  # newest sample of the rendered device
        self.previous: p.Pose | None = None  # the one before it (estimated velocities)
        self.pending: deque[Pending] = deque()
        self.total = Samples()
        self.terms: dict[str, Samples] = {t: Samples() for t in TERMS}
        self.frames = 0
        self.frames_without_pose = 0
        self.errors: dict[str, Samples] = {k: Samples() for k in ("position_mm", "rotation_deg",
                                                                   "unpredicted_position_mm", "unpredicted_rotation_deg")}
        self.unresolved = 0
        self.received = 0
        self.received_direct = 0  # straight from the pose bridge (a direct stream), not via the bus proxy
        self.received_devices: dict[str, int] = {}
        self.sample_to_client = Samples()
        self.bus_to_client = Samples()
        self.out_of_order = 0
        self.first_recv: int | None = None
        self.last_recv: int | None = None
        self.display_updates = 0

    # --- inputs ---------------------------------------------------------------------------

    def on_pose(self, pose: p.Pose, recv_ns: int, direct: bool = False) -> None:
        self.received += 1
        self.received_direct += direct
        self.received_devices[pose.device] = self.received_devices.get(pose.device, 0) + 1
        self.sample_to_client.append(recv_ns - pose.sample_ns)
        self.bus_to_client.append(recv_ns - pose.t_ns)
        self.first_recv = recv_ns if self.first_recv is None else self.first_recv
        self.last_recv = recv_ns
        if pose.device != self.device:
            return
        last = self.latest
        if last is not None and pred.reference_ns(pose) < pred.reference_ns(last.pose):
            self.out_of_order += 1  # e.g. a trace that loops without shifting: start over
            self.pending.clear()
        elif last is not None:
            self._resolve(last.pose, pose)
            self.previous = last.pose
        self.latest = Received(pose, recv_ns)

    def on_openvr_event(self, event: p.Event) -> None:
        """Adopt the headset's vsync grid and vsync-to-photon delay (OpenVR live) as the display model."""
        if event.kind != "openvr.display" or not self.settings.follow_openvr_display:
            return
        try:
            period = int(event.data["period_ns"])
            vsync = int(event.data["vsync_ns"])
            photon = int(event.data["vsync_to_photon_ns"])
        except (KeyError, TypeError, ValueError):
            log.warning("ignored an openvr.display event with data %r", event.data)
            return
        if not 1_000_000 <= period <= 1_000_000_000 or not 0 <= photon <= 1_000_000_000:
            log.warning("ignored an openvr.display event with period %d ns, vsync-to-photon %d ns", period, photon)
            return
        d = self.display
        if self.display_updates == 0:
            log.info("display model follows OpenVR: %.3f Hz, vsync to photon %.2f ms", 1e9 / period, photon / 1e6)
        if d.period_ns != period:
            d.last_vsync = None  # vsync indices change meaning with the period
        d.period_ns, d.phase_ns, d.photon_ns = period, vsync % period, photon
        self.display_updates += 1

    # --- per frame ------------------------------------------------------------------------

    def on_frame(self, ready_ns: int, shown: Presented) -> FrameMtp | None:
        """Record the frame that was submitted at ``ready_ns`` and shown as ``shown`` with the newest
        pose of the rendered device; returns its MTP figures (None while no pose has arrived)."""
        self.frames += 1
        got = self.latest
        if got is None:
            self.frames_without_pose += 1
            return None
        pose = got.pose
        terms = {"sample_to_bus": pose.t_ns - pose.sample_ns, "bus_to_client": got.recv_ns - pose.t_ns,
                 "client_to_present": ready_ns - got.recv_ns, "present_to_vsync": shown.present_ns - ready_ns,
                 "vsync_to_photon": shown.photon_ns - shown.present_ns}
        total = shown.photon_ns - pose.sample_ns
        self.total.append(total)
        for k, v in terms.items():
            self.terms[k].append(v)
        predicted, dt = None, None
        if self.settings.prediction.enabled:
            predicted = self.predict(pose, shown.photon_ns)
            dt = shown.photon_ns - pred.reference_ns(pose)
        self.pending.append(Pending(shown.photon_ns, predicted, (pose.position, pose.orientation)))
        if len(self.pending) > MAX_PENDING:
            self.pending.popleft()
            self.unresolved += 1
        return FrameMtp(pose.sample_ns, total, terms, dt)

    def predict(self, pose: p.Pose, t_ns: int) -> pred.Rigid:
        if self.settings.prediction.velocity == "estimated":
            older = self.previous
            velocities = pred.estimate_velocities(older, pose) if older is not None else None
            if velocities is None:
                return pose.position, pose.orientation
            return pred.predict(pose, t_ns, *velocities)
        return pred.predict(pose, t_ns)

    def _resolve(self, older: p.Pose, newer: p.Pose) -> None:
        t0, t1 = pred.reference_ns(older), pred.reference_ns(newer)
        while self.pending and self.pending[0].photon_ns <= t1:
            item = self.pending.popleft()
            if item.photon_ns < t0:
                self.unresolved += 1
                continue
            truth = pred.interpolate(older, newer, item.photon_ns)
            mm, deg = pred.error(item.unpredicted, truth)
            self.errors["unpredicted_position_mm"].append(mm)
            self.errors["unpredicted_rotation_deg"].append(deg)
            if item.predicted is not None:
                mm, deg = pred.error(item.predicted, truth)
                self.errors["position_mm"].append(mm)
                self.errors["rotation_deg"].append(deg)

    # --- results --------------------------------------------------------------------------

    def sections(self) -> dict[str, Any]:
        if not self.settings.enabled:
            return {}
        rate = None
        if self.first_recv is not None and self.last_recv is not None and self.last_recv > self.first_recv:
            hmd = self.received_devices.get(self.device, self.received)
            rate = round((hmd - 1) / ((self.last_recv - self.first_recv) * 1e-9), 2)
        mtp: dict[str, Any] = {
            "device": self.device, "frames": self.frames, "frames_without_pose": self.frames_without_pose,
            "total_ms": percentile_block(self.total, 1e-6),
            **{f"{k}_ms": percentile_block(v, 1e-6) for k, v in self.terms.items()},
            "prediction_error": {
                "predicted": self.settings.prediction.enabled,
                "velocity": self.settings.prediction.velocity,
                "frames": len(self.errors["unpredicted_position_mm"]),
                "unresolved": self.unresolved + len(self.pending),
                **{k: percentile_block(v) for k, v in self.errors.items()},
            },
        }
        if self.display_updates:
            mtp["display"] = {"source": "openvr", "updates": self.display_updates}
        pose = {"received": {"samples": self.received, "direct": self.received_direct,
                             "devices": self.received_devices, "rate_hz": rate,
                             "sample_to_client_ms": percentile_block(self.sample_to_client, 1e-6),
                             "bus_to_client_ms": percentile_block(self.bus_to_client, 1e-6),
                             "out_of_order": self.out_of_order}}
        return {"mtp": mtp, "pose": pose}
