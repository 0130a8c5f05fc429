"""What the recording's readers need to know of vehicles beyond the wire table: sizes and colours by
SUMO vehicle class or type name (the wire carries neither yet, so these are typical figures;
docs/recording.md, docs/safety.md), and the names of the handles from the id tables."""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from cosim import protocol as p
from cosim.errors import ProtocolError

# (length, width, height) in metres and RGBA
SHAPES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float, float]]] = {
    "passenger": ((4.5, 1.8, 1.5), (0.25, 0.55, 0.95, 1.0)),
    "bus": ((12.0, 2.5, 3.2), (0.95, 0.75, 0.15, 1.0)),
    "truck": ((9.0, 2.5, 3.4), (0.55, 0.55, 0.6, 1.0)),
    "delivery": ((6.5, 2.1, 2.6), (0.7, 0.5, 0.3, 1.0)),
    "motorcycle": ((2.2, 0.8, 1.5), (0.9, 0.3, 0.3, 1.0)),
    "bicycle": ((1.8, 0.6, 1.7), (0.3, 0.8, 0.4, 1.0)),
}
DEFAULT_SHAPE = SHAPES["passenger"]


def shape_of(vtype: str) -> tuple[tuple[float, float, float], tuple[float, float, float, float]]:
    t = vtype.lower()
    return next((v for k, v in SHAPES.items() if k in t), DEFAULT_SHAPE)


class VehicleNames:
    """The SUMO id and type of each vehicle handle, per id table version (VEHICLE_IDS), for the few
    newest versions: a vehicle table names the version it uses."""

    KEEP = 4

    def __init__(self) -> None:
        self._tables: dict[int, dict[int, tuple[str, str]]] = {}

    def on_ids(self, msg: p.VehicleIds, arrays: Mapping[str, np.ndarray]) -> None:
        try:
            handles, ids, types = p.vehicle_id_table(msg, arrays)
        except ProtocolError:
            return  # recorded without its arrays (omit_payloads): the previous table stays
        self._tables[msg.ids_version] = dict(zip(handles, zip(ids, types)))
        while len(self._tables) > self.KEEP:
            del self._tables[min(self._tables)]

    def get(self, version: int, handle: int) -> tuple[str, str] | None:
        return self._tables.get(version, {}).get(handle)

    def of(self, version: int, handles: Iterable[int]) -> list[tuple[str, str]]:
        """(id, type) of each handle; an unnamed one is ``#handle`` of no type."""
        table = self._tables.get(version, {})
        return [table.get(h, (f"#{h}", "")) for h in handles]
