"""Live SUMO sources: libsumo (in-process) and traci (own sumo, or attach to a running sumo/sumo-gui).
Vehicle data come from subscriptions: one subscription per vehicle at departure, then one batch of
results per step (no per-vehicle getter loops)."""
from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from bridges.sumo.config import Settings
from bridges.sumo.participant import Participant
from bridges.sumo.scenario import check_sumocfg, resolve, scenario_seed
from bridges.sumo.snapshot import RawEvent, Snapshot
from cosim.errors import InputFileError

log = logging.getLogger(__name__)

# traci.constants (libsumo shares the values)
VAR_POSITION3D, VAR_ANGLE, VAR_SPEED, VAR_SLOPE = 0x39, 0x43, 0x40, 0x36
VAR_TIME, DEPARTED, ARRIVED, TELEPORTING, COLLIDING = 0x66, 0x74, 0x7A, 0x76, 0x81
TL_CURRENT_PHASE = 0x28
# Each subscribed variable costs SUMO work per vehicle and step, and one Python object per vehicle;
# the acceleration is not among them: the segment builder derives it from consecutive speeds, which
# is what SUMO reports for its (default) Euler update.
VEHICLE_VARS = (VAR_POSITION3D, VAR_ANGLE, VAR_SPEED, VAR_SLOPE)


def sumo_binary(gui: bool = False) -> str:
    import sumo
    return str(Path(sumo.SUMO_HOME) / "bin" / ("sumo-gui" if gui else "sumo"))


