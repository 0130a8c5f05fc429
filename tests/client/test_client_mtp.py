"""Motion-to-photon bookkeeping, prediction and event order in the headless client."""
from __future__ import annotations

import pytest

from cosim import quat
from bridges.pose.config import SyntheticSettings
from bridges.pose.synthetic import SyntheticSource
from client import prediction as pred
from client.config import DisplaySettings, PoseUseSettings, PredictionSettings
from client.display import DisplayModel
from client.mtp import TERMS, MotionToPhoton
from cosim import protocol as p

MS = 1_000_000


def _mtp(**prediction) -> MotionToPhoton:
    display = DisplayModel(DisplaySettings(refresh_hz=90, vsync_phase_ms=3.0, vsync_to_photon_ms=11.1, render_ms=1.0))
    return MotionToPhoton(PoseUseSettings(prediction=PredictionSettings(**prediction)), display)


def _pose(sample_ns: int, t_ns: int, device: str = "hmd", **kw) -> p.Pose:
    return p.Pose(device=device, sample_ns=sample_ns, t_ns=t_ns, position=kw.pop("position", (0.0, 1.7, 0.0)),
                  orientation=kw.pop("orientation", quat.IDENTITY), **kw)


def test_breakdown_adds_up_to_the_total() -> None:
    m = _mtp()
    assert m.on_frame(0, m.display.present(1 * MS)) is None
    m.on_pose(_pose(10 * MS, 10 * MS + 50_000), recv_ns=10 * MS + 300_000)
    m.on_pose(_pose(10 * MS, 10 * MS, device="controller0"), recv_ns=10 * MS + 400_000)
    ready = 12 * MS
    shown = m.display.present(ready)
    f = m.on_frame(ready, shown)
    assert f is not None and f.sample_ns == 10 * MS
    assert f.terms == {"sample_to_bus": 50_000, "bus_to_client": 250_000, "client_to_present": 1_700_000,
                       "present_to_vsync": shown.present_ns - ready, "vsync_to_photon": 11_100_000}
    assert sum(f.terms.values()) == f.total_ns == shown.photon_ns - 10 * MS
    data = f.data()
    assert data["mtp_ms"] == pytest.approx(f.total_ns / 1e6) and set(data) >= {f"{t}_ms" for t in TERMS}
    sec = m.sections()
    assert sec["mtp"]["frames"] == 2 and sec["mtp"]["frames_without_pose"] == 1
    assert sec["mtp"]["total_ms"]["p50"] == pytest.approx(f.total_ns / 1e6, abs=1e-3)
    assert sec["pose"]["received"]["devices"] == {"hmd": 1, "controller0": 1}


def test_constant_velocity_prediction_is_exact() -> None:
    omega = (0.0, 2.0, 0.5)
    pose = _pose(0, 0, velocity=(1.0, 0.0, -0.5), angular_velocity=omega)
    pos, q = pred.predict(pose, 20 * MS)
    assert pos == pytest.approx((0.02, 1.7, -0.01))
    expected = quat.from_rotvec(tuple(w * 0.02 for w in omega))
    assert quat.angle_between(q, expected) < 1e-12
    predicted_already = _pose(0, 0, photon_ns=15 * MS, velocity=(1.0, 0.0, 0.0))
    assert pred.predict(predicted_already, 20 * MS)[0][0] == pytest.approx(0.005)


@pytest.mark.parametrize("velocity", ["reported", "estimated"])
def test_prediction_error_against_the_stream(velocity: str) -> None:
    m = _mtp(velocity=velocity)
    src = SyntheticSource(SyntheticSettings(motion="sine_yaw", amplitude_deg=30, frequency_hz=0.5), 1000.0)
    frame_at = 0
    for t in range(0, 2000 * MS, MS):
        (pose,) = src.read(t)
        pose.t_ns = t
        m.on_pose(pose, t + 200_000)
        if t >= frame_at + 11 * MS:
            frame_at = t
            ready = t + MS
            m.on_frame(ready, m.display.present(ready))
    err = m.sections()["mtp"]["prediction_error"]
    assert err["frames"] > 150
    # 12-23 ms from sample to photons at up to 94 deg/s: ~2 deg without prediction.
    assert 1.0 < err["unpredicted_rotation_deg"]["p99"] < 2.5
    assert err["rotation_deg"]["p99"] < err["unpredicted_rotation_deg"]["p99"] / 4
    assert err["position_mm"]["max"] < 1e-6


def test_openvr_display_timing_replaces_the_model() -> None:
    m = _mtp()
    m.on_openvr_event(p.Event(kind="openvr.display", data={"vsync_ns": 1_000_000_123, "period_ns": 8_333_333,
                                                           "vsync_to_photon_ns": 9_000_000}))
    d = m.display
    assert (d.period_ns, d.phase_ns, d.photon_ns) == (8_333_333, 1_000_000_123 % 8_333_333, 9_000_000)
    for bad in ({"period_ns": "x", "vsync_ns": 0, "vsync_to_photon_ns": 0}, {"period_ns": 5},
                {"period_ns": 10, "vsync_ns": 0, "vsync_to_photon_ns": 0}):
        m.on_openvr_event(p.Event(kind="openvr.display", data=bad))
    assert d.period_ns == 8_333_333 and m.sections()["mtp"]["display"]["updates"] == 1


def test_disabled_pose_use_writes_no_sections() -> None:
    m = MotionToPhoton(PoseUseSettings(enabled=False), DisplayModel(DisplaySettings()))
    assert m.sections() == {}
