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
    # handles, then ids and types as NUL-joined UTF-8: one string split on the bridge's side instead
    # of thousands of msgpack strings (the table comes whenever the vehicle set changes)
    table: tuple[list[int], bytes, bytes] | None = None
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


def encode(msg: _Msg) -> list[bytes]:
    return [_enc.encode(msg)]


def encode_segment(seg: Segment) -> list[bytes | memoryview]:
    table = (seg.table.handles, _join(seg.table.ids), _join(seg.table.types)) if seg.table is not None else None
    header = SegmentHeader(s_a=seg.s_a, s_b=seg.s_b, ids_version=seg.ids_version, step_ms=seg.step_ms,
                           step_cpu_ms=seg.step_cpu_ms, epoch=seg.epoch, terminal=seg.terminal, table=table,
                           events=[EventRec(e.kind, e.sim_ns, e.subject, e.data) for e in seg.events])
    frames = p.encode(b"", header, {name: getattr(seg, name) for name in ARRAY_FIELDS})
    return frames[1:]


def _join(names: list[str]) -> bytes:
    return "\0".join(names).encode()


def _split(raw: bytes, n: int, what: str) -> list[str]:
    try:
        names = raw.decode().split("\0") if n else []
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"segment from the stepping process: id table {what} are not UTF-8: {exc}") from None
    if len(names) != n:
        raise ProtocolError(f"segment from the stepping process: id table has {n} handles but {len(names)} {what}")
    return names


def _table(version: int, handles: list[int], ids: bytes, types: bytes) -> IdTable:
    return IdTable(version, handles, _split(ids, len(handles), "ids"), _split(types, len(handles), "types"))


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
    table = _table(msg.ids_version, *msg.table) if msg.table is not None else None
    events = [SimEvent(e.kind, e.sim_ns, e.subject, e.data) for e in msg.events]
    cols: dict[str, np.ndarray] = {k: arrays[k] for k in ARRAY_FIELDS}
    return Segment(s_a=msg.s_a, s_b=msg.s_b, ids_version=msg.ids_version, table=table, events=events,
                   step_ms=msg.step_ms, step_cpu_ms=msg.step_cpu_ms, epoch=msg.epoch, terminal=msg.terminal, **cols)
