"""The area of interest read at the source (``area.at_source``, live SUMO only).

Subscribing every vehicle of a city costs SUMO work per vehicle and step, and libsumo one Python dict
per vehicle: at 20,000 vehicles more than half of SUMO's own step (docs/sumo.md, "City scale"). Here
SUMO itself selects: points of interest at the area's centre carry context subscriptions for
vehicles and for persons within ``radius_m + hysteresis_m`` (the area's outer edge), so only those
come back. The points move with the participant. The bridge's own area (bridges/sumo/area.py) then
applies the hysteresis within that set as before.
"""
from __future__ import annotations

import logging
import os
from typing import Any

from bridges.sumo.config import AreaOfInterest
from cosim.errors import InputFileError

log = logging.getLogger(__name__)

# traci.constants (libsumo shares them); one POI per domain: SUMO merges the results of several
# context subscriptions of one object into one table keyed by id, and a person may be named like a vehicle
DOMAINS = {"vehicles": 0xA4, "persons": 0xAE}  # CMD_GET_VEHICLE_VARIABLE, CMD_GET_PERSON_VARIABLE
POI = "cosim.area."  # + this bridge's process id + the domain: several bridges may attach to one SUMO

Results = dict[str, dict[int, Any]]


class SourceArea:
    """SUMO's context subscriptions around the area's centre (net metres)."""

    def __init__(self, api: Any, s: AreaOfInterest, origin_m: tuple[float, float, float]) -> None:
        self.api = api
        self.range_m = s.radius_m + s.hysteresis_m
        self.centre = tuple(s.center_m if s.center_m is not None else origin_m[:2])
        self.names = {what: f"{POI}{os.getpid()}.{what}" for what in DOMAINS}

    def start(self, vehicle_vars: tuple[int, ...], person_vars: tuple[int, ...]) -> None:
        poi = self.api.poi
        taken = set(poi.getIDList())
        for what, variables in (("vehicles", vehicle_vars), ("persons", person_vars)):
            name = self.names[what]
            if name in taken:
                raise InputFileError(f"the scenario has a POI named {name!r}, which area.at_source needs")
            poi.add(name, float(self.centre[0]), float(self.centre[1]), (0, 0, 0, 0))
            poi.subscribeContext(name, DOMAINS[what], self.range_m, variables)
        log.info("area at the source: SUMO reports what is within %.0f m of (%.1f, %.1f)", self.range_m, *self.centre)

    def move(self, x: float, y: float) -> None:
        self.centre = (x, y)
        for name in self.names.values():
            self.api.poi.setPosition(name, x, y)

    def vehicles(self) -> Results:
        return self.api.poi.getContextSubscriptionResults(self.names["vehicles"])

    def persons(self) -> Results:
        return self.api.poi.getContextSubscriptionResults(self.names["persons"])

    def close(self) -> None:
        """Take the points of interest away (a SUMO others attach to goes on without them)."""
        for name in self.names.values():
            try:
                self.api.poi.remove(name)
            except Exception as exc:  # SUMO already gone
                log.debug("removing POI %s: %s", name, exc)
