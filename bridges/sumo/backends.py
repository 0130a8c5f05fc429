"""Live SUMO sources: libsumo (in-process) and traci (own sumo, or attach to a running sumo/sumo-gui).
Vehicle data come from subscriptions: one subscription per vehicle at departure, then one batch of
results per step (no per-vehicle getter loops)."""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from bridges.sumo.config import Settings
from bridges.sumo.participant import Participant
from bridges.sumo.scenario import check_sumocfg, resolve, scenario_seed
from bridges.sumo.snapshot import RawEvent, Snapshot
from bridges.sumo.sourcearea import SourceArea
from cosim.errors import InputFileError
from cosim.protocol import PERSON_CLASS

log = logging.getLogger(__name__)

# traci.constants (libsumo shares the values)
VAR_POSITION3D, VAR_ANGLE, VAR_SPEED, VAR_SLOPE, VAR_SIGNALS = 0x39, 0x43, 0x40, 0x36, 0x5B
VAR_TIME, DEPARTED, ARRIVED, TELEPORTING, COLLIDING = 0x66, 0x74, 0x7A, 0x76, 0x81
TL_CURRENT_PHASE, TL_RED_YELLOW_GREEN_STATE = 0x28, 0x20
# Each subscribed variable costs SUMO work per vehicle and step, and one Python object per vehicle;
# the acceleration is not among them: the segment builder derives it from consecutive speeds, which
# is what SUMO reports for its (default) Euler update. What a vehicle is (class, size, colour) is
# read once, when it departs.
VEHICLE_VARS = (VAR_POSITION3D, VAR_ANGLE, VAR_SPEED, VAR_SLOPE, VAR_SIGNALS)
PERSON_VARS = (VAR_POSITION3D, VAR_ANGLE, VAR_SPEED, VAR_SLOPE)
What = tuple[str, str, tuple[float, float, float], tuple[int, int, int, int]]
UNKNOWN: What = ("", "", (0.0, 0.0, 0.0), (0, 0, 0, 0))
SUMO_DEFAULT_COLOR = (255, 255, 0, 255)  # what getColor reports for a vehicle or person given no colour of its own


