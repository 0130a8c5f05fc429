"""Runs the real bridge core (stepping process + per-frame bridge) without a syncserver."""
from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np

from bridges.sumo.bridge import SumoBridge
from bridges.sumo.config import Settings
from bridges.sumo.stepper import Stepper
from cosim import protocol as p
from cosim.frameclock import FrameClock

DT_NS = round(1e9 / 90)
REPO = Path(__file__).resolve().parents[3]


@dataclass
class IdsTable:
    """A received VEHICLE_IDS, read (protocol.vehicle_id_table)."""

    ids_version: int
    handles: list[int]
    ids: list[str]
    types: list[str]
    classes: list[str]
    size_cm: np.ndarray
    color: np.ndarray


@dataclass
class Capture:
    frames: list[tuple[int, int, dict[str, np.ndarray]]] = field(default_factory=list)  # frame, sim_ns, table
    vehicle_msgs: list[p.Vehicles] = field(default_factory=list)
    area: list[tuple[p.Message, dict[str, np.ndarray]]] = field(default_factory=list)  # area.vehicles and area.ids
    ids: list[IdsTable] = field(default_factory=list)
    events: list[p.Event] = field(default_factory=list)
    lights: list[tuple[p.TrafficLights, dict[str, str]]] = field(default_factory=list)
    table_mismatches: int = 0  # frames whose handles are not exactly the id table in force
    decoder: p.Decoder = field(default_factory=p.bus_decoder)

    def __call__(self, topic: bytes, msg: p.Message, arrays: dict | None = None) -> None:
        # what a subscriber gets: everything published must encode and decode
        _, msg, arrays = self.decoder.decode([bytes(f) for f in p.encode(topic, msg, arrays)])
        if topic in (p.TOPIC_AREA_VEHICLES, p.TOPIC_AREA_IDS):
            self.area.append((msg, {k: np.array(v) for k, v in arrays.items()}))
        elif isinstance(msg, p.Vehicles):
            self.frames.append((msg.frame, msg.sim_ns, {k: np.array(v) for k, v in arrays.items()}))
            self.vehicle_msgs.append(msg)
            table = self.ids[-1] if self.ids else None
            if table is None or table.ids_version != msg.ids_version or table.handles != arrays["handle"].tolist():
                self.table_mismatches += 1
        elif isinstance(msg, p.VehicleIds):
            self.ids.append(IdsTable(msg.ids_version, *p.vehicle_id_table(msg, arrays)))
        elif isinstance(msg, p.Event):
            self.events.append(msg)
        elif isinstance(msg, p.TrafficLights):
            self.lights.append((msg, p.traffic_light_table(msg, arrays)))


def run_bridge(frames: int, lockstep: bool = True, **settings: object) -> tuple[Capture, dict]:
    s = msgspec.convert(settings, Settings)
    cap = Capture()
    stepper = Stepper(s)
    try:
        stepper.start(60)
        clock = FrameClock(90, "lockstep" if lockstep else "realtime")
        bridge = SumoBridge(s, stepper, cap, lambda: 0, clock)
        for k in range(frames):
            t = clock.t_ns(k)
            bridge.on_tick(p.Tick(frame=k, t_ns=t, sent_ns=t, dt_ns=clock.dt_ns, epoch_ns=0))
        section = bridge.section()
    finally:
        stepper.close()
    return cap, section


def at_step_times(cap):
    """Frames whose sim time is (within 1 ns per frame of rounding) a SUMO step time."""
    return {f: t for f, s, t in cap.frames if f % 9 == 0}


def sumo_fcd(path: Path) -> dict[int, dict[tuple[str, str], dict[str, float]]]:
    """sim ns -> (tag, id) -> attributes, from SUMO's own FCD output."""
    out = {}
    for step in ET.parse(path).getroot():
        out[round(float(step.get("time")) * 1e9)] = {
            (el.tag, el.get("id")): {k: float(v) for k, v in el.attrib.items() if k in ("x", "y", "signals")}
            for el in step}
    return out


def crossing_with_walkers(d: Path) -> Path:
    """The bundled crossing, copied into ``d``, with walkers crossing the street on the zebra in front
    of the cars; returns its .sumocfg."""
    for f in (REPO / "scenarios" / "crossing").iterdir():
        shutil.copy(f, d)
    (d / "persons.rou.xml").write_text(
        '<routes><personFlow id="walkers" begin="0" end="60" period="5"><walk from="SC" to="CW"/></personFlow></routes>')
    cfg = d / "crossing.sumocfg"
    cfg.write_text(cfg.read_text().replace('value="routes.rou.xml"', 'value="routes.rou.xml,persons.rou.xml"'))
    return cfg
