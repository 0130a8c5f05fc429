"""Live poses from SteamVR through pyopenvr (the ``openvr`` package).

Each read asks ``IVRSystem.getDeviceToAbsoluteTrackingPose`` for every tracked HMD, controller and
tracker, predicted to the photon time of the next frame: ``1/Prop_DisplayFrequency_Float -
getTimeSinceLastVsync + Prop_SecondsFromVsyncToPhotons_Float`` seconds from now, where the next
vsync comes from the running fit of the vsync clock (vrclock.py). The compositor's
``getFrameTiming`` gives each displayed frame's present, vsync and photon times.
"""
from __future__ import annotations

import logging
from typing import Any

from cosim import quat
from bridges.pose.config import OpenVRSettings
from bridges.pose.source import Periodic, PoseSourceError
from bridges.pose.vrclock import CompositorClock, VsyncClock
from cosim import protocol as p
from cosim.stats import percentile_block

log = logging.getLogger("bridges.pose.openvr")

HINT = ("Without a headset, replay a recorded trace (settings: source: trace, trace.path: FILE) "
        "or use generated motion (source: synthetic); see docs/pose.md.")
RESCAN_NS = 1_000_000_000
DISPLAY_EVENT_NS = 1_000_000_000


def load_openvr() -> Any:
    try:
        import openvr
    except (ImportError, OSError) as exc:
        raise PoseSourceError(f"OpenVR pose source: the pyopenvr package ('openvr') cannot be loaded ({exc}). "
                              + HINT) from None
    return openvr


