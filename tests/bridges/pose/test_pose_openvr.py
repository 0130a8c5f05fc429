"""The OpenVR source against a stand-in with pyopenvr's method signatures (no headset exists here),
and the clear failure without a SteamVR runtime."""
from __future__ import annotations

import ctypes
import inspect
import math
import subprocess
import sys
from pathlib import Path

import openvr
import pytest
import yaml

from cosim import quat
from bridges.pose.config import OpenVRSettings, Settings
from bridges.pose.openvr_source import OpenVRSource
from bridges.pose.source import PoseSourceError
from bridges.pose.sources import open_source

REPO = Path(__file__).resolve().parents[3]
PERIOD_S = 1 / 90.0
V2P_S = 0.0111
DRIFT = 50e-6  # the fake panel runs 50 ppm fast
SYSTEM_CLOCK_OFFSET_S = 1000.0  # the compositor's system clock, seconds ahead of session time
HMD_POSE = ((0.1, 1.6, -0.2), quat.axis_angle((0.0, 1.0, 0.0), math.radians(30)))
CONTROLLER_INDEX = 3


def _fill(pose: openvr.TrackedDevicePose_t, position, q, velocity=(0.0, 0.0, 0.0), omega=(0.0, 0.0, 0.0)) -> None:
    rot = quat.to_matrix(q)
    for r in range(3):
        for c in range(3):
            pose.mDeviceToAbsoluteTracking.m[r][c] = rot[r][c]
        pose.mDeviceToAbsoluteTracking.m[r][3] = position[r]
    pose.vVelocity.v[:] = list(velocity)
    pose.vAngularVelocity.v[:] = list(omega)
    pose.bPoseIsValid = True
    pose.bDeviceIsConnected = True


class FakeOpenVRDisplay:
    """A 90 Hz panel (plus DRIFT) whose vsync k happens at session time phase + k·period."""

    def __init__(self) -> None:
        self.now_ns = 0
        self.phase_ns = 2_000_000
        self.period_ns = PERIOD_S * 1e9 / (1 + DRIFT)

    def counter(self) -> int:
        return max(0, math.floor((self.now_ns - self.phase_ns) / self.period_ns))

    def vsync_ns(self, k: int) -> float:
        return self.phase_ns + k * self.period_ns


class FakeOpenVRSystem:
    """Implements the IVRSystem methods the source uses, with pyopenvr's signatures."""

    def __init__(self, display: FakeOpenVRDisplay) -> None:
        self.display = display
        self.calls: list[tuple[int, float, int]] = []  # (origin, predicted seconds, now_ns)

    def getTimeSinceLastVsync(self):
        d = self.display
        k = d.counter()
        since = ctypes.c_float((d.now_ns - d.vsync_ns(k)) * 1e-9).value
        return True, since, k

    def getDeviceToAbsoluteTrackingPose(self, origin, predictedSecondsToPhotonsFromNow: float, trackedDevicePoseArray):
        self.calls.append((origin, predictedSecondsToPhotonsFromNow, self.display.now_ns))
        _fill(trackedDevicePoseArray[0], *HMD_POSE, velocity=(0.5, 0.0, 0.0), omega=(0.0, 1.0, 0.0))
        _fill(trackedDevicePoseArray[CONTROLLER_INDEX], (0.3, 1.1, -0.4), quat.IDENTITY)
        return trackedDevicePoseArray

    def getTrackedDeviceClass(self, deviceIndex):
        return {0: openvr.TrackedDeviceClass_HMD, CONTROLLER_INDEX: openvr.TrackedDeviceClass_Controller,
                5: openvr.TrackedDeviceClass_TrackingReference}.get(deviceIndex, openvr.TrackedDeviceClass_Invalid)

    def isTrackedDeviceConnected(self, deviceIndex):
        return deviceIndex in (0, CONTROLLER_INDEX, 5)

    def getFloatTrackedDeviceProperty(self, deviceIndex, prop):
        if deviceIndex == 0 and prop == openvr.Prop_DisplayFrequency_Float:
            return 90.0
        if deviceIndex == 0 and prop == openvr.Prop_SecondsFromVsyncToPhotons_Float:
            return V2P_S
        raise openvr.error_code.TrackedProp_UnknownProperty(6)

    def getStringTrackedDeviceProperty(self, deviceIndex, prop):
        assert prop == openvr.Prop_SerialNumber_String
        return f"LHR-FAKE{deviceIndex}"


