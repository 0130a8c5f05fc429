"""The participant in the loop, with real SUMO: configs/crossing.yaml as shipped, shortened, run
twice at once: the walker visible to SUMO, and invisible (the open-loop baseline). Drivers yield
only to a person they can see."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recording.reader import Recording
from tests.conftest import REPO

SHORT = ["--set", "session.duration_s=22", "--set", "components.pose.settings.synthetic.walk_start_s=4",
         "--set", "session.rt_priority=0", "--set", "components.client.rt_priority=0",
         "--set", "components.pose.rt_priority=0", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[bool | str, Path]:
    """True: the walker visible to SUMO; False: invisible; "vehicle": the participant as an ego car,
    standing where the headset is (10 m from the eastbound lane: SUMO puts the car on the road)."""
    base = tmp_path_factory.mktemp("crossing")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = {}
    for run, extra in ((True, ["participant.visible=true"]), (False, ["participant.visible=false"]),
                       ("vehicle", ["participant.kind=vehicle"])):
        out = base / str(run)
        sets = [x for e in extra for x in ("--set", "components.sumo.settings." + e)]
        if run == "vehicle":
            sets += ["--set", "components.pose.settings.synthetic.walk_start_s=1000"]
        procs[run] = (out, subprocess.Popen(
            [sys.executable, "run_session.py", "--config", "configs/crossing.yaml", "--out", str(out), *SHORT, *sets],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for visible, (out, proc) in procs.items():
        text, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, text
    return {visible: out for visible, (out, _) in procs.items()}


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_drivers_yield_to_the_participant_only_when_sumo_sees_them(runs):
    seen, unseen = summary(runs[True])["participant"], summary(runs[False])["participant"]
    assert seen["in_sumo"] and not unseen["in_sumo"] and seen["reactions_watched"] and unseen["reactions_watched"]
    assert seen["vehicles_yielded"] > 0 and unseen["vehicles_yielded"] == 0, (seen, unseen)
    # unseen, a car drives through the person on the crossing; seen, they stop short of them
    assert unseen["closest_approach_m"] < 0.5 < seen["closest_approach_m"], (seen, unseen)


def test_a_yield_is_an_event_of_a_vehicle_stopped_in_front_of_the_participant(runs):
    events = [d.msg for d in Recording.open(runs[True]).messages(["events"]) if d.msg.kind == "yielded"]
    assert events and all(e.data["speed_ms"] < 0.3 and e.data["distance_m"] < 30 for e in events)
    assert all(e.subject.startswith(("east.", "west.")) for e in events)  # vehicles of the scenario's flows


def test_the_pedestrian_walked_in_sumo_where_the_headset_walked(runs):
    log = (runs[True] / "logs" / "sumo.log").read_text()
    assert "participant placed in SUMO" in log
    assert "participant placed in SUMO" not in (runs[False] / "logs" / "sumo.log").read_text()


def test_the_area_of_interest_follows_the_participant(runs):
    """area.vehicles (radius 60 m, band 20 m) around where the headset is, mapped by the calibration."""
    from cosim import protocol as p
    from cosim.config import read_config
    cal = read_config(REPO / "configs" / "crossing.yaml").participant
    rec = Recording.open(runs[True])
    where = None
    rows = full = 0
    for d in rec.messages([p.TOPIC_POSE, p.TOPIC_AREA_VEHICLES, p.TOPIC_VEHICLES]):
        if isinstance(d.msg, p.Pose) and cal.follows(d.msg.device, d.msg.device_class):
            where = cal.to_net(d.msg.position[0], d.msg.position[2])
        elif d.topic == p.TOPIC_VEHICLES:
            full += len(d.arrays["handle"])
        elif where is not None:
            pos = d.arrays["position_cm"]
            dist = ((pos[:, 0] / 100 - where[0]) ** 2 + (-pos[:, 1] / 100 - where[1]) ** 2) ** 0.5
            assert (dist < 80 + 1).all(), dist.max()  # within the band (+1 m: the walker moves between poses)
            rows += len(pos)
    assert 0 < rows < full


def test_as_an_ego_vehicle_the_traffic_queues_behind_the_participant(runs):
    """Driving studies: the participant's car is on the road in SUMO; drivers behind it stop and
    brake for it (none did for the invisible participant), and the car is not in the published scene."""
    ego, unseen = summary(runs["vehicle"]), summary(runs[False])
    assert ego["participant"]["in_sumo"] and ego["participant"]["vehicles_yielded"] > 0
    assert unseen["participant"]["vehicles_yielded"] == 0
    assert "placed in SUMO as a vehicle" in (runs["vehicle"] / "logs" / "sumo.log").read_text()
    from cosim import protocol as p
    for d in Recording.open(runs["vehicle"]).messages([p.TOPIC_VEHICLE_IDS]):
        assert "participant" not in p.vehicle_id_table(d.msg, d.arrays).ids
