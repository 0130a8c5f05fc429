"""The wire protocol: one envelope, a small set of typed messages, one decoder per direction.

A message is a ZeroMQ multipart ``[topic, header, *payload]``. The header is a MessagePack map
whose first key is ``type``; every header carries ``v`` (protocol version), ``frame``, ``t_ns``
(int64 session time) and ``src``. Bulk arrays travel as raw little-endian payload frames, each
described by an entry of the header's ``arrays`` list (name, dtype, shape), in payload order.

docs/protocol.md is the human specification of this module; tests/golden/ holds byte vectors
generated from it (``python -m syncserver.golden``) that the Python and C++ sides both check.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Mapping, Sequence, Union

import msgspec
import numpy as np

from syncserver.errors import ProtocolError

PROTOCOL_VERSION = 1

MAX_HEADER_BYTES = 64 * 1024
MAX_PAYLOAD_FRAMES = 16
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_ARRAY_DIMS = 4

# Topics (first frame). Subscribers filter by prefix.
TOPIC_CONTROL = b"ctl"
TOPIC_TICK = b"tick"
TOPIC_SESSION = b"session"
TOPIC_VEHICLES = b"sumo.vehicles"
TOPIC_VEHICLE_IDS = b"sumo.ids"
TOPIC_EVENTS = b"events"
TOPIC_POSE = b"pose"
TOPIC_RESIDUALS = b"refine.residuals"
TOPIC_AUDIO = b"audio.onsets"
TOPIC_FRAMES = b"client.frames"
TOPIC_REQUEST = b"request"

ALLOWED_DTYPES = frozenset(
    {"|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f2", "<f4", "<f8"}
)

Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
UInt32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
Frame = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Name = Annotated[str, msgspec.Meta(max_length=128)]
Text = Annotated[str, msgspec.Meta(max_length=4096)]
Scalar = Union[bool, int, float, str]
Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]


class ArraySpec(msgspec.Struct, forbid_unknown_fields=True):
    """Describes one raw payload frame: name, numpy dtype string (little-endian), shape."""

    name: Name
    dtype: Annotated[str, msgspec.Meta(max_length=8)]
    shape: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=2**31)]],
                     msgspec.Meta(max_length=MAX_ARRAY_DIMS)]


class Message(msgspec.Struct, tag_field="type", kw_only=True, forbid_unknown_fields=True):
    """Fields common to every header."""

    v: int = PROTOCOL_VERSION
    frame: Frame = 0
    t_ns: Int64 = 0
    src: Name = ""


# --- control, client -> server (DEALER -> ROUTER) -------------------------------------------

class Hello(Message, tag="HELLO", kw_only=True):
    name: Name
    role: Name = "component"
    required: bool = False
    host: Name = ""
    pid: int = 0


class Ready(Message, tag="READY", kw_only=True):
    pass


class Ack(Message, tag="ACK", kw_only=True):
    """Acknowledges tick ``frame``. Times are the client's estimates of session time."""

    recv_ns: Int64
    done_ns: Int64
    present_ns: Int64 | None = None
    photon_ns: Int64 | None = None


class Probe(Message, tag="PROBE", kw_only=True):
    seq: UInt32
    t0: Int64  # client local clock at send


class Heartbeat(Message, tag="HEARTBEAT", kw_only=True):
    offset_ns: Int64 | None = None  # latest estimate of master - local (monotonic domains)
    rtt_ns: Int64 | None = None
    offset_error_ns: Int64 | None = None  # estimate minus true offset, when the truth is known


class Bye(Message, tag="BYE", kw_only=True):
    reason: Text = ""


# --- control, server -> client (ROUTER -> DEALER) -------------------------------------------

class Welcome(Message, tag="WELCOME", kw_only=True):
    """Accepts a HELLO. ``frame`` is the current frame; ``epoch_ns`` is None before START."""

    session_id: Name
    host: Name
    mode: Literal["realtime", "lockstep"]
    rate_hz: float
    pace: float
    duration_s: float
    epoch_ns: Int64 | None
    heartbeat_interval_s: float
    heartbeat_timeout_s: float
    probe_interval_s: float
    probe_burst: int


class Reject(Message, tag="REJECT", kw_only=True):
    reason: Text


class ProbeReply(Message, tag="PROBE_REPLY", kw_only=True):
    seq: UInt32
    t0: Int64  # echoed client send time
    t1: Int64  # master monotonic at receive
    t2: Int64  # master monotonic at reply


class Error(Message, tag="ERROR", kw_only=True):
    """Sent back when a control message was rejected; the session goes on."""

    reason: Text


# --- broadcast on the tick socket (PUB) -----------------------------------------------------

class Tick(Message, tag="TICK", kw_only=True):
    """Frame ``frame`` at session time ``t_ns`` (scheduled); ``sent_ns`` is the actual emission."""

    sent_ns: Int64
    dt_ns: Int64
    epoch_ns: Int64