def without_output_prefix(args: list[str]) -> list[str]:
    """``args`` without ``--output-prefix VALUE`` (the session's, which must not key the state cache)."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "--output-prefix":
            skip = True
        elif not a.startswith("--output-prefix="):
            out.append(a)
    return out


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
        # what each vehicle / person is, read once: (type, class, (length, width, height) m, RGBA)
        self._what: dict[str, What] = {}
        self._persons: dict[str, What] = {}
        self._tls: dict[str, int] = {}
        self.step_ns = 0
        self.info: dict[str, Any] = {}
        self.info_state: dict[str, Any] = {}
        self.sumo_step_ns = (0, 0)  # wall and CPU ns of SUMO's own simulationStep, the last step
        self.participant = Participant(self.api, settings.participant) if settings.participant.enabled else None
        self.area = SourceArea(self.api, settings.area, settings.origin_m) if settings.area.at_source else None

    def _command(self, sumo_args: list[str] | None = None) -> list[str]:
        s = self.settings
        cmd = [sumo_binary(s.traci.gui), "-c", str(self.path), "--no-step-log", "true",
               "--duration-log.disable", "true"]
        if s.seed is not None:  # else the scenario's own <seed>, as SUMO itself would run it
            cmd += ["--seed", str(s.seed)]
        if s.step_length_s is not None:
            cmd += ["--step-length", repr(s.step_length_s)]
        return cmd + list(s.sumo_args if sumo_args is None else sumo_args)

    def start(self) -> Snapshot:
        s = self.settings
        api = self.api
        if self.backend == "traci" and s.traci.port:
            api.init(port=s.traci.port, host=s.traci.host)
            api.setOrder(s.traci.order)
        else:
            inputs = check_sumocfg(self.path)
            state = self._state(inputs)
            self._launch(self._command() + (["--load-state", str(state)] if state else []))
        self.step_ns = int(round(api.simulation.getDeltaT() * 1e9))
        api.simulation.subscribe([VAR_TIME, DEPARTED, ARRIVED, TELEPORTING, COLLIDING])
        for tls in api.trafficlight.getIDList():
            api.trafficlight.subscribe(tls, [TL_CURRENT_PHASE, TL_RED_YELLOW_GREEN_STATE])
        if self.area is not None:
            self.area.start(VEHICLE_VARS, PERSON_VARS)
        else:
            for vid in api.vehicle.getIDList():  # attached to a running simulation
                self._subscribe(vid)
        self._follow_persons()
        (x0, y0), (x1, y1) = api.simulation.getNetBoundary()
        self.info = {"backend": self.backend, "scenario": str(self.path), "step_length_ms": self.step_ns / 1e6,
                     "seed": s.seed if s.seed is not None else scenario_seed(self.path),
                     "seed_from": "config" if s.seed is not None else "scenario",
                     "net_boundary_m": [x0, y0, x1, y1],
                     "traffic_lights": len(api.trafficlight.getIDList()),
                     "sumo_version": str(api.getVersion()[1]) if hasattr(api, "getVersion") else "",
                     **self.info_state}
        self._read_tls(api.trafficlight.getAllSubscriptionResults(), initial=True)
        first = self.step()  # executes the begin step, so the first state is labelled ``begin``
        if first is None:
            raise InputFileError(f"SUMO scenario {str(self.path)!r} has nothing to simulate")
        first.events = []
        return first

    def _launch(self, cmd: list[str]) -> None:
        try:
            self.api.start(cmd) if self.backend == "libsumo" else self.api.start(cmd, port=None)
        except Exception as exc:  # SUMO's own errors: FatalTraCIError, TraCIException, ...
            raise InputFileError(f"SUMO scenario {str(self.path)!r}: SUMO refused to start it: {exc}") from None

    def _state(self, inputs: dict[str, list[Path]]) -> Path | None:
        """The saved state at ``start_s`` (made now by a fast-forward when not cached): every run then
        starts from the same state, in well under a second. None without ``start_s`` or a cache."""
        s = self.settings
        if not s.start_s or s.state_cache_dir is None:
            return None
        digest = hashlib.sha256()
        for f in [self.path, *(f for files in inputs.values() for f in files)]:
            digest.update(f.read_bytes())
        args = without_output_prefix(s.sumo_args)
        digest.update(msgspec.json.encode([s.seed, s.step_length_s, s.start_s, args, self.api.__name__,
                                           importlib.metadata.version("eclipse-sumo")]))
        folder = Path(s.state_cache_dir).expanduser()
        path = folder / f"{self.path.stem}-{digest.hexdigest()[:20]}-{s.start_s:g}s.xml.gz"
        if path.is_file():
            self.info_state = {"state": str(path), "state_made": False}
            log.info("starting at %g s from the saved state %s", s.start_s, path)
            return path
        folder.mkdir(parents=True, exist_ok=True)
        log.info("fast-forwarding to %g s once, to save the state there (%s)", s.start_s, path)
        # SUMO writes every output, the state included, to dirname(name) + prefix + basename(name), the
        # scenario's outputs named relative to the .sumocfg's folder: with a prefix from there to a
        # scratch folder, the fast-forward's own outputs and the state all land in it
        scratch = Path(tempfile.mkdtemp(prefix="cosim-sumo-ff-"))
        prefix = os.path.relpath(scratch, self.path.parent) + os.sep
        cmd = [*self._command(without_output_prefix(s.sumo_args)), "--output-prefix", prefix,
               "--save-state.rng", "true", "--save-state.precision", "6"]
        self._launch(cmd)
        api, step, next_report = self.api, max(s.start_s / 10, 1.0), 0.0
        while api.simulation.getTime() < s.start_s - 1e-9:
            if api.simulation.getMinExpectedNumber() <= 0:
                break
            api.simulationStep()
            if api.simulation.getTime() >= next_report:
                log.info("fast-forward: %.0f of %g s", api.simulation.getTime(), s.start_s)
                next_report += step
        api.simulation.saveState(str(self.path.parent / "state.xml.gz"))
        api.close()
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp.xml.gz")
        shutil.move(scratch / "state.xml.gz", tmp)  # to the cache's file system, then in place at once
        os.replace(tmp, path)
        shutil.rmtree(scratch, ignore_errors=True)
        self.info_state = {"state": str(path), "state_made": True}
        return path

    def _subscribe(self, vid: str) -> None:
        self.api.vehicle.subscribe(vid, VEHICLE_VARS)
        self._learn(vid)

    def _learn(self, vid: str) -> None:
        v = self.api.vehicle
        vtype = v.getTypeID(vid)
        self._what[vid] = (vtype, v.getVehicleClass(vid), (v.getLength(vid), v.getWidth(vid), v.getHeight(vid)),
                           self._color(v.getColor(vid), vtype))

    def _color(self, own: tuple[int, ...], vtype: str) -> tuple[int, int, int, int]:
        """The colour SUMO draws by default: the vehicle's (or person's) own, else its type's."""
        color = tuple(own)
        if color == SUMO_DEFAULT_COLOR:
            color = tuple(self.api.vehicletype.getColor(vtype))
        return color  # type: ignore[return-value]

    def place(self, x: float, y: float, heading_deg: float) -> None:
        """The participant's newest position (net metres): SUMO's person or car, the area's centre."""
        if self.participant is not None:
            self.participant.place(x, y, heading_deg)
        if self.area is not None:
            self.area.move(x, y)

    def _follow_persons(self) -> None:
        """Subscribe persons that appeared (the participant's own excepted); forget those gone. With
        the area at the source, SUMO reports the persons within it: learn what the new ones are."""
        api, known = self.api.person, self._persons
        now = set(api.getIDList() if self.area is None else self.area.persons())
        if self.participant is not None:
            now.discard(self.participant.person)
        for pid in now.difference(known):
            if self.area is None:
                api.subscribe(pid, PERSON_VARS)
            ptype = api.getTypeID(pid)
            known[pid] = (ptype, PERSON_CLASS, (api.getLength(pid), api.getWidth(pid), api.getHeight(pid)),
                          self._color(api.getColor(pid), ptype))
        for pid in set(known).difference(now):
            del known[pid]

    def _type(self, vid: str) -> str:
        what = self._what.get(vid)
        return what[0] if what is not None else self.api.vehicle.getTypeID(vid)  # outside the area at the source

    def _now_ns(self) -> int:
        """The time of the step just executed, as SUMO's outputs (FCD) label its state; TraCI's
        getTime() is already one step later. SUMO time is integer milliseconds."""
        return int(round(self.api.simulation.getTime() * 1000)) * 1_000_000 - self.step_ns

    def _read_tls(self, lights: dict[str, Any], initial: bool = False) -> list[RawEvent]:
        """tls_phase events of the traffic lights' subscription results (one batch a step: with
        hundreds of lights, fetching them costs as much as the vehicles' results)."""
        out = []
        for tls, r in lights.items():
            phase = int(r[TL_CURRENT_PHASE])
            if not initial and self._tls.get(tls) != phase:
                out.append(RawEvent("tls_phase", tls, {"phase": phase, "state": r[TL_RED_YELLOW_GREEN_STATE]}))
            self._tls[tls] = phase
        return out

    def _snapshot(self, events: list[RawEvent], lights: dict[str, Any] | None = None) -> Snapshot:
        if self.area is None:
            res = self.api.vehicle.getAllSubscriptionResults()
            people = self.api.person.getAllSubscriptionResults() if self._persons else {}
        else:
            res, people = self.area.vehicles(), self.area.persons()
            for vid in res.keys() - self._what.keys():  # entered the area
                self._learn(vid)
        if self.participant is not None and self.participant.vehicle:
            res.pop(self.participant.person, None)  # the participant's own car: drawn by the rig, not from the scene
        people = {k: r for k, r in people.items() if k in self._persons}
        ids = [*res, *people]
        vals = [*res.values(), *people.values()]
        rows = np.array([(*r[VAR_POSITION3D], r[VAR_ANGLE], r[VAR_SPEED], r[VAR_SLOPE]) for r in vals],
                        dtype=np.float64).reshape(len(ids), 6)
        signals = np.zeros(len(ids), dtype=np.int64)
        signals[:len(res)] = [r[VAR_SIGNALS] for r in res.values()]
        what = [self._what.get(v, UNKNOWN) for v in res] + [self._persons[p] for p in people]
        if lights is None:
            lights = self.api.trafficlight.getAllSubscriptionResults()
        states = {tls: r[TL_RED_YELLOW_GREEN_STATE] for tls, r in lights.items()}
        return Snapshot(self._now_ns(), ids, [w[0] for w in what], rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4],
                        rows[:, 5], None, events, persons=len(people), signals=signals,
                        classes=[w[1] for w in what], size_m=np.array([w[2] for w in what], dtype=np.float64).reshape(-1, 3),
                        color=np.array([w[3] for w in what], dtype=np.float64).reshape(-1, 4), lights=states)

    def step(self) -> Snapshot | None:
        api = self.api
        if api.simulation.getMinExpectedNumber() <= 0 and not self.settings.traci.port:
            return None
        if self.participant is not None:
            self.participant.before_step()
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        api.simulationStep()
        self.sumo_step_ns = (time.perf_counter_ns() - t0, time.thread_time_ns() - c0)
        sim = api.simulation.getSubscriptionResults()
        departed, arrived = sim.get(DEPARTED, ()), sim.get(ARRIVED, ())
        if self.area is None:
            for vid in departed:
                self._subscribe(vid)
        if self.participant is not None:
            departed = [v for v in departed if v != self.participant.person]
        events = [RawEvent("depart", v, {"type": self._type(v)}) for v in departed]
        events += [RawEvent("arrive", v) for v in arrived]
        events += [RawEvent("teleport", v) for v in sim.get(TELEPORTING, ())]
        if sim.get(COLLIDING):
            for c in api.simulation.getCollisions():
                events.append(RawEvent("collision", c.collider, {
                    "victim": c.victim, "type": c.type, "lane": c.lane,
                    "collider_speed_ms": round(c.colliderSpeed, 3), "victim_speed_ms": round(c.victimSpeed, 3)}))
        lights = api.trafficlight.getAllSubscriptionResults()
        events += self._read_tls(lights)
        for vid in arrived:
            self._what.pop(vid, None)
        self._follow_persons()
        snap = self._snapshot(events, lights)
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
        if self.area is not None:
            self.area.close()
        try:
            self.api.close()
        except Exception as exc:  # already closed or SUMO gone
            log.debug("closing %s: %s", self.backend, exc)

