import numpy as np
import pytest

from bridges.sumo.coords import CoordinateFrame, wrap180


@pytest.mark.parametrize("angle, yaw", [(90, 0), (0, -90), (180, 90), (270, 180), (359.5, -90.5), (0.5, -89.5),
                                        (269.9, 179.9), (270.1, -179.9), (-90, 180), (450, 0)])
def test_heading_to_yaw(angle, yaw):
    assert CoordinateFrame.yaw_deg(np.array([angle]))[0] == pytest.approx(yaw)


def test_wrap180_range():
    out = wrap180(np.array([-180.0, 180.0, 540.0, -540.0, 0.0, 359.999]))
    assert np.all(out > -180) and np.all(out <= 180)
    assert out.tolist()[:4] == [180.0, 180.0, 180.0, 180.0]


def test_position_axes_origin_and_elevation():
    f = CoordinateFrame((100.0, 200.0, 10.0))
    pos = f.position_cm(np.array([101.0, 100.0, 100.0]), np.array([200.0, 201.0, 200.0]), np.array([10.0, 10.0, 12.5]))
    assert pos[0].tolist() == [100.0, 0.0, 0.0]  # 1 m east -> +X
    assert pos[1].tolist() == [0.0, -100.0, 0.0]  # 1 m north -> -Y (Y is right = south)
    assert pos[2].tolist() == [0.0, 0.0, 250.0]  # elevation carried, in cm


def test_velocity_follows_heading_and_slope():
    f = CoordinateFrame()
    yaw = f.yaw_deg(np.array([90.0, 0.0, 180.0]))  # east, north, south
    v = f.velocity_cms(np.array([10.0, 10.0, 10.0]), yaw, f.pitch_deg(np.array([0.0, 0.0, 30.0])))
    np.testing.assert_allclose(v[0], [1000, 0, 0], atol=1e-9)
    np.testing.assert_allclose(v[1], [0, -1000, 0], atol=1e-9)
    np.testing.assert_allclose(v[2], [0, 1000 * np.cos(np.radians(30)), 500], atol=1e-9)


def test_velocity_matches_position_mapping():
    """Moving along SUMO's heading for 1 s lands where the position mapping puts the new point."""
    f = CoordinateFrame((3.0, -4.0, 0.0))
    for angle in (0.0, 33.0, 135.0, 225.0, 300.0):
        a = np.radians(angle)
        p0 = f.position_cm(np.array([5.0]), np.array([7.0]), np.array([0.0]))
        p1 = f.position_cm(np.array([5.0 + np.sin(a)]), np.array([7.0 + np.cos(a)]), np.array([0.0]))
        v = f.velocity_cms(np.array([1.0]), f.yaw_deg(np.array([angle])), np.array([0.0]))
        np.testing.assert_allclose(p1 - p0, v, atol=1e-9)
