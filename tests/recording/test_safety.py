"""Safety measures on a recording whose geometry is known by construction: a participant walks 2 m
north and stands; one car passes 3 m to the north, one crosses the spot the participant left, one
drives straight at them and stops 8 m short."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cosim import protocol as p
from cosim.config import ParticipantSettings
from recording.safety import analyse, section
from recording.writer import SessionWriter

RATE = 90
ORIGIN = (100.0, 200.0)


def participant_north(t: float) -> float:
    return ORIGIN[1] + min(t, 2.0)


def cars(t: float) -> list[tuple[int, float, float, float, float]]:
    """(handle, east, north, wire yaw deg, speed m/s) of each front bumper at time t."""
    return [(1, 60 + 10 * t, 205.0, 0.0, 10.0),   # passes 3 m north of where the participant stands
            (2, 60 + 10 * t, 200.0, 0.0, 10.0),   # crosses the spot the participant left, at t = 4 s
            (3, 100.0, 260 - 10 * t, 90.0, 10.0)]  # heads south, straight at the participant


def put(w: SessionWriter, topic: bytes, msg: p.Message, arrays: dict, log_ns: int) -> None:
    frames = p.encode(topic, msg, arrays)  # the header describes its payload arrays, as on the wire
    w.write(topic, bytes(frames[1]), [bytes(f) for f in frames[2:]], log_ns=log_ns, publish_ns=msg.t_ns)


def write(path, seconds: float = 5.0) -> None:
    w = SessionWriter(path)
    ids = p.vehicle_ids_arrays([1, 2, 3], ["car_pass", "car_cross", "car_head_on"], ["passenger"] * 3)
    put(w, p.TOPIC_VEHICLE_IDS, p.VehicleIds(ids_version=1), ids, 0)
    for k in range(int(seconds * 1000 / 5) + 1):  # poses at 200 Hz; tracking -Z forward faces north (yaw 0)
        t = k * 0.005
        w.write_message(p.TOPIC_POSE, p.Pose(device="hmd", sample_ns=round(t * 1e9), t_ns=round(t * 1e9),
                                             position=(0.0, 1.7, -(participant_north(t) - ORIGIN[1])),
                                             orientation=(1.0, 0.0, 0.0, 0.0)), log_ns=round(t * 1e9))
    for frame in range(int(seconds * RATE) + 1):
        t = frame / RATE
        rows = cars(t)
        arrays = {"handle": np.array([r[0] for r in rows], "<u4"),
                  "position_cm": np.array([[r[1] * 100, -r[2] * 100, 0.0] for r in rows], "<f4"),
                  "yaw_deg": np.array([r[3] for r in rows], "<f4"), "pitch_deg": np.zeros(3, "<f4"),
                  "speed_cms": np.array([r[4] * 100 for r in rows], "<f4")}
        msg = p.Vehicles(sim_ns=round(t * 1e9), ids_version=1, frame=frame, t_ns=round(t * 1e9))
        put(w, p.TOPIC_VEHICLES, msg, arrays, round(t * 1e9))
    w.close()


@pytest.fixture
def result(tmp_path):
    path = tmp_path / "s.mcap"
    write(path)
    cfg = ParticipantSettings(origin_m=ORIGIN)
    return section(analyse(path, cfg), cfg)


def test_closest_approach_is_to_the_car_crossing_the_participants_old_spot(result):
    # the participant stands at north 202; car_cross's side is 0.9 m from its centre line at north 200
    assert result["closest_vehicle"] == "car_cross"
    assert result["closest_approach_m"] == pytest.approx(1.1, abs=0.02)
    assert result["closest_at_s"] == pytest.approx(4.0, abs=0.15)
    enc = {e["vehicle"]: e for e in result["encounters"]}
    assert enc["car_pass"]["closest_m"] == pytest.approx(2.1, abs=0.02)
    # on a collision course only while the participant walked north towards its lane (at 1 m/s,
    # they would have been 1 m from its centre line when it came by); standing, never
    assert enc["car_pass"]["ttc_at_s"] < 2.0


def test_time_to_collision_of_the_car_heading_straight_at_the_participant(result):
    # at 5 s its bumper is 8 m away closing at 10 m/s; contact at 0.9 + 0.3 m: (8 - 1.2) / 10
    assert result["ttc_vehicle"] == "car_head_on"
    assert 0.68 <= result["ttc_min_s"] <= 0.80
    assert result["near_misses"] == 1


def test_post_encroachment_time_at_the_spot_the_participant_left(result):
    enc = {e["vehicle"]: e for e in result["encounters"]}
    # the participant was within 1 m of (100, 200) until t = 1 s; car_cross's bumper is there at t = 4 s
    assert enc["car_cross"]["pet_s"] == pytest.approx(3.0, abs=0.1)
    assert result["pet_min_s"] == pytest.approx(3.0, abs=0.1)


def test_calibration_maps_tracking_space_onto_the_net():
    cfg = ParticipantSettings(origin_m=(10.0, 20.0), yaw_deg=90.0, scale=2.0)
    east, north = cfg.to_net(0.0, -1.0)  # one metre forward (-Z), facing east
    assert (round(east, 9), round(north, 9)) == (12.0, 20.0)
    east, north = cfg.to_net(1.0, 0.0)  # one metre right, facing east: south
    assert (round(east, 9), round(north, 9)) == (10.0, 18.0)
    assert math.isclose(ParticipantSettings().to_net(1.0, -1.0)[1], 1.0)