class FakeOpenVRCompositor:
    def __init__(self, display: FakeOpenVRDisplay) -> None:
        self.display = display

    def getFrameTiming(self, framesAgo=0):
        d = self.display
        k = d.counter() - framesAgo
        timing = openvr.Compositor_FrameTiming()
        timing.m_nFrameIndex = k
        timing.m_flSystemTimeInSeconds = d.vsync_ns(k) * 1e-9 + SYSTEM_CLOCK_OFFSET_S
        timing.m_flNewPosesReadyMs = 1.0
        timing.m_flNewFrameReadyMs = 6.0
        timing.m_nNumVSyncsToFirstView = 1
        timing.m_nNumMisPresented = 0
        timing.m_nNumDroppedFrames = 1 if k % 30 == 0 else 0
        return k >= 0, timing


class FakeOpenVR:
    """Stands in for the ``openvr`` module: its functions are fakes, its constants and structs real."""

    def __init__(self, installed: bool = True, init_error: Exception | None = None) -> None:
        self.display = FakeOpenVRDisplay()
        self.system = FakeOpenVRSystem(self.display)
        self.compositor = FakeOpenVRCompositor(self.display)
        self.installed = installed
        self.init_error = init_error
        self.shut_down = False

    def __getattr__(self, name: str):
        value = getattr(openvr, name)
        if callable(value) and not isinstance(value, type):
            raise AttributeError(f"FakeOpenVR does not fake openvr.{name}")
        return value

    def isRuntimeInstalled(self):
        return self.installed

    def init(self, applicationType, pStartupInfo=None):
        if self.init_error is not None:
            raise self.init_error
        return self.system

    def VRCompositor(self):
        return self.compositor

    def shutdown(self):
        self.shut_down = True


def _params(fn) -> list[str]:
    return [n for n in inspect.signature(fn).parameters if n != "self"]


@pytest.mark.parametrize("fake, real", [
    (FakeOpenVRSystem, openvr.IVRSystem), (FakeOpenVRCompositor, openvr.IVRCompositor), (FakeOpenVR, openvr)])
def test_fake_has_pyopenvr_signatures(fake, real) -> None:
    for name, fn in inspect.getmembers(fake, inspect.isfunction):
        if name.startswith("_"):
            continue
        assert _params(fn) == _params(getattr(real, name)), name


def _run(fake: FakeOpenVR, source: OpenVRSource, seconds: float, rate_hz: float = 1000.0) -> list:
    out = []
    source.start(0)
    for i in range(int(seconds * rate_hz)):
        fake.display.now_ns = 10_000_000 + round(i * 1e9 / rate_hz)
        out.extend(source.read(fake.display.now_ns))
    return out


