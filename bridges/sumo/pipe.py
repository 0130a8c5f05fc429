"""The private channel between the bridge and its stepping process (a ZeroMQ PAIR over loopback).
Same framing as the bus (MessagePack header + raw little-endian arrays, no pickle), own types."""
from __future__ import annotations

from typing import Any, Union

import msgspec
import numpy as np

from bridges.sumo.events import SimEvent
from bridges.sumo.segment import ARRAY_FIELDS, IdTable, Segment
from syncserver import protocol as p
from syncserver.errors import ProtocolError


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
    epoch: int
    terminal: bool
    # the id table's handles, ids and types, each already MessagePack-encoded as the VEHICLE_IDS
    # header carries it (names clipped to the wire's limit): the bridge forwards them as they are
    # instead of decoding thousands of strings and encoding them again (the table comes whenever the
    # vehicle set changes, i.e. nearly every step of a busy scenario)
    table: tuple[bytes, bytes, bytes] | None = None
    events: list[EventRec] = []
    arrays: list[p.ArraySpec] = []


class Horizon(_Msg, tag="horizon"):
    sim_ns: int


class Seek(_Msg, tag="seek"):
    sim_ns: int
    epoch: int


class Stop(_Msg, tag="stop"):
    pass


ToBridge = Union[Hello, Failed, SegmentHeader]
ToWorker = Union[Horizon, Seek, Stop]
_to_bridge = msgspec.msgpack.Decoder(ToBridge)
_to_worker = msgspec.msgpack.Decoder(ToWorker)
_enc = msgspec.msgpack.Encoder()
NAME_LIMIT = 128  # characters of a name on the wire (protocol.Name)


def encode(msg: _Msg) -> list[bytes]:
    return [_enc.encode(msg)]


def encode_segment(seg: Segment) -> list[bytes | memoryview]:
    table = None
    if seg.table is not None:
        t = seg.table
        table = (_raw(t.handles), _raw(clip_names(t.ids)), _raw(clip_names(t.types)))
    header = SegmentHeader(s_a=seg.s_a, s_b=seg.s_b, ids_version=seg.ids_version, step_ms=seg.step_ms,
                           step_cpu_ms=seg.step_cpu_ms, epoch=seg.epoch, terminal=seg.terminal, table=table,
                           events=[EventRec(e.kind, e.sim_ns, e.subject, e.data) for e in seg.events])
    frames = p.encode(b"", header, {name: getattr(seg, name) for name in ARRAY_FIELDS})
    return frames[1:]


def clip_names(names: list[str] | msgspec.Raw, limit: int = NAME_LIMIT) -> list[str] | msgspec.Raw:
    """Names as the wire allows them (at most ``limit`` characters)."""
    if isinstance(names, msgspec.Raw) or max(map(len, names), default=0) <= limit:
        return names
    return [n[:limit] for n in names]


def _raw(column: list | msgspec.Raw) -> bytes:
    return bytes(column) if isinstance(column, msgspec.Raw) else _enc.encode(column)


def _array_len(raw: bytes) -> int | None:
    """Element count of a MessagePack array (its header only), None if ``raw`` is not one."""
    if not raw:
        return None
    tag = raw[0]
    if 0x90 <= tag <= 0x9F:
        return tag & 0x0F
    if tag == 0xDC and len(raw) >= 3:
        return int.from_bytes(raw[1:3], "big")
    if tag == 0xDD and len(raw) >= 5:
        return int.from_bytes(raw[1:5], "big")
    return None


def _table(version: int, n: int, handles: bytes, ids: bytes, types: bytes) -> IdTable:
    """The id table of a segment with ``n`` vehicles, its columns kept encoded. Only their element
    counts are checked here: the bus's decoders check everything they receive."""
    for what, raw in (("handles", handles), ("ids", ids), ("types", types)):
        if _array_len(raw) != n:
            raise ProtocolError(f"segment from the stepping process: id table {what} is not a list of its {n} vehicles")
    return IdTable(version, msgspec.Raw(handles), msgspec.Raw(ids), msgspec.Raw(types))


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
    handles, pos_coef, lin = arrays["handles"], arrays["pos_coef"], arrays["lin"]
    n = len(handles)
    if handles.shape != (n,) or pos_coef.shape != (4, n, 3) or lin.shape != (2, 3, n) \
            or handles.dtype != np.uint32 or pos_coef.dtype != np.float64 or lin.dtype != np.float64:
        raise ProtocolError(f"segment from the stepping process: arrays of shapes {handles.shape}, {pos_coef.shape}, "
                            f"{lin.shape} do not describe {n} vehicles")
    table = _table(msg.ids_version, n, *msg.table) if msg.table is not None else None
    events = [SimEvent(e.kind, e.sim_ns, e.subject, e.data) for e in msg.events]
    return Segment(s_a=msg.s_a, s_b=msg.s_b, handles=handles, pos_coef=pos_coef, lin=lin, ids_version=msg.ids_version,
                   table=table, events=events, step_ms=msg.step_ms, step_cpu_ms=msg.step_cpu_ms, epoch=msg.epoch,
                   terminal=msg.terminal)