class SumoSource:
    """One live SUMO run. ``module`` is ``"libsumo"`` or ``"traci"`` (never both in one process)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = settings.backend
        self.api: Any = importlib.import_module(self.backend)
        self.path = resolve(settings.scenario)
        self._types: dict[str, str] = {}
        self._tls: dict[str, int] = {}
        self.step_ns = 0
        self.info: dict[str, Any] = {}
        self.participant = Participant(self.api, settings.participant) if settings.participant.enabled else None

    def _command(self) -> list[str]:
        s = self.settings
        cmd = [sumo_binary(s.traci.gui), "-c", str(self.path), "--no-step-log", "true",
               "--duration-log.disable", "true"]
        if s.seed is not None:  # else the scenario's own <seed>, as SUMO itself would run it
            cmd += ["--seed", str(s.seed)]
        if s.step_length_s is not None:
            cmd += ["--step-length", repr(s.step_length_s)]
        return cmd + list(s.sumo_args)

    def start(self) -> Snapshot:
        s = self.settings
        api = self.api
        if self.backend == "traci" and s.traci.port:
            api.init(port=s.traci.port, host=s.traci.host)
            api.setOrder(s.traci.order)
        else:
            check_sumocfg(self.path)
            try:
                api.start(self._command()) if self.backend == "libsumo" else api.start(self._command(), port=None)
            except Exception as exc:  # SUMO's own errors: FatalTraCIError, TraCIException, ...
                raise InputFileError(f"SUMO scenario {str(self.path)!r}: SUMO refused to start it: {exc}") from None
        self.step_ns = int(round(api.simulation.getDeltaT() * 1e9))
        api.simulation.subscribe([VAR_TIME, DEPARTED, ARRIVED, TELEPORTING, COLLIDING])
        if "tls_phase" in s.events:
            for tls in api.trafficlight.getIDList():
                api.trafficlight.subscribe(tls, [TL_CURRENT_PHASE])
        for vid in api.vehicle.getIDList():  # attached to a running simulation
            self._subscribe(vid)
        (x0, y0), (x1, y1) = api.simulation.getNetBoundary()
        self.info = {"backend": self.backend, "scenario": str(self.path), "step_length_ms": self.step_ns / 1e6,
                     "seed": s.seed if s.seed is not None else scenario_seed(self.path),
                     "seed_from": "config" if s.seed is not None else "scenario",
                     "net_boundary_m": [x0, y0, x1, y1],
                     "traffic_lights": len(api.trafficlight.getIDList()),
                     "sumo_version": str(api.getVersion()[1]) if hasattr(api, "getVersion") else ""}
        self._read_tls(initial=True)
        first = self.step()  # executes the begin step, so the first state is labelled ``begin``
        if first is None:
            raise InputFileError(f"SUMO scenario {str(self.path)!r} has nothing to simulate")
        first.events = []
        return first

    def _subscribe(self, vid: str) -> None:
        self.api.vehicle.subscribe(vid, VEHICLE_VARS)
        self._types[vid] = self.api.vehicle.getTypeID(vid)

    def _now_ns(self) -> int:
        """The time of the step just executed, as SUMO's outputs (FCD) label its state; TraCI's
        getTime() is already one step later. SUMO time is integer milliseconds."""
        return int(round(self.api.simulation.getTime() * 1000)) * 1_000_000 - self.step_ns

    def _read_tls(self, initial: bool = False) -> list[RawEvent]:
        out = []
        for tls, r in self.api.trafficlight.getAllSubscriptionResults().items():
            phase = int(r[TL_CURRENT_PHASE])
            if not initial and self._tls.get(tls) != phase:  # the state string only on a change
                out.append(RawEvent("tls_phase", tls, {"phase": phase,
                                                       "state": self.api.trafficlight.getRedYellowGreenState(tls)}))
            self._tls[tls] = phase
        return out

    def _snapshot(self, events: list[RawEvent]) -> Snapshot:
        res = self.api.vehicle.getAllSubscriptionResults()
        ids = list(res)
        rows = np.array([(*r[VAR_POSITION3D], r[VAR_ANGLE], r[VAR_SPEED], r[VAR_SLOPE]) for r in res.values()],
                        dtype=np.float64).reshape(len(ids), 6)
        types = [self._types.get(v, "") for v in ids]
        return Snapshot(self._now_ns(), ids, types, rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4],
                        rows[:, 5], None, events)

    def step(self) -> Snapshot | None:
        api = self.api
        if api.simulation.getMinExpectedNumber() <= 0 and not self.settings.traci.port:
            return None
        if self.participant is not None:
            self.participant.before_step()
        api.simulationStep()
        sim = api.simulation.getSubscriptionResults()
        departed, arrived = sim.get(DEPARTED, ()), sim.get(ARRIVED, ())
        for vid in departed:
            self._subscribe(vid)
        events = [RawEvent("depart", v, {"type": self._types.get(v, "")}) for v in departed]
        events += [RawEvent("arrive", v) for v in arrived]
        events += [RawEvent("teleport", v) for v in sim.get(TELEPORTING, ())]
        if sim.get(COLLIDING):
            for c in api.simulation.getCollisions():
                events.append(RawEvent("collision", c.collider, {
                    "victim": c.victim, "type": c.type, "lane": c.lane,
                    "collider_speed_ms": round(c.colliderSpeed, 3), "victim_speed_ms": round(c.victimSpeed, 3)}))
        events += self._read_tls()
        for vid in arrived:
            self._types.pop(vid, None)
        snap = self._snapshot(events)
        if self.participant is not None:
            snap.events += self.participant.after_step(snap, self.step_ns / 1e9)
        return snap

    def seek(self, sim_ns: int) -> Snapshot:
        """Live SUMO only runs forward: step until ``sim_ns`` is reached."""
        snap = self._snapshot([])
        if sim_ns < snap.sim_ns:
            raise InputFileError(f"cannot seek a live SUMO run backwards (to {sim_ns / 1e9:.3f} s from "
                                 f"{snap.sim_ns / 1e9:.3f} s); use an FCD replay")
        while snap.sim_ns + self.step_ns <= sim_ns:
            nxt = self.step()
            if nxt is None:
                break
            snap = nxt
        snap.events = []
        return snap

    def close(self) -> None:
        try:
            self.api.close()
        except Exception as exc:  # already closed or SUMO gone
            log.debug("closing %s: %s", self.backend, exc)

