"""The private channel between the bridge and its stepping process (a ZeroMQ PAIR over loopback).
Same framing as the bus (MessagePack header + raw little-endian arrays, no pickle), own types."""
from __future__ import annotations

from typing import Any, Union

import msgspec
import numpy as np

from bridges.sumo.events import SimEvent
from bridges.sumo.segment import ARRAY_FIELDS, IdTable, LightTable, Segment
from cosim import protocol as p
from cosim.errors import ProtocolError


class _Msg(msgspec.Struct, tag_field="type", kw_only=True, forbid_unknown_fields=True):
    pass


class Hello(_Msg, tag="hello"):
    first_ns: int
    step_ns: int
    info: dict[str, Any]


class Failed(_Msg, tag="failed"):
    reason: str


class EventRec(msgspec.Struct, array_like=True):
    kind: str
    sim_ns: int
    subject: str
    data: dict[str, Union[bool, int, float, str]]


class SegmentHeader(_Msg, tag="segment"):
    s_a: int
    s_b: int
    ids_version: int
    step_ms: float
    step_cpu_ms: float
    sumo_step_ms: float
    sumo_step_cpu_ms: float
    epoch: int
    terminal: bool
    lights_version: int = 0
    lights_sim_ns: int | None = None  # with the lights' arrays: the time of the state they show
    events: list[EventRec] = []
    arrays: list[p.ArraySpec] = []


class Horizon(_Msg, tag="horizon"):
    sim_ns: int


class Seek(_Msg, tag="seek"):
    sim_ns: int
    epoch: int


class Stop(_Msg, tag="stop"):
    pass


class Place(_Msg, tag="place"):
    """Where the participant is now: net metres and heading (degrees clockwise from north)."""

    x: float
    y: float
    heading_deg: float


ToBridge = Union[Hello, Failed, SegmentHeader]
ToWorker = Union[Horizon, Seek, Stop, Place]
_to_bridge = msgspec.msgpack.Decoder(ToBridge)
_to_worker = msgspec.msgpack.Decoder(ToWorker)
_enc = msgspec.msgpack.Encoder()
TABLE_PREFIX = "table."  # pipe names of the id table's arrays: table.handles, table.ids, ...
LIGHTS_PREFIX = "lights."  # and of the traffic lights' arrays


def encode(msg: _Msg) -> list[bytes]:
    return [_enc.encode(msg)]


def encode_segment(seg: Segment) -> list[bytes | memoryview]:
    """One header and the segment's arrays; when the vehicle set changed, also the id table's arrays,
    exactly the VEHICLE_IDS payload the bridge will publish (built once, in this process)."""
    header = SegmentHeader(s_a=seg.s_a, s_b=seg.s_b, ids_version=seg.ids_version, step_ms=seg.step_ms,
                           step_cpu_ms=seg.step_cpu_ms, sumo_step_ms=seg.sumo_step_ms,
                           sumo_step_cpu_ms=seg.sumo_step_cpu_ms, epoch=seg.epoch, terminal=seg.terminal,
                           lights_version=seg.lights_version,
                           lights_sim_ns=seg.lights.sim_ns if seg.lights is not None else None,
                           events=[EventRec(e.kind, e.sim_ns, e.subject, e.data) for e in seg.events])
    arrays = {name: getattr(seg, name) for name in ARRAY_FIELDS}
    if seg.table is not None:
        arrays.update((TABLE_PREFIX + name, a) for name, a in seg.table.arrays.items())
    if seg.lights is not None:
        arrays.update((LIGHTS_PREFIX + name, a) for name, a in seg.lights.arrays.items())
    return p.encode_body(header, arrays)


def _table(version: int, n: int, arrays: dict[str, np.ndarray]) -> IdTable | None:
    """The id table of a segment with ``n`` vehicles, if it carries one. Its arrays are checked for
    their names, dtypes and lengths (whole arrays, not name by name): the bus's decoders check the
    names themselves, and the bridge forwards the arrays as they are."""
    table = {k[len(TABLE_PREFIX):]: a for k, a in arrays.items() if k.startswith(TABLE_PREFIX)}
    if not table:
        return None
    try:
        handles = p.check_vehicle_id_arrays(table, names=False)
    except ProtocolError as exc:
        raise ProtocolError(f"segment from the stepping process: id table: {exc}") from None
    if len(handles) != n:
        raise ProtocolError(f"segment from the stepping process: id table of {len(handles)} vehicles for {n}")
    return IdTable(version, table)


def _lights(msg: SegmentHeader, arrays: dict[str, np.ndarray]) -> LightTable | None:
    lights = {k[len(LIGHTS_PREFIX):]: a for k, a in arrays.items() if k.startswith(LIGHTS_PREFIX)}
    if not lights:
        return None
    try:
        p.check_traffic_light_arrays(lights)
    except ProtocolError as exc:
        raise ProtocolError(f"segment from the stepping process: traffic lights: {exc}") from None
    return LightTable(msg.lights_version, msg.s_a if msg.lights_sim_ns is None else msg.lights_sim_ns, lights)


def decode_to_worker(frames: list[bytes]) -> Horizon | Seek | Stop:
    try:
        return _to_worker.decode(frames[0])
    except (msgspec.DecodeError, msgspec.ValidationError, IndexError) as exc:
        raise ProtocolError(f"bad command from the bridge: {exc}") from None


def decode_to_bridge(frames: list[Any]) -> Hello | Failed | Segment:
    try:
        msg = _to_bridge.decode(frames[0])
    except (msgspec.DecodeError, msgspec.ValidationError, IndexError) as exc:
        raise ProtocolError(f"bad message from the SUMO stepping process: {exc}") from None
    if not isinstance(msg, SegmentHeader):
        return msg
    arrays = p.decode_arrays(msg, frames[1:])
    missing = set(ARRAY_FIELDS) - set(arrays)
    if missing:
        raise ProtocolError(f"segment from the stepping process lacks arrays {sorted(missing)}")
    handles, pos_coef, lin, signals = arrays["handles"], arrays["pos_coef"], arrays["lin"], arrays["signals"]
    n = len(handles)
    if handles.shape != (n,) or pos_coef.shape != (4, n, 3) or lin.shape != (2, 3, n) or signals.shape != (n,) \
            or handles.dtype != np.uint32 or pos_coef.dtype != np.float64 or lin.dtype != np.float64 \
            or signals.dtype.str != "<u2":
        raise ProtocolError(f"segment from the stepping process: arrays of shapes {handles.shape}, {pos_coef.shape}, "
                            f"{lin.shape}, {signals.shape} do not describe {n} vehicles")
    table = _table(msg.ids_version, n, arrays)
    events = [SimEvent(e.kind, e.sim_ns, e.subject, e.data) for e in msg.events]
    return Segment(s_a=msg.s_a, s_b=msg.s_b, handles=handles, pos_coef=pos_coef, lin=lin, ids_version=msg.ids_version,
                   signals=signals, table=table, lights_version=msg.lights_version, lights=_lights(msg, arrays), events=events,
                   sumo_step_ms=msg.sumo_step_ms, sumo_step_cpu_ms=msg.sumo_step_cpu_ms, step_ms=msg.step_ms, step_cpu_ms=msg.step_cpu_ms, epoch=msg.epoch,
                   terminal=msg.terminal)