class Start(Message, tag="START", kw_only=True):
    session_id: Name
    epoch_ns: Int64
    mode: Literal["realtime", "lockstep"]
    rate_hz: float


class End(Message, tag="END", kw_only=True):
    reason: Text
    frames: Frame


class ClientStatus(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    ready: bool
    required: bool
    connected: bool
    frames_behind: int
    acks: int
    offset_us: float | None


class Status(Message, tag="STATUS", kw_only=True):
    started: bool
    frames: Frame
    fps: float
    late: int
    lateness_p99_us: float | None
    clients: Annotated[list[ClientStatus], msgspec.Meta(max_length=1024)]


class ClientEvent(Message, tag="CLIENT", kw_only=True):
    name: Name
    event: Literal["joined", "ready", "left", "dropped", "rejected"]
    reason: Text = ""


# --- data bus (PUB -> XSUB | XPUB -> SUB) ---------------------------------------------------

class Vehicles(Message, tag="VEHICLES", kw_only=True):
    """Per-frame vehicle table; columns are payload arrays (Unreal units, see docs)."""

    sim_ns: Int64
    ids_version: UInt32
    arrays: Annotated[list[ArraySpec], msgspec.Meta(max_length=MAX_PAYLOAD_FRAMES)] = []


class VehicleIds(Message, tag="VEHICLE_IDS", kw_only=True):
    """Handle -> (SUMO id, vehicle type); re-sent when it changes and on request."""

    ids_version: UInt32
    handles: list[UInt32]
    ids: list[Name]
    types: list[Name]


class Event(Message, tag="EVENT", kw_only=True):
    """A timestamped simulation or test event (depart, arrive, collision, click, ...)."""

    kind: Name
    sim_ns: Int64 | None = None
    subject: Name = ""
    data: dict[Name, Scalar] = {}


class Pose(Message, tag="POSE", kw_only=True):
    """One tracked device sample; position in metres, orientation as a unit quaternion (w,x,y,z)
    in the tracking space (OpenVR standing: right-handed, +Y up, -Z forward)."""

    device: Name
    device_class: Name = ""
    serial: Name = ""
    sample_ns: Int64
    photon_ns: Int64 | None = None
    position: Vec3
    orientation: Quat
    velocity: Vec3 = (0.0, 0.0, 0.0)
    angular_velocity: Vec3 = (0.0, 0.0, 0.0)


class Residuals(Message, tag="RESIDUALS", kw_only=True):
    """Per-vertex residual offsets (float16, shape (n, 3)) refining base frame ``base_frame``."""

    asset: Name
    base_frame: Frame
    arrays: Annotated[list[ArraySpec], msgspec.Meta(max_length=MAX_PAYLOAD_FRAMES)] = []


class AudioOnset(Message, tag="AUDIO_ONSET", kw_only=True):
    event_kind: Name
    scheduled_ns: Int64
    actual_ns: Int64
    late: bool = False


class FrameReport(Message, tag="FRAME_REPORT", kw_only=True):
    """What a client displayed for frame ``frame``: times and which inputs it used."""

    recv_ns: Int64
    present_ns: Int64
    photon_ns: Int64
    pose_sample_ns: Int64 | None = None
    residual_frame: Frame | None = None
    data: dict[Name, Scalar] = {}


class Request(Message, tag="REQUEST", kw_only=True):
    """Asks producers on the bus to re-send state (e.g. ``what='sumo.ids'`` for a late joiner)."""

    what: Name


ControlRequest = Union[Hello, Ready, Ack, Probe, Heartbeat, Bye]
ControlReply = Union[Welcome, Reject, ProbeReply, Error]
Broadcast = Union[Tick, Start, End, Status, ClientEvent]
BusMessage = Union[Vehicles, VehicleIds, Event, Pose, Residuals, AudioOnset, FrameReport, Request]

ALL_MESSAGE_TYPES: tuple[type[Message], ...] = (
    Hello, Ready, Ack, Probe, Heartbeat, Bye, Welcome, Reject, ProbeReply, Error,
    Tick, Start, End, Status, ClientEvent,
    Vehicles, VehicleIds, Event, Pose, Residuals, AudioOnset, FrameReport, Request,
)


class _Envelope(msgspec.Struct):
    """Lenient view of a header, used only to explain why a strict decode failed."""

    v: Any = None
    type: Any = None


_encoder = msgspec.msgpack.Encoder()
_envelope_decoder = msgspec.msgpack.Decoder(_Envelope)


def _le_array(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.byteorder == ">" or (array.dtype.byteorder == "=" and np.little_endian is False):
        array = array.astype(array.dtype.newbyteorder("<"))
    return np.ascontiguousarray(array)


def encode(topic: bytes, msg: Message,
           arrays: Mapping[str, np.ndarray] | None = None) -> list[bytes | memoryview]:
    """Encode ``msg`` (and its bulk arrays, in order) into multipart frames."""
    payload: list[memoryview] = []
    if arrays:
        if not hasattr(msg, "arrays"):
            raise ProtocolError(f"{type(msg).__name__} does not carry arrays")
        specs = []
        for name, array in arrays.items():
            array = _le_array(array)
            if array.dtype.str not in ALLOWED_DTYPES:
                raise ProtocolError(f"array {name!r}: dtype {array.dtype.str} is not allowed")
            specs.append(ArraySpec(name=name, dtype=array.dtype.str, shape=list(array.shape)))
            payload.append(memoryview(array).cast("B") if array.size else memoryview(b""))  # cast() rejects empty shapes
        msg.arrays = specs
    return [topic, _encoder.encode(msg), *payload]


class Decoder:
    """Strict decoder for one direction of traffic. Raises ProtocolError on any bad input."""

    def __init__(self, union: Any, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._decoder = msgspec.msgpack.Decoder(union)
        self._max_message_bytes = max_message_bytes

    def decode(self, frames: Sequence[bytes | memoryview]) -> tuple[bytes, Message, dict[str, np.ndarray]]:
        """Return ``(topic, message, arrays)``; arrays are read-only views of the payload."""
        if len(frames) < 2:
            raise ProtocolError(f"truncated message: {len(frames)} frame(s), need topic and header")
        if len(frames) > 2 + MAX_PAYLOAD_FRAMES:
            raise ProtocolError(f"oversized message: {len(frames)} frames (max {2 + MAX_PAYLOAD_FRAMES})")
        total = sum(len(f) for f in frames)
        if total > self._max_message_bytes:
            raise ProtocolError(f"oversized message: {total} bytes (max {self._max_message_bytes})")
        topic, header = bytes(frames[0]), frames[1]
        if len(header) > MAX_HEADER_BYTES:
            raise ProtocolError(f"oversized header: {len(header)} bytes (max {MAX_HEADER_BYTES})")
        try:
            msg = self._decoder.decode(header)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProtocolError(self._explain(header, exc)) from None
        if msg.v != PROTOCOL_VERSION:
            raise ProtocolError(f"unsupported protocol version {msg.v!r} (this side speaks {PROTOCOL_VERSION})")
        arrays = decode_arrays(msg, frames[2:])
        return topic, msg, arrays

    @staticmethod
    def _explain(header: bytes | memoryview, exc: Exception) -> str:
        try:
            env = _envelope_decoder.decode(header)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return f"malformed header: {exc}"
        if env.v is not None and env.v != PROTOCOL_VERSION:
            return f"unsupported protocol version {env.v!r} (this side speaks {PROTOCOL_VERSION})"
        if isinstance(exc, msgspec.ValidationError) and "`$.type`" in str(exc):
            return f"unknown or unexpected message type {env.type!r} on this channel"
        return f"invalid {env.type!r} message: {exc}"


def decode_arrays(msg: Message, payload: Sequence[bytes | memoryview]) -> dict[str, np.ndarray]:
    """The payload frames described by ``msg.arrays``, checked and viewed as read-only arrays."""
    specs: list[ArraySpec] = getattr(msg, "arrays", [])
    if len(specs) != len(payload):
        raise ProtocolError(
            f"{type(msg).__name__}: header describes {len(specs)} array(s) but {len(payload)} payload frame(s) follow")
    out: dict[str, np.ndarray] = {}
    for spec, frame in zip(specs, payload):
        if spec.dtype not in ALLOWED_DTYPES:
            raise ProtocolError(f"array {spec.name!r}: dtype {spec.dtype!r} is not allowed")
        dtype = np.dtype(spec.dtype)
        expected = math.prod(spec.shape) * dtype.itemsize
        if len(frame) != expected:
            raise ProtocolError(
                f"array {spec.name!r}: {len(frame)} bytes for shape {spec.shape} of {spec.dtype} "
                f"(expected {expected}; truncated or corrupt)")
        if spec.name in out:
            raise ProtocolError(f"array {spec.name!r} appears twice")
        out[spec.name] = np.frombuffer(frame, dtype=dtype).reshape(spec.shape)
    return out


def control_request_decoder() -> Decoder:
    """What the syncserver's ROUTER receives."""
    return Decoder(ControlRequest, max_message_bytes=MAX_HEADER_BYTES + 1024)


def control_reply_decoder() -> Decoder:
    """What a client's DEALER receives."""
    return Decoder(ControlReply, max_message_bytes=MAX_HEADER_BYTES + 1024)


def broadcast_decoder() -> Decoder:
    """What subscribers of the tick socket receive."""
    return Decoder(Broadcast)


def bus_decoder() -> Decoder:
    """What subscribers of the data bus receive."""
    return Decoder(BusMessage)
