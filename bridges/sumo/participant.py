"""The participant in the loop: the person in the headset placed in SUMO every step, as a pedestrian
(``person.moveToXY``; pedestrian studies) or as an ego vehicle on the nearest road
(``vehicle.moveToXY``; driving studies), so SUMO's drivers see them (they yield at a crossing the
participant steps onto, brake for them, queue behind their car), and what the vehicles near them did
about it. The participant's own person or vehicle is never part of the published scene.

Runs in the stepping process, against libsumo or TraCI (the same API). The bridge sends where the
participant is (net coordinates, from the rig's calibration); each step places them there first.
"""
from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from bridges.sumo.config import ParticipantInSumo
from bridges.sumo.snapshot import RawEvent, Snapshot

log = logging.getLogger("sumo.participant")
PERSON = "participant"  # the participant's SUMO id, as a person or as a vehicle
ROUTE = "participant_route"
STOPPED_MS = 0.3  # a vehicle slower than this near the participant, after moving, has stopped for them
MOVING_MS = 2.0
CORRIDOR_M = 2.5  # half a lane and a body either side of a vehicle's line: the participant is in its path


class Participant:
    person = PERSON  # the participant's SUMO person id: not part of the published scene

    def __init__(self, api: Any, settings: ParticipantInSumo) -> None:
        self.api = api
        self.s = settings
        self.target: tuple[float, float, float] | None = None  # net x, y (m), heading (deg clockwise from north)
        self.added = False
        self.failed = False
        self.moving: set[str] = set()  # vehicles seen moving near the participant
        self.yielded: set[str] = set()
        self.braked: set[str] = set()
        self._speed: dict[str, float] = {}
        self.vehicle = settings.kind == "vehicle"

    def place(self, x: float, y: float, heading_deg: float) -> None:
        self.target = (x, y, heading_deg)

    def before_step(self) -> None:
        if self.target is None or self.failed or not self.s.visible:
            return
        x, y, heading = self.target
        try:
            if not self.added:
                self._add(x, y)
            if self.vehicle:  # keepRoute 0: onto the nearest road, where the traffic can see the car
                self.api.vehicle.moveToXY(PERSON, "", 0, x, y, heading, 0)
            else:
                self.api.person.moveToXY(PERSON, "", x, y, heading, 2)  # keepRoute 2: anywhere a pedestrian may be
        except Exception as exc:  # SUMO refuses a place with no pedestrian lane near: the session goes on, open-loop
            self.failed = True
            log.error("cannot place the participant in SUMO at (%.1f, %.1f): %s; the traffic will not react to them",
                      x, y, exc)

    def _add(self, x: float, y: float) -> None:
        api = self.api
        edge, pos, lane = api.simulation.convertRoad(x, y, False, "passenger" if self.vehicle else "pedestrian")
        if self.vehicle:
            api.route.add(ROUTE, [edge])
            api.vehicle.add(PERSON, ROUTE, typeID=self.s.vehicle_type, departPos=str(max(pos, 0.0)),
                            departLane=str(lane))
            api.vehicle.setSpeedMode(PERSON, 0)  # where the participant puts it, whatever SUMO's checks say
        else:
            api.person.add(PERSON, edge, pos)
            api.person.appendWaitingStage(PERSON, 1e7, "participant (placed by the cosim bridge)")
        self.added = True
        log.info("participant placed in SUMO as a %s on %s at (%.1f, %.1f)", self.s.kind, edge, x, y)

    def where(self) -> tuple[float, float] | None:
        """Where the participant is in SUMO's net: their car where SUMO put it, else the headset's place."""
        if self.target is None:
            return None
        if self.vehicle and self.added and not self.failed:
            try:
                x, y = self.api.vehicle.getPosition(PERSON)
                return x, y
            except Exception:  # not yet inserted
                pass
        return self.target[0], self.target[1]

    def after_step(self, snap: Snapshot, step_s: float) -> list[RawEvent]:
        """Vehicles near the participant that stopped (yielded) or braked hard, once each."""
        here = self.where()
        if here is None or not len(snap):
            return []
        px, py = here
        vehicles = len(snap) - snap.persons
        dist = np.hypot(snap.x[:vehicles] - px, snap.y[:vehicles] - py)
        events = []
        speeds = {}
        for i in np.flatnonzero(dist <= self.s.react_distance_m):
            vid, v = snap.ids[i], float(snap.speed[i])
            speeds[vid] = v
            before = self._speed.get(vid)
            decel = (before - v) / step_s if before is not None and step_s > 0 else 0.0
            if v > MOVING_MS:
                self.moving.add(vid)
            data = {"distance_m": round(float(dist[i]), 2), "speed_ms": round(v, 2)}
            braking = decel >= self.s.braking_ms2 and vid not in self.braked
            stopped = v < STOPPED_MS and vid in self.moving and vid not in self.yielded
            if not (braking or stopped) or not self._towards(snap, i, px, py) or self._follows(vid, float(dist[i])):
                continue
            if braking:
                self.braked.add(vid)
                events.append(RawEvent("braked_for_participant", vid, {**data, "decel_ms2": round(decel, 2)}))
            if stopped:
                self.yielded.add(vid)
                events.append(RawEvent("yielded", vid, data))
        self._speed = speeds
        return events

    def _follows(self, vid: str, distance: float) -> bool:
        """A vehicle ahead of it, nearer than the participant: it slows for that one (car following)."""
        try:
            leader = self.api.vehicle.getLeader(vid, distance)
        except Exception:  # the vehicle left in this step
            return False
        return bool(leader) and bool(leader[0]) and leader[0] != PERSON and 0 <= leader[1] < distance

    @staticmethod
    def _towards(snap: Snapshot, i: int, px: float, py: float) -> bool:
        """The participant is in the vehicle's path: ahead of its front, within CORRIDOR_M of the
        line it drives along (a car slowing for a junction with the participant on the sidewalk
        beside it has not braked for them)."""
        heading = math.radians(float(snap.angle[i]))  # clockwise from north
        fx, fy = math.sin(heading), math.cos(heading)
        dx, dy = px - float(snap.x[i]), py - float(snap.y[i])
        return fx * dx + fy * dy > -1.0 and abs(fx * dy - fy * dx) <= CORRIDOR_M
