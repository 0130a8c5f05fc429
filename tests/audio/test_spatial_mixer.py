import numpy as np

from audio.config import ListenerSettings, VehicleSounds
from audio.mixer import Mixer
from audio.spatial import Listener, source_gains


def test_gain_falls_with_distance_and_stops_at_max() -> None:
    listener = Listener(ListenerSettings(default_position_cm=(0.0, 0.0, 0.0)))
    vs = VehicleSounds(ref_distance_m=5.0, max_distance_m=100.0)
    g = source_gains(listener, np.array([[300.0, 0, 0], [1000.0, 0, 0], [4000.0, 0, 0], [20000.0, 0, 0]]), vs, 1, 1.0)
    assert np.allclose(g[:, 0], [1.0, 0.5, 0.125, 0.0])


def test_pan_follows_head_yaw() -> None:
    listener = Listener(ListenerSettings(default_position_cm=(0.0, 0.0, 0.0)))
    vs = VehicleSounds()
    right_of_origin = np.array([[0.0, 1000.0, 0.0]])  # Unreal +Y is right of +X (forward)
    left, right = source_gains(listener, right_of_origin, vs, 2, 1.0)[0]
    assert right > 0.9 * np.hypot(left, right) and left < 0.1
    # turn the head 180 degrees about +Y (up): the source is now on the left
    listener.update((0.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0))
    left, right = source_gains(listener, right_of_origin, vs, 2, 1.0)[0]
    assert left > 0.9 * np.hypot(left, right)


def test_pose_maps_tracking_space_to_unreal() -> None:
    listener = Listener(ListenerSettings(origin_cm=(100.0, 0.0, 0.0)))
    listener.update((1.0, 1.7, -2.0), (1.0, 0.0, 0.0, 0.0))  # 1 m right, 1.7 m up, 2 m forward
    assert np.allclose(listener.position_cm, [300.0, 100.0, 170.0])
    listener.update((np.nan, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0))  # ignored
    assert listener.poses == 1


def test_voice_spans_block_boundaries_sample_exactly() -> None:
    mixer = Mixer(48000, 1)
    sound = np.arange(1, 101, dtype=np.float32)[:, None] / 100
    mixer.add(250, sound, 1.0)
    out = np.concatenate([mixer.render(k * 64, 64) for k in range(8)])[:, 0]
    assert out[249] == 0 and np.allclose(out[250:350], sound[:, 0]) and out[350] == 0
    assert mixer.voices == []


def test_engine_loops_ramp_and_stop() -> None:
    mixer = Mixer(48000, 2, ramp_ms=10.0)
    blocks = [mixer.render(k * 480, 480, {7: np.array([0.1, 0.0], np.float32)}) for k in range(3)]
    assert np.abs(blocks[-1][:, 0]).max() > 0.05 and np.abs(blocks[-1][:, 1]).max() == 0
    assert np.abs(blocks[0][:5, 0]).max() < 0.01  # ramps in, no click
    for k in range(3, 6):
        mixer.render(k * 480, 480, {})
    assert mixer._loop_gains == {}