class OpenVRSource:
    kind = "openvr"

    def __init__(self, settings: OpenVRSettings, rate_hz: float, vr: Any = None) -> None:
        self.vr = vr = vr if vr is not None else load_openvr()
        self.settings = settings
        self.schedule = Periodic(rate_hz)
        if not vr.isRuntimeInstalled():
            raise PoseSourceError("OpenVR pose source: no SteamVR runtime is installed on this machine "
                                  "(openvr.isRuntimeInstalled() is false: no OpenVR path registry). "
                                  "Install and start SteamVR with the headset connected. " + HINT)
        app = {"other": vr.VRApplication_Other, "background": vr.VRApplication_Background,
               "scene": vr.VRApplication_Scene}[settings.application]
        try:
            self.system = vr.init(app)
        except vr.error_code.OpenVRError as exc:
            raise PoseSourceError(f"OpenVR pose source: the SteamVR runtime did not start "
                                  f"({type(exc).__name__}: {exc}). Is SteamVR running and the headset "
                                  f"connected? " + HINT) from None
        self._open = True
        self.universe = {"standing": vr.TrackingUniverseStanding, "seated": vr.TrackingUniverseSeated,
                         "raw": vr.TrackingUniverseRawAndUncalibrated}[settings.universe]
        self.classes = {vr.TrackedDeviceClass_HMD: "hmd", vr.TrackedDeviceClass_Controller: "controller",
                        vr.TrackedDeviceClass_GenericTracker: "tracker"}
        self.classes = {k: v for k, v in self.classes.items() if v in settings.classes}
        hmd = vr.k_unTrackedDeviceIndex_Hmd
        freq = self._float_prop(hmd, vr.Prop_DisplayFrequency_Float, 90.0)
        if not 1.0 <= freq <= 1000.0:
            log.warning("HMD reports a display frequency of %r Hz; assuming 90 Hz", freq)
            freq = 90.0
        self.display_hz = freq
        self.period_ns = round(1e9 / freq)
        self.vsync_to_photon_ns = round(self._float_prop(hmd, vr.Prop_SecondsFromVsyncToPhotons_Float, 0.0) * 1e9)
        self.vsync = VsyncClock(self.period_ns, settings.fit_window)
        self.compositor = None
        self.comp_clock = CompositorClock(settings.fit_window)
        if settings.frame_timing:
            try:
                self.compositor = vr.VRCompositor()
            except vr.error_code.OpenVRError as exc:
                log.warning("no compositor frame timing (%s); MTP falls back to the display properties", exc)
        self._poses = (vr.TrackedDevicePose_t * vr.k_unMaxTrackedDeviceCount)()
        self.devices: dict[int, tuple[str, str, str]] = {}
        self._counts: dict[str, int] = {}
        self._next_scan = 0
        self._next_display_event = 0
        self._events: list[p.Event] = []
        self.invalid = 0
        self.no_vsync = 0
        self.frames: dict[str, list[float]] = {"present_to_vsync": [], "vsync_to_photon": [], "poses_to_photon": []}
        self.frame_counts = {"frames": 0, "mispresented": 0, "dropped": 0, "reprojected": 0}
        log.info("OpenVR: display %.2f Hz, vsync to photons %.2f ms", freq, self.vsync_to_photon_ns / 1e6)

    def _float_prop(self, index: int, prop: int, default: float) -> float:
        try:
            return float(self.system.getFloatTrackedDeviceProperty(index, prop))
        except self.vr.error_code.OpenVRError as exc:
            log.warning("device %d property %d unavailable (%s); using %r", index, prop, exc, default)
            return default

    def _string_prop(self, index: int, prop: int) -> str:
        try:
            return str(self.system.getStringTrackedDeviceProperty(index, prop))[:128]
        except self.vr.error_code.OpenVRError:
            return ""

    def _scan(self) -> None:
        for i in range(self.vr.k_unMaxTrackedDeviceCount):
            if i in self.devices:
                continue
            cls = self.classes.get(self.system.getTrackedDeviceClass(i))
            if cls is None or not self.system.isTrackedDeviceConnected(i):
                continue
            n = self._counts.get(cls, 0)
            self._counts[cls] = n + 1
            name = "hmd" if cls == "hmd" and n == 0 else f"{cls}{n}"
            serial = self._string_prop(i, self.vr.Prop_SerialNumber_String)
            self.devices[i] = (name, cls, serial)
            log.info("tracking %s (device %d, %s, serial %s)", name, i, cls, serial or "?")

    # --- PoseSource -------------------------------------------------------------------------

    def start(self, now_ns: int) -> None:
        self.schedule.start(now_ns)

    def next_due_ns(self) -> int:
        return self.schedule.next_due_ns()

    def read(self, now_ns: int) -> list[p.Pose]:
        if now_ns >= self._next_scan:
            self._next_scan = now_ns + RESCAN_NS
            self._scan()
        ok, since_vsync, counter = self.system.getTimeSinceLastVsync()
        if ok:
            if self.vsync.observe(now_ns, since_vsync, counter):
                self._on_vsync(now_ns, counter)
        else:
            self.no_vsync += 1
        photon_ns = None
        seconds = 0.0
        if self.settings.predict:
            nxt = self.vsync.next_vsync_ns(now_ns)
            if nxt is None:  # no fit yet: the direct formula
                nxt = now_ns + self.period_ns - (round(since_vsync * 1e9) if ok else 0)
            photon_ns = nxt + self.vsync_to_photon_ns
            seconds = (photon_ns - now_ns) * 1e-9
        poses = self.system.getDeviceToAbsoluteTrackingPose(self.universe, seconds, self._poses)
        out = []
        for i, (name, cls, serial) in self.devices.items():
            pose = poses[i]
            if not pose.bPoseIsValid:
                self.invalid += 1
                continue
            m = pose.mDeviceToAbsoluteTracking.m
            out.append(p.Pose(device=name, device_class=cls, serial=serial, sample_ns=now_ns, photon_ns=photon_ns,
                              position=(float(m[0][3]), float(m[1][3]), float(m[2][3])),
                              orientation=quat.from_matrix(m),
                              velocity=tuple(float(v) for v in pose.vVelocity.v),  # type: ignore[arg-type]
                              angular_velocity=tuple(float(v) for v in pose.vAngularVelocity.v)))  # type: ignore[arg-type]
        self.schedule.advance(now_ns)
        return out

    def _on_vsync(self, now_ns: int, counter: int) -> None:
        if now_ns >= self._next_display_event:
            self._next_display_event = now_ns + DISPLAY_EVENT_NS
            self._events.append(p.Event(kind="openvr.display", t_ns=now_ns, data={
                "vsync_ns": self.vsync.vsync_ns(counter), "period_ns": self.period_ns,
                "vsync_to_photon_ns": self.vsync_to_photon_ns}))
        if self.compositor is None:
            return
        ok, timing = self.compositor.getFrameTiming(0)
        if not ok or timing.m_nFrameIndex == self.comp_clock.last_frame:
            return
        self.comp_clock.observe(timing.m_nFrameIndex, timing.m_flSystemTimeInSeconds,
                                self.vsync.vsync_ns(timing.m_nFrameIndex))
        base = self.comp_clock.to_session(timing.m_flSystemTimeInSeconds)
        poses_ns = base + round(timing.m_flNewPosesReadyMs * 1e6)
        ready_ns = base + round(timing.m_flNewFrameReadyMs * 1e6)
        vsync_ns = base + timing.m_nNumVSyncsToFirstView * self.period_ns
        photon = vsync_ns + self.vsync_to_photon_ns
        self.frames["present_to_vsync"].append(vsync_ns - ready_ns)
        self.frames["vsync_to_photon"].append(photon - vsync_ns)
        self.frames["poses_to_photon"].append(photon - poses_ns)
        c = self.frame_counts
        c["frames"] += 1
        c["mispresented"] += timing.m_nNumMisPresented
        c["dropped"] += timing.m_nNumDroppedFrames
        c["reprojected"] += 1 if timing.m_nReprojectionFlags else 0
        self._events.append(p.Event(kind="openvr.frame", t_ns=now_ns, data={
            "frame_index": int(timing.m_nFrameIndex), "poses_ns": poses_ns, "present_ns": ready_ns,
            "vsync_ns": vsync_ns, "photon_ns": photon}))

    def events(self) -> list[p.Event]:
        out, self._events = self._events, []
        return out

    def stats(self) -> dict[str, Any]:
        return {"display_hz": self.display_hz, "vsync_to_photon_ms": self.vsync_to_photon_ns / 1e6,
                "devices": [f"{n} ({c}, {s or '?'})" for n, c, s in self.devices.values()],
                "invalid_poses": self.invalid, "reads_without_vsync": self.no_vsync,
                "vsync_clock": self.vsync.stats(), "compositor_drift_ppm": self.comp_clock.drift_ppm,
                "compositor": {**self.frame_counts,
                               **{f"{k}_ms": percentile_block(v, 1e-6) for k, v in self.frames.items()}}}

    def close(self) -> None:
        if self._open:
            self._open = False
            self.vr.shutdown()