def test_openvr_source_reads_devices_predicts_and_maps_clocks() -> None:
    fake = FakeOpenVR()
    source = OpenVRSource(OpenVRSettings(), 1000.0, vr=fake)
    poses = _run(fake, source, 2.0)
    hmd = [q for q in poses if q.device == "hmd"]
    ctl = [q for q in poses if q.device == "controller0"]
    assert len(hmd) == len(ctl) == 2000
    assert {(q.device_class, q.serial) for q in hmd} == {("hmd", "LHR-FAKE0")}
    assert {(q.device_class, q.serial) for q in ctl} == {("controller", f"LHR-FAKE{CONTROLLER_INDEX}")}
    last = hmd[-1]
    assert last.position == pytest.approx(HMD_POSE[0], abs=1e-6)
    assert math.degrees(quat.angle_between(last.orientation, HMD_POSE[1])) < 1e-3
    assert last.velocity == pytest.approx((0.5, 0.0, 0.0)) and last.angular_velocity == pytest.approx((0.0, 1.0, 0.0))
    # Predicted to the next vsync's photons: 1/freq - time since vsync + vsync-to-photons.
    d = fake.display
    for origin, seconds, now in fake.system.calls[100:]:
        assert origin == openvr.TrackingUniverseStanding
        k = math.floor((now - d.phase_ns) / d.period_ns)
        expected = (d.vsync_ns(k + 1) - now) * 1e-9 + V2P_S
        assert seconds == pytest.approx(expected, abs=2e-6)
    assert last.photon_ns == last.sample_ns + round(fake.system.calls[-1][1] * 1e9)
    stats = source.stats()
    assert stats["vsync_clock"]["drift_ppm"] == pytest.approx(DRIFT * 1e6, abs=2.0)
    assert stats["compositor_drift_ppm"] == pytest.approx(0.0, abs=2.0)
    comp = stats["compositor"]
    assert comp["frames"] >= 170 and comp["dropped"] >= 5
    period_ms = d.period_ns / 1e6
    assert comp["present_to_vsync_ms"]["p50"] == pytest.approx(period_ms - 6.0, abs=0.01)
    assert comp["vsync_to_photon_ms"]["p50"] == pytest.approx(V2P_S * 1e3, abs=0.01)
    assert comp["poses_to_photon_ms"]["p50"] == pytest.approx(period_ms + V2P_S * 1e3 - 1.0, abs=0.01)
    kinds = {e.kind for e in source.events()}
    assert kinds == {"openvr.display", "openvr.frame"}
    source.close()
    assert fake.shut_down


def test_openvr_without_prediction_samples_now() -> None:
    fake = FakeOpenVR()
    source = OpenVRSource(OpenVRSettings(predict=False, classes=["hmd"]), 500.0, vr=fake)
    poses = _run(fake, source, 0.1, 500.0)
    assert {q.device for q in poses} == {"hmd"}
    assert all(q.photon_ns is None for q in poses)
    assert {c[1] for c in fake.system.calls} == {0.0}


def test_missing_runtime_message_names_steamvr_and_alternatives() -> None:
    with pytest.raises(PoseSourceError) as err:
        OpenVRSource(OpenVRSettings(), 90.0, vr=FakeOpenVR(installed=False))
    text = str(err.value)
    assert "SteamVR runtime" in text and "source: trace" in text and "source: synthetic" in text


def test_init_failure_is_explained() -> None:
    fake = FakeOpenVR(init_error=openvr.error_code.InitError_Init_HmdNotFound(108))
    with pytest.raises(PoseSourceError, match=r"SteamVR runtime did not start.*HmdNotFound.*source: trace"):
        OpenVRSource(OpenVRSettings(), 90.0, vr=fake)


def test_real_pyopenvr_here_reports_missing_runtime() -> None:
    if openvr.isRuntimeInstalled():
        pytest.skip("a SteamVR runtime is installed on this machine")
    with pytest.raises(PoseSourceError, match="no SteamVR runtime is installed"):
        open_source(Settings(source="openvr"))


def test_bridge_process_fails_clearly_without_runtime(tmp_path: Path) -> None:
    if openvr.isRuntimeInstalled():
        pytest.skip("a SteamVR runtime is installed on this machine")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"network": {"base_port": 0}, "components": {
        "pose": {"module": "bridges.pose", "settings": {"source": "openvr"}}}}))
    run = subprocess.run([sys.executable, "-m", "bridges.pose", "--config", str(cfg), "--name", "pose",
                          "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "no SteamVR runtime is installed" in run.stderr and "source: synthetic" in run.stderr
    assert "SteamVR" in (tmp_path / "sections" / "pose.json").read_text()


def test_injected_latency_is_refused_for_openvr() -> None:
    from cosim.errors import ConfigError
    with pytest.raises(ConfigError, match="inject_latency_ms"):
        open_source(Settings(source="openvr", inject_latency_ms=3.0), "components.pose.settings")
