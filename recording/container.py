"""The data of one MCAP message record: a MessagePack array ``[header, *payloads]``.

``header`` is the message's msgpack map exactly as it travels on the wire (the second zmq frame);
each payload is a msgpack ``bin`` holding one raw little-endian array frame, in the order the
header's ``arrays`` list describes them. A record therefore decodes with any msgpack library, and
``unpack`` gives back the wire frames byte for byte. When the recorder omits a topic's payloads
(``omit_payloads``) the array is ``[header]`` alone while the header still describes the arrays.
"""
from __future__ import annotations

import json
import struct
from typing import Any, Sequence, Union

import msgspec

from recording.errors import RecordingError
from cosim import protocol as p

MESSAGE_ENCODING = "msgpack"
SCHEMA_ENCODING = "jsonschema"

TOPIC_TYPES: dict[bytes, tuple[type[p.Message], ...]] = {
    p.TOPIC_TICK: (p.Tick,),
    p.TOPIC_SESSION: (p.Start, p.Status, p.ClientEvent, p.End),
    p.TOPIC_VEHICLES: (p.Vehicles,),
    p.TOPIC_VEHICLE_IDS: (p.VehicleIds,),
    p.TOPIC_TRAFFIC_LIGHTS: (p.TrafficLights,),
    p.TOPIC_AREA_VEHICLES: (p.Vehicles,),
    p.TOPIC_AREA_IDS: (p.VehicleIds,),
    p.TOPIC_EVENTS: (p.Event,),
    p.TOPIC_POSE: (p.Pose,),
    p.TOPIC_RESIDUALS: (p.Residuals,),
    p.TOPIC_ASSET: (p.Asset, p.ShAsset),
    p.TOPIC_SH: (p.ShFrame,),
    p.TOPIC_AUDIO: (p.AudioOnset,),
    p.TOPIC_FRAMES: (p.FrameReport,),
    p.TOPIC_REQUEST: (p.Request,),
}
BROADCAST_TOPICS = (p.TOPIC_TICK, p.TOPIC_SESSION)

_raw_list = msgspec.msgpack.Decoder(list[msgspec.Raw])
_bin = msgspec.msgpack.Decoder(bytes)


def _array_prefix(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def _bin_prefix(n: int) -> bytes:
    if n < 1 << 8:
        return b"\xc4" + bytes((n,))
    if n < 1 << 16:
        return b"\xc5" + struct.pack(">H", n)
    return b"\xc6" + struct.pack(">I", n)


def pack(header: bytes | memoryview, payloads: Sequence[bytes | memoryview] = ()) -> bytes:
    parts: list[bytes | memoryview] = [_array_prefix(1 + len(payloads)), header]
    for frame in payloads:
        parts += [_bin_prefix(len(frame)), frame]
    return b"".join(parts)


def unpack(data: bytes | memoryview) -> tuple[bytes, list[bytes]]:
    """``(header, payloads)`` of one record; RecordingError when it is not such an array."""
    try:
        items = _raw_list.decode(data)
        if not items:
            raise RecordingError("empty record: no header")
        return bytes(items[0]), [_bin.decode(item) for item in items[1:]]
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RecordingError(f"record is not a msgpack [header, *payloads] array: {exc}") from None


def _header_schema(topic: bytes) -> dict[str, Any]:
    """JSON Schema of the header(s) a topic carries (any bus message on an unknown topic)."""
    types = TOPIC_TYPES.get(topic) or tuple(p.BusMessage.__args__)
    return msgspec.json.schema(Union[types] if len(types) > 1 else types[0])  # type: ignore[valid-type]


def topic_schema(topic: bytes) -> tuple[str, bytes]:
    """(schema name, JSON Schema) documenting a channel's record layout and header fields."""
    header = _header_schema(topic)
    defs = header.pop("$defs", {})
    doc: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"cosim {topic.decode(errors='replace')}",
        "description": ("MessagePack array [header, *payloads]: header is the wire header map "
                        "(docs/protocol.md), each payload a bin of one raw little-endian array "
                        "described, in order, by header.arrays. See docs/recording.md."),
        "type": "array",
        "prefixItems": [header],
        "items": {"description": "raw array payload (msgpack bin)"},
        "$defs": defs,
    }
    return "cosim." + topic.decode(errors="replace"), json.dumps(doc).encode()
