"""The wire protocol: one envelope, a small set of typed messages, one decoder per direction.

A message is a ZeroMQ multipart ``[topic, header, *payload]``. The header is a MessagePack map
whose first key is ``type``; every header carries ``v`` (protocol version), ``frame``, ``t_ns``
(int64 session time) and ``src``. Bulk arrays travel as raw little-endian payload frames, each
described by an entry of the header's ``arrays`` list (name, dtype, shape), in payload order;
names (the vehicle id table) travel the same way, as fixed-width UTF-8 byte strings (``|S<w>``).

docs/protocol.md is the human specification of this module; tests/golden/ holds byte vectors
generated from it (``python -m cosim.golden``) that the Python and C++ sides both check.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Mapping, NamedTuple, Sequence, Union

import msgspec
import numpy as np

from cosim.errors import ProtocolError

PROTOCOL_VERSION = 5

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
TOPIC_TRAFFIC_LIGHTS = b"sumo.tls"
TOPIC_AREA_VEHICLES = b"area.vehicles"  # VEHICLES of the area of interest only (bridges.sumo.area)
TOPIC_AREA_IDS = b"area.ids"  # and their VEHICLE_IDS
TOPIC_EVENTS = b"events"
TOPIC_OPENVR = TOPIC_EVENTS + b".openvr"  # OpenVR display/frame timing events (prefix subscribers of events get them)
TOPIC_PHOTODIODE = TOPIC_EVENTS + b".photodiode"  # EVENT photon: a photodiode saw a flash (bridges.photodiode)
TOPIC_PHOTONS = TOPIC_EVENTS + b".photons"  # EVENT photon.frame: a client matched one to its flash frame
TOPIC_POSE = b"pose"
TOPIC_RESIDUALS = b"refine.residuals"
TOPIC_ASSET = b"refine.asset"
TOPIC_SH = b"refine.sh"  # SH_FRAME: a closed asset's spherical-harmonic coefficients per frame
TOPIC_AUDIO = b"audio.onsets"
TOPIC_FRAMES = b"client.frames"
TOPIC_REQUEST = b"request"

NUMERIC_DTYPES = frozenset(
    {"|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f2", "<f4", "<f8"}
)
MAX_STRING_BYTES = 512  # widest fixed-width byte string dtype, |S512
# every allowed dtype: the numeric ones and fixed-width byte strings |S1 .. |S512 (UTF-8, NUL-padded)
ALLOWED_DTYPES = NUMERIC_DTYPES | frozenset(f"|S{w}" for w in range(1, MAX_STRING_BYTES + 1))
NAME_LIMIT = 128  # characters of a name (Name below; the names of a VEHICLE_IDS table)

Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
UInt32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
Frame = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Name = Annotated[str, msgspec.Meta(max_length=NAME_LIMIT)]
SH_MAX_DEGREE = 48  # SH assets: (degree+1)^2 coefficients per coordinate, at most 2,401
Text = Annotated[str, msgspec.Meta(max_length=4096)]
Scalar = Union[bool, int, float, str]
Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
MAX_DIRECT_STREAMS = 16


class ArraySpec(msgspec.Struct, forbid_unknown_fields=True):
    """Describes one raw payload frame: name, numpy dtype string (little-endian), shape."""

    name: Name
    dtype: Annotated[str, msgspec.Meta(max_length=8)]
    shape: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=2**31)]],
                     msgspec.Meta(max_length=MAX_ARRAY_DIMS)]


class Message(msgspec.Struct, tag_field="type", kw_only=True, forbid_unknown_fields=True):
    """Fields common to every header. ``v`` is required on the wire: 0 stands for "not set", and
    :func:`encode` writes PROTOCOL_VERSION into a message that has none."""

    v: int = 0
    frame: Frame = 0
    t_ns: Int64 = 0
    src: Name = ""


class DirectStream(msgspec.Struct, forbid_unknown_fields=True):
    """A bus topic that its producer also publishes on a PUB socket of its own: a subscriber of
    exactly ``topic`` on host ``host`` connects to ``endpoint`` instead of taking it through the bus
    proxy (one hop less, docs/protocol.md "Direct streams")."""

    topic: Name
    endpoint: Annotated[str, msgspec.Meta(max_length=256, pattern=r"^(tcp|ipc|inproc)://")]
    host: Name


DirectStreams = Annotated[list[DirectStream], msgspec.Meta(max_length=MAX_DIRECT_STREAMS)]


# --- control, client -> server (DEALER -> ROUTER) -------------------------------------------

class Hello(Message, tag="HELLO", kw_only=True):
    name: Name
    role: Name = "component"
    required: bool = False
    host: Name = ""
    pid: int = 0
    direct: DirectStreams = msgspec.field(default_factory=list)  # what this producer offers


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
    direct: DirectStreams = msgspec.field(default_factory=list)  # offered by the components connected now


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
    direct: DirectStreams = msgspec.field(default_factory=list)  # the component's (on joined/ready: offered; left/dropped: gone)


# --- data bus (PUB -> XSUB | XPUB -> SUB) ---------------------------------------------------

class Vehicles(Message, tag="VEHICLES", kw_only=True):
    """Per-frame table of everything that moves (vehicles and persons); columns are payload arrays
    (Unreal units, see docs). ``lights_version`` is the TRAFFIC_LIGHTS table in force (0: none)."""

    sim_ns: Int64
    ids_version: UInt32
    lights_version: UInt32 = 0
    arrays: Annotated[list[ArraySpec], msgspec.Meta(max_length=MAX_PAYLOAD_FRAMES)] = []


class VehicleIds(Message, tag="VEHICLE_IDS", kw_only=True):
    """Handle -> what it is (SUMO id, type, class, size, colour); re-sent when it changes and on
    request. The table is six payload arrays, in this order (VEHICLE_ID_ARRAYS): ``handles`` ``<u4``
    (n,), ``ids``, ``types`` and ``classes`` ``|S<w>`` (n,) (UTF-8, NUL-padded), ``size_cm`` ``<f4``
    (n, 3) and ``color`` ``|u1`` (n, 4). Build them with :func:`vehicle_ids_arrays`, read them with
    :func:`vehicle_id_table`."""

    ids_version: UInt32
    arrays: Annotated[list[ArraySpec], msgspec.Meta(max_length=MAX_PAYLOAD_FRAMES)] = []


class TrafficLights(Message, tag="TRAFFIC_LIGHTS", kw_only=True):
    """Every traffic light's signal state, sent when any changes (with a new ``lights_version``, at
    the first frame that shows it) and on request. Two payload arrays (TRAFFIC_LIGHT_ARRAYS):
    ``ids`` and ``states`` ``|S<w>`` (m,); build them with :func:`traffic_lights_arrays`, read them
    with :func:`traffic_light_table`."""

    sim_ns: Int64
    lights_version: UInt32
    arrays: Annotated[list[ArraySpec], msgspec.Meta(max_length=MAX_PAYLOAD_FRAMES)] = []


class Event(Message, tag="EVENT", kw_only=True):
    """A timestamped simulation or test event (depart, arrive, collision, click, ...). ``frame`` is
    the frame it belongs to and ``t_ns`` that frame's scheduled time (the frame clock); ``at_ns`` is
    the session time it happened, between frames (what audio places its sound at)."""

    kind: Name
    sim_ns: Int64 | None = None
    subject: Name = ""
    data: dict[Name, Scalar] = {}
    at_ns: Int64 | None = None


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


class Asset(Message, tag="ASSET", kw_only=True):
    """The asset a refiner refines, announced on TOPIC_ASSET when it joins and again on REQUEST
    ``what='refine.asset'``: what a client needs to apply its RESIDUALS without the refiner's files.
    Payload: ``rest`` ``<f4`` (n, 3), the rest positions in metres, and ``faces`` ``<u4`` (f, 3).
    ``base_sha256`` identifies the base motion the residuals refine (the SHA-256 of the file the
    refiner plays): a client that plays a base of its own checks it against this."""

    asset: Name
    vertices: UInt32
    base_fps: Annotated[float, msgspec.Meta(gt=0, le=10000)]
    base_frames: UInt32
    base_sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    arrays: Annotated[list[ArraySpec], msgspec.Meta(max_length=MAX_PAYLOAD_FRAMES)] = []


class ShAsset(Message, tag="SH_ASSET", kw_only=True):
    """A closed (genus-0) asset streamed as spherical-harmonic coefficients (docs/protocol.md "SH
    assets"), announced on TOPIC_ASSET like ASSET. Payload: ``rest`` ``<f4`` (n, 3) metres, ``faces``
    ``<u4`` (f, 3), ``sphere`` ``<f4`` (n, 3) each vertex's unit vector on the asset's one chart, and
    ``detail`` ``<f4`` (n, 3) the residual field R at each vertex. A client shows
    ``Y(sphere) @ coeffs + detail`` with the basis of cosim.shbasis up to ``degree``."""

    asset: Name
    vertices: UInt32
    degree: Annotated[int, msgspec.Meta(ge=0, le=SH_MAX_DEGREE)]
    arrays: Annotated[list[ArraySpec], msgspec.Meta(max_length=MAX_PAYLOAD_FRAMES)] = []


class ShFrame(Message, tag="SH_FRAME", kw_only=True):
    """One frame of an SH asset (TOPIC_SH): ``coeffs`` ``<f4`` ((degree+1)^2, 3), metres; the
    shape of tick ``frame``."""

    asset: Name
    degree: Annotated[int, msgspec.Meta(ge=0, le=SH_MAX_DEGREE)]
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


# PROBE and PROBE_REPLY travel both ways: a client probes the master clock, and the syncserver
# probes each client's clock to measure its clock error itself (docs/protocol.md "Clock probes").
ControlRequest = Union[Hello, Ready, Ack, Probe, Heartbeat, Bye, ProbeReply]
ControlReply = Union[Welcome, Reject, ProbeReply, Error, Probe]
Broadcast = Union[Tick, Start, End, Status, ClientEvent]
BusMessage = Union[Vehicles, VehicleIds, TrafficLights, Event, Pose, Residuals, Asset, ShAsset, ShFrame, AudioOnset,
                   FrameReport, Request]

ALL_MESSAGE_TYPES: tuple[type[Message], ...] = (
    Hello, Ready, Ack, Probe, Heartbeat, Bye, Welcome, Reject, ProbeReply, Error,
    Tick, Start, End, Status, ClientEvent,
    Vehicles, VehicleIds, TrafficLights, Event, Pose, Residuals, Asset, ShAsset, ShFrame, AudioOnset, FrameReport, Request,
)


class _Envelope(msgspec.Struct):
    """Lenient view of a header, used only to explain why a strict decode failed (only scalars are
    shown: a nested value is never decoded, however deep)."""

    v: int | str | float | bool | None | msgspec.Raw = None
    type: int | str | float | bool | None | msgspec.Raw = None


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
    return [topic, *encode_body(msg, arrays)]


def encode_header(msg: msgspec.Struct) -> bytes:
    """The header alone (a message without arrays, or one whose ``arrays`` are already set); a
    message without a version gets this side's."""
    if isinstance(msg, Message) and not msg.v:
        msg.v = PROTOCOL_VERSION
    return _encoder.encode(msg)


def encode_body(msg: msgspec.Struct, arrays: Mapping[str, np.ndarray] | None = None) -> list[bytes | memoryview]:
    """``[header, *payload]`` of a struct with an ``arrays`` field: the envelope without its topic
    (also what a process pipe carries, e.g. the SUMO bridge's stepping process)."""
    payload: list[memoryview] = []
    if arrays:
        if not hasattr(msg, "arrays"):
            raise ProtocolError(f"{type(msg).__name__} does not carry arrays")
        specs = []
        for name, array in arrays.items():
            array = _le_array(array)
            if array.dtype.str not in ALLOWED_DTYPES:
                raise ProtocolError(_dtype_error(name, array.dtype.str))
            specs.append(ArraySpec(name=name, dtype=array.dtype.str, shape=list(array.shape)))
            payload.append(memoryview(array).cast("B") if array.size else memoryview(b""))  # cast() rejects empty shapes
        msg.arrays = specs
    return [encode_header(msg), *payload]


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
        except UnicodeDecodeError as exc:  # msgspec raises it for invalid UTF-8 in a str field
            raise ProtocolError(f"malformed header: a string is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
        except RecursionError:
            raise ProtocolError("malformed header: nested too deeply") from None
        if msg.v != PROTOCOL_VERSION:
            if not msg.v:
                raise ProtocolError(f"invalid {_tag(msg)!r} message: missing required field `v` (protocol version)")
            raise ProtocolError(f"unsupported protocol version {msg.v!r} (this side speaks {PROTOCOL_VERSION})")
        arrays = decode_arrays(msg, frames[2:])
        if type(msg) is VehicleIds:
            check_vehicle_id_arrays(arrays)
        elif type(msg) is TrafficLights:
            check_traffic_light_arrays(arrays)
        return topic, msg, arrays

    @staticmethod
    def _explain(header: bytes | memoryview, exc: Exception) -> str:
        try:
            env = _envelope_decoder.decode(header)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            return f"malformed header: {exc}"
        if env.v is not None and env.v != PROTOCOL_VERSION:
            return f"unsupported protocol version {env.v!r} (this side speaks {PROTOCOL_VERSION})"
        if isinstance(exc, msgspec.ValidationError) and "`$.type`" in str(exc):
            return f"unknown or unexpected message type {env.type!r} on this channel"
        return f"invalid {env.type!r} message: {exc}"


def _tag(msg: Message) -> str:
    return type(msg).__struct_config__.tag  # type: ignore[attr-defined]


def decode_arrays(msg: Message, payload: Sequence[bytes | memoryview]) -> dict[str, np.ndarray]:
    """The payload frames described by ``msg.arrays``, checked and viewed as read-only arrays."""
    specs: list[ArraySpec] = getattr(msg, "arrays", [])
    if len(specs) != len(payload):
        raise ProtocolError(
            f"{type(msg).__name__}: header describes {len(specs)} array(s) but {len(payload)} payload frame(s) follow")
    out: dict[str, np.ndarray] = {}
    for spec, frame in zip(specs, payload):
        if spec.dtype not in ALLOWED_DTYPES:
            raise ProtocolError(_dtype_error(spec.name, spec.dtype))
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


def _dtype_error(name: str, dtype: str) -> str:
    return (f"array {name!r}: dtype {dtype!r} is not allowed (numeric {' '.join(sorted(NUMERIC_DTYPES))}, "
            f"or a byte string |S1 .. |S{MAX_STRING_BYTES})")


# --- the vehicle id table (VEHICLE_IDS payload) and the traffic lights (TRAFFIC_LIGHTS) -------

VEHICLE_ID_ARRAYS = ("handles", "ids", "types", "classes", "size_cm", "color")
TRAFFIC_LIGHT_ARRAYS = ("ids", "states")
PERSON_CLASS = "pedestrian"  # the class of a VEHICLE_IDS row that is a SUMO person
STATE_LIMIT = MAX_STRING_BYTES  # characters of a traffic light's state (one per controlled link)
# the column of each array: numeric dtype and the shape of one row, or "names" (|S<w>, UTF-8)
_ID_COLUMNS = {"handles": ("<u4", ()), "ids": "names", "types": "names", "classes": "names",
               "size_cm": ("<f4", (3,)), "color": ("|u1", (4,))}
_LIGHT_COLUMNS = {"ids": "names", "states": "names"}


class VehicleIdTable(NamedTuple):
    """A VEHICLE_IDS table, row i for handle i: SUMO id, type and class (``passenger``, ``bus``,
    ``bicycle``, ``pedestrian`` for persons, "" unknown), size (length, width, height in cm, 0
    unknown) and colour (RGBA, alpha 0: none set)."""

    handles: list[int]
    ids: list[str]
    types: list[str]
    classes: list[str]
    size_cm: np.ndarray  # (n, 3) float32
    color: np.ndarray  # (n, 4) uint8


def vehicle_ids_arrays(handles: Sequence[int] | np.ndarray, ids: Sequence[str], types: Sequence[str],
                       classes: Sequence[str] | None = None, size_cm: np.ndarray | Sequence | None = None,
                       color: np.ndarray | Sequence | None = None) -> dict[str, np.ndarray]:
    """The payload of a VEHICLE_IDS message: ``handles`` ``<u4`` (n,); ``ids``, ``types``, ``classes``
    ``|S<w>`` (n,) with w the longest UTF-8 length (at least 1); ``size_cm`` ``<f4`` (n, 3) length,
    width, height; ``color`` ``|u1`` (n, 4) RGBA. Left out: classes "", sizes 0, colours 0 (unknown).
    Names are clipped to NAME_LIMIT characters; a name with a NUL character cannot travel and raises
    ProtocolError, as do columns of different lengths."""
    h = np.asarray(handles)
    if h.ndim != 1 or (h.size and h.dtype.kind not in "ui"):
        raise ProtocolError(f"VEHICLE_IDS: handles must be a flat list of integers, got {h.dtype} {h.shape}")
    if h.size and (int(h.min()) < 0 or int(h.max()) > 0xFFFFFFFF):
        raise ProtocolError("VEHICLE_IDS: a handle is outside [0, 4294967295]")
    n = len(h)
    out = {"handles": np.ascontiguousarray(h, dtype="<u4"), "ids": _name_array("VEHICLE_IDS", "ids", ids),
           "types": _name_array("VEHICLE_IDS", "types", types),
           "classes": _name_array("VEHICLE_IDS", "classes", [""] * n if classes is None else classes),
           "size_cm": _rows("size_cm", np.zeros((n, 3)) if size_cm is None else size_cm, "<f4", 3),
           "color": _rows("color", np.zeros((n, 4)) if color is None else color, "|u1", 4)}
    lengths = {k: len(a) for k, a in out.items()}
    if len(set(lengths.values())) != 1:
        raise ProtocolError(f"VEHICLE_IDS: columns of different lengths: {lengths}")
    return out


def traffic_lights_arrays(ids: Sequence[str], states: Sequence[str]) -> dict[str, np.ndarray]:
    """The payload of a TRAFFIC_LIGHTS message: ``ids`` and ``states`` ``|S<w>`` (m,); a state is
    SUMO's signal string, one character per controlled link (``rRyYgGsuoO``)."""
    if len(ids) != len(states):
        raise ProtocolError(f"TRAFFIC_LIGHTS: {len(ids)} ids and {len(states)} states")
    if max(map(len, states), default=0) > STATE_LIMIT:
        raise ProtocolError(f"TRAFFIC_LIGHTS: a state is longer than {STATE_LIMIT} characters")
    return {"ids": _name_array("TRAFFIC_LIGHTS", "ids", ids),
            "states": _name_array("TRAFFIC_LIGHTS", "states", states, STATE_LIMIT)}


def _rows(name: str, values: np.ndarray | Sequence, dtype: str, width: int) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != width or not np.isfinite(a).all():
        raise ProtocolError(f"VEHICLE_IDS: {name} must be finite numbers of shape (n, {width}), got {a.shape}")
    if dtype == "<f4" and (a < 0).any():
        raise ProtocolError(f"VEHICLE_IDS: {name} must not be negative")
    if dtype == "|u1" and (a.min(initial=0) < 0 or a.max(initial=0) > 255):
        raise ProtocolError(f"VEHICLE_IDS: {name} values must lie in [0, 255]")
    return np.ascontiguousarray(a, dtype=dtype)


def _name_array(msg: str, what: str, names: Sequence[str], limit: int = NAME_LIMIT) -> np.ndarray:
    if max(map(len, names), default=0) > limit:
        names = [n[:limit] for n in names]
    try:
        if "\0" in "".join(names):
            raise ProtocolError(f"{msg}: a name in {what} contains a NUL character")
        encoded = list(map(str.encode, names))
    except (TypeError, UnicodeError) as exc:
        raise ProtocolError(f"{msg}: {what} must be strings encodable as UTF-8 ({exc})") from None
    return np.array(encoded, dtype="S")  # the longest one's width; |S1 for none or only empty names


def _check_columns(msg: str, arrays: Mapping[str, np.ndarray], columns: Mapping[str, Any],
                   names: bool, limits: Mapping[str, int] | None = None) -> None:
    """Exactly ``columns``' arrays in that order, each of its dtype and row shape, all of one length;
    (unless ``names`` is False) every name valid UTF-8 within its limit, with no NUL before its
    padding. Whole-array numpy checks, no Python loop over rows."""
    for name in columns:
        if name not in arrays:
            raise ProtocolError(f"{msg}: missing array {name!r}")
    if list(arrays) != list(columns):
        extra = [k for k in arrays if k not in columns]
        raise ProtocolError(f"{msg}: unexpected array {extra[0]!r}" if extra else
                            f"{msg}: arrays must be {', '.join(columns)} in this order, got {list(arrays)}")
    lengths = {}
    for name, kind in columns.items():
        a = arrays[name]
        if kind == "names":
            if a.dtype.kind != "S" or a.dtype.str not in ALLOWED_DTYPES:
                raise ProtocolError(f"{msg}: array {name!r} must be a byte string |S<w>, got {a.dtype.str}")
            row: tuple[int, ...] = ()
        else:
            dtype, row = kind
            if a.dtype.str != dtype:
                raise ProtocolError(f"{msg}: array {name!r} must be {dtype}, got {a.dtype.str}")
        if a.ndim != 1 + len(row) or tuple(a.shape[1:]) != row:
            want = "one-dimensional" if not row else f"of shape (n, {', '.join(map(str, row))})"
            raise ProtocolError(f"{msg}: array {name!r} must be {want}, got shape {a.shape}")
        lengths[name] = len(a)
    if len(set(lengths.values())) > 1:
        raise ProtocolError(f"{msg}: array lengths differ: " + ", ".join(f"{k} {v}" for k, v in lengths.items()))
    if names:
        for name, kind in columns.items():
            if kind == "names":
                _check_names(msg, name, arrays[name], (limits or {}).get(name, NAME_LIMIT))


def check_vehicle_id_arrays(arrays: Mapping[str, np.ndarray], names: bool = True) -> np.ndarray:
    """The ``handles`` of a VEHICLE_IDS payload after checking it (VEHICLE_ID_ARRAYS, their dtypes
    and shapes, one length, valid names unless ``names`` is False)."""
    _check_columns("VEHICLE_IDS", arrays, _ID_COLUMNS, names)
    size = arrays["size_cm"]
    if size.size and not (np.isfinite(size).all() and (size >= 0).all()):
        raise ProtocolError("VEHICLE_IDS: size_cm must be finite and not negative")
    return arrays["handles"]


def check_traffic_light_arrays(arrays: Mapping[str, np.ndarray]) -> None:
    _check_columns("TRAFFIC_LIGHTS", arrays, _LIGHT_COLUMNS, True, {"states": STATE_LIMIT})


def _check_names(msg: str, what: str, a: np.ndarray, limit: int) -> None:
    n, w = len(a), a.dtype.itemsize
    if n == 0:
        return
    b = np.ascontiguousarray(a).view(np.uint8).reshape(n, w)
    nz = b != 0
    bad = np.flatnonzero((~nz[:, :-1] & nz[:, 1:]).any(axis=1))  # a NUL followed by a byte that is not
    if len(bad):
        raise ProtocolError(f"{msg}: {what}[{bad[0]}] contains a NUL byte")
    if w > limit:
        chars = (nz & ((b & 0xC0) != 0x80)).sum(axis=1)  # bytes that start a character
        bad = np.flatnonzero(chars > limit)
        if len(bad):
            raise ProtocolError(f"{msg}: {what}[{bad[0]}] is longer than {limit} characters")
    if b.max() < 0x80:
        return  # ASCII: valid UTF-8
    try:
        # ASCII newlines between the names: a sequence cut at a name's end or start is invalid too
        b"\n".join(a.tolist()).decode("utf-8")
    except UnicodeDecodeError:
        first = next(i for i, raw in enumerate(a.tolist()) if not _is_utf8(raw))
        raise ProtocolError(f"{msg}: {what}[{first}] is not valid UTF-8") from None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _texts(a: np.ndarray) -> list[str]:
    return list(map(bytes.decode, a.tolist()))


def vehicle_id_table(msg: Message, arrays: Mapping[str, np.ndarray]) -> VehicleIdTable:
    """The table of a VEHICLE_IDS message and its decoded arrays; ProtocolError names what is wrong
    (missing array, wrong dtype or shape, length mismatch, invalid UTF-8, a NUL)."""
    if not isinstance(msg, VehicleIds):
        raise ProtocolError(f"not a VEHICLE_IDS message: {type(msg).__name__}")
    check_vehicle_id_arrays(arrays)
    return VehicleIdTable(arrays["handles"].tolist(), _texts(arrays["ids"]), _texts(arrays["types"]),
                          _texts(arrays["classes"]), arrays["size_cm"], arrays["color"])


def traffic_light_table(msg: Message, arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
    """Traffic light id -> state of a TRAFFIC_LIGHTS message and its decoded arrays."""
    if not isinstance(msg, TrafficLights):
        raise ProtocolError(f"not a TRAFFIC_LIGHTS message: {type(msg).__name__}")
    check_traffic_light_arrays(arrays)
    return dict(zip(_texts(arrays["ids"]), _texts(arrays["states"])))


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


# --- SH assets (SH_ASSET, SH_FRAME payloads) -------------------------------------------------------

def sh_asset_arrays(msg: ShAsset, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The checked payload of an SH_ASSET: rest, sphere, detail finite ``<f4`` (n, 3) (sphere of unit
    vectors), faces ``<u4`` (f, 3) indexing them."""
    n = msg.vertices
    for name in ("rest", "sphere", "detail"):
        a = arrays.get(name)
        if a is None or a.dtype != np.dtype("<f4") or a.shape != (n, 3) or not np.isfinite(a).all():
            raise ProtocolError(f"SH_ASSET {msg.asset!r}: {name!r} must be finite <f4 ({n}, 3), got "
                                + ("nothing" if a is None else f"{a.dtype.str} {a.shape}"))
    if np.abs(np.linalg.norm(arrays["sphere"], axis=1) - 1).max(initial=0) > 1e-3:
        raise ProtocolError(f"SH_ASSET {msg.asset!r}: 'sphere' must hold unit vectors")
    faces = arrays.get("faces")
    if faces is None or faces.dtype != np.dtype("<u4") or faces.ndim != 2 or faces.shape[1] != 3 \
            or (faces.size and int(faces.max()) >= n):
        raise ProtocolError(f"SH_ASSET {msg.asset!r}: 'faces' must be <u4 (f, 3) indexing its {n} vertices")
    return {k: arrays[k] for k in ("rest", "faces", "sphere", "detail")}


def sh_frame_coeffs(msg: ShFrame, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """The checked ``coeffs`` of an SH_FRAME: finite ``<f4`` ((degree+1)^2, 3)."""
    want = ((msg.degree + 1) ** 2, 3)
    c = arrays.get("coeffs")
    if c is None or c.dtype != np.dtype("<f4") or c.shape != want or not np.isfinite(c).all():
        raise ProtocolError(f"SH_FRAME {msg.asset!r}: 'coeffs' must be finite <f4 {want} for degree {msg.degree}, got "
                            + ("nothing" if c is None else f"{c.dtype.str} {c.shape}"))
    return c
