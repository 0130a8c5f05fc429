"""Settings of the SUMO bridge (``components.<name>.settings``); see docs/sumo.md for each key."""
from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from cosim.config import Strict

Seconds = Annotated[float, msgspec.Meta(ge=0)]
EVENT_KINDS = ("depart", "arrive", "teleport", "collision", "emergency_braking", "tls_phase", "yielded",
               "braked_for_participant")
EventKind = Literal["depart", "arrive", "teleport", "collision", "emergency_braking", "tls_phase", "yielded",
                    "braked_for_participant"]


class TraciSettings(Strict):
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0  # 0: launch our own sumo; else attach
    host: str = "127.0.0.1"
    order: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1  # setOrder when several clients attach
    gui: bool = False  # launch sumo-gui instead of sumo (port 0 only)


class ParticipantInSumo(Strict):
    """The session's participant (the config's ``participant:`` calibration) followed in SUMO: placed
    as a pedestrian every step, so that the traffic reacts to them, and the vehicles' reactions
    reported (live SUMO only; docs/sumo.md)."""

    enabled: bool = False
    visible: bool = True  # false: SUMO does not see the person (the open-loop baseline); reactions are still watched
    # pedestrian studies: a person; driving studies: an ego vehicle, put on the nearest road each step
    kind: Literal["pedestrian", "vehicle"] = "pedestrian"
    vehicle_type: str = "DEFAULT_VEHTYPE"  # the ego vehicle's SUMO type (kind: vehicle)
    react_distance_m: Annotated[float, msgspec.Meta(gt=0)] = 30.0  # vehicles this near count as reacting
    braking_ms2: Annotated[float, msgspec.Meta(gt=0)] = 2.0  # a deceleration this strong near them: braked


class AreaOfInterest(Strict):
    """Also publish, on ``area.vehicles``/``area.ids``, only what is within ``radius_m`` of the
    participant (or of ``center_m``): what a renderer needs of a city (docs/sumo.md)."""

    radius_m: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # 0: no area (a subscriber may ask: sumo.area:<m>)
    hysteresis_m: Annotated[float, msgspec.Meta(ge=0)] = 20.0  # enter inside radius_m, leave beyond radius_m + this
    center_m: tuple[float, float] | None = None  # net metres; the participant's position replaces it (None: origin_m)
    # live SUMO only: SUMO reports only what is within radius_m + hysteresis_m (bridges/sumo/sourcearea.py),
    # so sumo.vehicles and the recording hold the area too: what makes a live city affordable
    at_source: bool = False


class Settings(Strict):
    backend: Literal["libsumo", "traci", "fcd"] = "libsumo"
    # .sumocfg for libsumo/traci (relative paths are taken from the repository root), FCD
    # (.xml or .xml.gz) for fcd.
    scenario: str = "scenarios/demo/demo.sumocfg"
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None  # None: the scenario's own
    step_length_s: Annotated[float, msgspec.Meta(gt=0, le=10)] | None = None  # None: the scenario's
    sumo_args: list[str] = []  # extra command-line options for sumo
    time_scale: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 1.0  # sim seconds per session second
    start_s: Seconds | None = None  # sim time of frame 0 (None: scenario begin / first FCD step)
    # live SUMO starts at start_s from a saved state kept here (made by one fast-forward, then loaded
    # in well under a second, the same for every run); None: fast-forward every time
    state_cache_dir: str | None = "~/.cache/cosim/sumo-state"
    lookahead_s: Annotated[float, msgspec.Meta(gt=0, le=10)] = 0.25  # session seconds SUMO runs ahead
    origin_m: tuple[float, float, float] = (0.0, 0.0, 0.0)  # SUMO net point that becomes Unreal 0
    # parsed FCD traces are kept here (bridges.sumo.fcdcache); None: parse the trace on every start
    fcd_cache_dir: str | None = "~/.cache/cosim/sumo-fcd"
    record_fcd: str | None = None  # write the run to this FCD file (.xml or .xml.gz)
    fcd_precision: Annotated[int, msgspec.Meta(ge=1, le=6)] = 3
    events: list[EventKind] = msgspec.field(default_factory=lambda: list(EVENT_KINDS))
    emergency_decel_ms2: Annotated[float, msgspec.Meta(gt=0)] = 7.0
    traci: TraciSettings = msgspec.field(default_factory=TraciSettings)
    participant: ParticipantInSumo = msgspec.field(default_factory=ParticipantInSumo)
    area: AreaOfInterest = msgspec.field(default_factory=AreaOfInterest)
    # run the bridge's main thread (the per-frame work) SCHED_FIFO at this priority (0 = no); on a
    # loaded machine a woken frame otherwise waits for a CPU behind other processes' time slices
    rt_priority: Annotated[int, msgspec.Meta(ge=0, le=99)] = 0
    startup_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    wait_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0  # lockstep: longest wait for SUMO


def check_files(settings: Settings) -> None:
    """What the runner checks before it starts any process (session.config)."""
    from bridges.sumo.scenario import check_inputs
    check_settings(settings)
    check_inputs(settings.scenario)


def check_settings(settings: Settings) -> None:
    """Settings that contradict each other (the component checks them again when it starts)."""
    from cosim.errors import ConfigError
    if settings.area.at_source and (settings.backend == "fcd" or settings.area.radius_m <= 0):
        raise ConfigError("sumo: area.at_source needs live SUMO (libsumo or traci) and area.radius_m > 0 "
                          "(an FCD replay holds every vehicle already: its area is cut by the bridge)")
    if settings.participant.enabled and settings.backend == "fcd":
        raise ConfigError("sumo: participant.enabled needs live SUMO (libsumo or traci): an FCD replay "
                          "cannot react to the participant")
