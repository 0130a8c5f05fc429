"""What the recording's readers need to know of vehicles beyond the per-frame table: what each
handle is (SUMO id, type, class, size, colour: the id table, VEHICLE_IDS), for the few newest table
versions. A size or colour the source did not give (an FCD replay) falls back to typical figures by
class or type name (docs/recording.md, docs/safety.md)."""
from __future__ import annotations

from typing import Iterable, Mapping, NamedTuple

import numpy as np

from cosim import protocol as p
from cosim.errors import ProtocolError

Size = tuple[float, float, float]  # length, width, height in metres
Rgba = tuple[float, float, float, float]

# typical (length, width, height) in metres and RGBA, for sources that give neither
SHAPES: dict[str, tuple[Size, Rgba]] = {
    "pedestrian": ((0.3, 0.5, 1.7), (0.95, 0.45, 0.85, 1.0)),
    "passenger": ((4.5, 1.8, 1.5), (0.25, 0.55, 0.95, 1.0)),
    "bus": ((12.0, 2.5, 3.2), (0.95, 0.75, 0.15, 1.0)),
    "truck": ((9.0, 2.5, 3.4), (0.55, 0.55, 0.6, 1.0)),
    "delivery": ((6.5, 2.1, 2.6), (0.7, 0.5, 0.3, 1.0)),
    "motorcycle": ((2.2, 0.8, 1.5), (0.9, 0.3, 0.3, 1.0)),
    "bicycle": ((1.8, 0.6, 1.7), (0.3, 0.8, 0.4, 1.0)),
}
DEFAULT_SHAPE = SHAPES["passenger"]


def shape_of(name: str) -> tuple[Size, Rgba]:
    """Typical size and colour for a SUMO class or type name."""
    t = name.lower()
    return next((v for k, v in SHAPES.items() if k in t), DEFAULT_SHAPE)


class Info(NamedTuple):
    id: str
    type: str
    vclass: str
    size_m: Size
    rgba: Rgba

    @property
    def person(self) -> bool:
        return self.vclass == p.PERSON_CLASS


def unknown(handle: int) -> Info:
    size, rgba = DEFAULT_SHAPE
    return Info(f"#{handle}", "", "", size, rgba)


def infos(table: p.VehicleIdTable) -> dict[int, Info]:
    """Handle -> Info of an id table, typical figures where it has none."""
    out = {}
    sizes, colors = table.size_cm.astype(np.float64) / 100.0, table.color.astype(np.float64) / 255.0
    for i, (h, vid, vtype, vclass) in enumerate(zip(table.handles, table.ids, table.types, table.classes)):
        size, rgba = shape_of(vclass or vtype)
        if (sizes[i] > 0).all():
            size = (float(sizes[i, 0]), float(sizes[i, 1]), float(sizes[i, 2]))
        if colors[i, 3] > 0:
            rgba = (float(colors[i, 0]), float(colors[i, 1]), float(colors[i, 2]), float(colors[i, 3]))
        out[h] = Info(vid, vtype, vclass, size, rgba)
    return out


class VehicleNames:
    """What each handle is, per id table version (VEHICLE_IDS), for the few newest versions: a
    vehicle table names the version it uses."""

    KEEP = 4

    def __init__(self) -> None:
        self._tables: dict[int, dict[int, Info]] = {}

    def on_ids(self, msg: p.VehicleIds, arrays: Mapping[str, np.ndarray]) -> None:
        try:
            table = p.vehicle_id_table(msg, arrays)
        except ProtocolError:
            return  # recorded without its arrays (omit_payloads): the previous table stays
        self._tables[msg.ids_version] = infos(table)
        while len(self._tables) > self.KEEP:
            del self._tables[min(self._tables)]

    def get(self, version: int, handle: int) -> Info | None:
        return self._tables.get(version, {}).get(handle)

    def of(self, version: int, handles: Iterable[int]) -> list[Info]:
        """What each handle is; an unnamed one is ``#handle`` of no type, with typical figures."""
        table = self._tables.get(version, {})
        return [table.get(h) or unknown(h) for h in handles]
