"""The session as Foxglove shows it: well-known messages (protobuf, from the official SDK's types)
for the scene, the participant and the events, and object-rooted JSON for the timing figures.

``FoxgloveView.convert(topic, msg, arrays)`` turns one wire message into the viewing messages it
yields; the recorder writes them into session.mcap beside the wire channels, and ``LiveView``
sends them to Foxglove over its WebSocket protocol during the run (docs/recording.md "Viewing in
Foxglove").

Frames: ``world`` is SUMO's net in metres (X east, Y north, Z up; the wire's Unreal centimetres
with Y flipped); ``tracking`` is the headset's tracking space (OpenVR: +Y up, -Z forward), placed
at the world origin facing north until a calibration says otherwise; ``hmd`` follows the head.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Union

import msgspec
import numpy as np
from foxglove.messages import (Color, CubePrimitive, CylinderPrimitive, FrameTransform, Log, LogLevel, Pose, PoseInFrame, Quaternion,
                               SceneEntity, SceneEntityDeletion, SceneEntityDeletionType, SceneUpdate, TextPrimitive,
                               Timestamp, Vector3)

from cosim import protocol as p
from cosim.config import ParticipantSettings
from cosim.errors import ProtocolError
from recording.safety import NEAR_M, measure
from recording.vehicles import VehicleNames

WORLD, TRACKING, HMD = "world", "tracking", "hmd"
TOPIC_VEHICLES = "/scene/vehicles"
TOPIC_TF = "/tf"
TOPIC_HEAD = "/participant/head"
TOPIC_EVENTS = "/events"
TOPIC_TICKS = "/timing/ticks"
TOPIC_FRAMES = "/timing/frames"
TOPIC_AUDIO = "/timing/audio"
TOPIC_CLIENTS = "/timing/clients"
TOPIC_SAFETY = "/participant/safety"
TOPIC_LIGHTS = "/scene/traffic_lights"
BRAKE_LIGHT = 8  # SUMO's VEH_SIGNAL_BRAKELIGHT bit of the table's ``signals``
WELL_KNOWN = (SceneUpdate, FrameTransform, PoseInFrame, Log)
WELL_KNOWN_TOPICS = {TOPIC_VEHICLES: SceneUpdate, TOPIC_TF: FrameTransform, TOPIC_HEAD: PoseInFrame, TOPIC_EVENTS: Log}

@dataclass(frozen=True)
class JsonChannel:
    """A JSON channel: an object-rooted JSON Schema of flat numbers and strings."""

    title: str
    fields: Mapping[str, str]  # name -> JSON type ("number", "integer", "string", "boolean")

    def schema(self) -> dict[str, Any]:
        return {"title": self.title, "type": "object",
                "properties": {k: {"type": t} for k, t in self.fields.items()}}


JSON_CHANNELS = {
    TOPIC_TICKS: JsonChannel("cosim.TickTiming", {"frame": "integer", "lateness_us": "number"}),
    TOPIC_FRAMES: JsonChannel("cosim.FrameTiming", {
        "frame": "integer", "client": "string", "tick_to_receive_ms": "number", "tick_to_present_ms": "number",
        "tick_to_photon_ms": "number", "motion_to_photon_ms": "number"}),
    TOPIC_AUDIO: JsonChannel("cosim.AudioOnset", {"kind": "string", "onset_error_us": "number", "late": "boolean"}),
    TOPIC_SAFETY: JsonChannel("cosim.ParticipantSafety", {
        "east_m": "number", "north_m": "number", "nearest_m": "number", "nearest_vehicle": "string",
        "ttc_s": "number", "ttc_vehicle": "string", "vehicles_near": "integer"}),
    TOPIC_LIGHTS: JsonChannel("cosim.TrafficLight", {"id": "string", "state": "string", "lights_version": "integer"}),
    TOPIC_CLIENTS: JsonChannel("cosim.ClientStatus", {
        "client": "string", "frames_behind": "integer", "offset_us": "number", "acks": "integer",
        "connected": "boolean"}),
}

Out = Union[SceneUpdate, FrameTransform, PoseInFrame, Log, dict]


def stamp(ns: int) -> Timestamp:
    ns = max(0, int(ns))
    return Timestamp(sec=ns // 1_000_000_000, nsec=ns % 1_000_000_000)


def yaw_quaternion(yaw_rad: float) -> Quaternion:
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw_rad / 2), w=math.cos(yaw_rad / 2))


class FoxgloveView:
    """Wire messages in, viewing messages out (``(topic, message)`` pairs). The scene and the head
    are thinned to ``scene_hz`` and ``head_hz`` of session time (0: every message): a viewer needs
    no 90 Hz of boxes, and 150 vehicles cost ~2 ms to convert."""

    def __init__(self, scene_hz: float = 10.0, head_hz: float = 30.0,
                 participant: ParticipantSettings | None = None) -> None:
        self.participant = participant
        self._head = participant or ParticipantSettings()  # whose pose is the head (default: the hmd)
        self.where: tuple[float, float, float, float] | None = None  # participant east, north, velocity (world)
        self.names = VehicleNames()
        self._lights: dict[str, str] = {}
        self.tracking_sent = False
        self._every = {TOPIC_VEHICLES: int(1e9 / scene_hz) if scene_hz else 0,
                       TOPIC_HEAD: int(1e9 / head_hz) if head_hz else 0}
        self._next = {TOPIC_VEHICLES: 0, TOPIC_HEAD: 0}

    def _due(self, topic: str, t_ns: int) -> bool:
        if t_ns < self._next[topic]:
            return False
        self._next[topic] = t_ns + self._every[topic]
        return True

    def convert(self, topic: bytes, msg: p.Message, arrays: Mapping[str, np.ndarray]) -> Iterator[tuple[str, Out]]:
        if isinstance(msg, p.VehicleIds):
            self.names.on_ids(msg, arrays)
        elif isinstance(msg, p.Vehicles):
            if self._due(TOPIC_VEHICLES, msg.t_ns):
                yield TOPIC_VEHICLES, self.vehicles(msg, arrays)
                if self.where is not None:
                    yield TOPIC_SAFETY, self.safety(msg, arrays)
        elif isinstance(msg, p.TrafficLights):
            for tls, state in self.lights(msg, arrays).items():
                yield TOPIC_LIGHTS, {"id": tls, "state": state, "lights_version": msg.lights_version}
        elif isinstance(msg, p.Pose):
            yield from self.pose(msg)
        elif isinstance(msg, p.Event):
            yield TOPIC_EVENTS, self.event(msg)
        elif isinstance(msg, p.Tick):
            yield TOPIC_TICKS, {"frame": msg.frame, "lateness_us": (msg.sent_ns - msg.t_ns) / 1e3}
        elif isinstance(msg, p.FrameReport):
            yield TOPIC_FRAMES, self.frame(msg)
        elif isinstance(msg, p.AudioOnset):
            yield TOPIC_AUDIO, {"kind": msg.event_kind, "onset_error_us": (msg.actual_ns - msg.scheduled_ns) / 1e3,
                                "late": msg.late}
        elif isinstance(msg, p.Status):
            for c in msg.clients:
                yield TOPIC_CLIENTS, {"client": c.name, "frames_behind": c.frames_behind, "acks": c.acks,
                                      "offset_us": c.offset_us, "connected": c.connected}

    def vehicles(self, msg: p.Vehicles, arrays: Mapping[str, np.ndarray]) -> SceneUpdate:
        handles = arrays.get("handle", np.zeros(0, "<u4"))
        pos = arrays.get("position_cm", np.zeros((0, 3), "<f4"))
        yaw = arrays.get("yaw_deg", np.zeros(0, "<f4"))
        signals = arrays.get("signals", np.zeros(len(handles), "<u2"))
        entities = []
        for info, (x, y, z), yaw_deg, bits in zip(self.names.of(msg.ids_version, handles.tolist()), pos.tolist(),
                                                  yaw.tolist(), signals.tolist()):
            vid, (length, width, height), rgba = info.id, info.size_m, info.rgba
            heading = -math.radians(yaw_deg)  # the wire's yaw turns towards +Y south; the world's Y is north
            # the wire's point is SUMO's front bumper: the box's centre is half a length behind it
            cx = x / 100 - math.cos(heading) * length / 2
            cy = -y / 100 - math.sin(heading) * length / 2
            centre = Pose(position=Vector3(x=cx, y=cy, z=z / 100 + height / 2), orientation=yaw_quaternion(heading))
            label = Pose(position=Vector3(x=cx, y=cy, z=z / 100 + height + 0.5), orientation=yaw_quaternion(0.0))
            color = Color(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
            body = {"cylinders": [CylinderPrimitive(pose=centre, size=Vector3(x=width, y=width, z=height), bottom_scale=1.0,
                                                    top_scale=1.0, color=color)]} if info.person else \
                {"cubes": [CubePrimitive(pose=centre, size=Vector3(x=length, y=width, z=height), color=color)]}
            if bits & BRAKE_LIGHT and not info.person:  # a red bar across the rear
                rear = Pose(position=Vector3(x=cx - math.cos(heading) * length / 2, y=cy - math.sin(heading) * length / 2,
                                             z=z / 100 + height * 0.6), orientation=yaw_quaternion(heading))
                body["cubes"].append(CubePrimitive(pose=rear, size=Vector3(x=0.1, y=width, z=0.15),
                                                   color=Color(r=1.0, g=0.05, b=0.05, a=1.0)))
            entities.append(SceneEntity(
                timestamp=stamp(msg.t_ns), frame_id=WORLD, id=vid, frame_locked=False, **body,
                texts=[TextPrimitive(pose=label, billboard=True, font_size=12.0, scale_invariant=True,
                                     color=Color(r=1.0, g=1.0, b=1.0, a=1.0), text=vid)]))
        return SceneUpdate(deletions=[SceneEntityDeletion(timestamp=stamp(msg.t_ns), type=SceneEntityDeletionType.All)],
                           entities=entities)

    def lights(self, msg: p.TrafficLights, arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
        """The lights whose state changed since the last table (all of them the first time)."""
        try:
            table = p.traffic_light_table(msg, arrays)
        except ProtocolError:
            return {}  # recorded without its arrays
        changed = {k: v for k, v in table.items() if self._lights.get(k) != v}
        self._lights = table
        return changed

    def pose(self, msg: p.Pose) -> Iterator[tuple[str, Out]]:
        cal = self.participant
        if not self._head.follows(msg.device, msg.device_class):
            return
        if cal is not None:
            east, north = cal.to_net(msg.position[0], msg.position[2])
            ahead_e, ahead_n = cal.to_net(msg.position[0] + msg.velocity[0], msg.position[2] + msg.velocity[2])
            self.where = (east, north, ahead_e - east, ahead_n - north)
        if not self._due(TOPIC_HEAD, msg.sample_ns):
            return
        t = stamp(msg.sample_ns)
        if not self.tracking_sent:
            self.tracking_sent = True
            yield TOPIC_TF, self.tracking_in_world()
        w, x, y, z = msg.orientation
        position, rotation = Vector3(x=msg.position[0], y=msg.position[1], z=msg.position[2]), Quaternion(x=x, y=y, z=z, w=w)
        yield TOPIC_TF, FrameTransform(timestamp=t, parent_frame_id=TRACKING, child_frame_id=HMD,
                                       translation=position, rotation=rotation)
        yield TOPIC_HEAD, PoseInFrame(timestamp=t, frame_id=TRACKING, pose=Pose(position=position, orientation=rotation))

    def tracking_in_world(self) -> FrameTransform:
        """Tracking space (+Y up, -Z forward) in the world (+Z up, +Y north): 90 degrees about X, then
        the calibration's heading about Z, at its origin (without a calibration: the world origin,
        facing north)."""
        cal = self.participant
        origin = cal.origin_m if cal is not None else (0.0, 0.0)
        yaw = -math.radians(cal.yaw_deg) if cal is not None else 0.0  # clockwise from north: negative about +Z
        half = math.sqrt(0.5)
        cz, sz = math.cos(yaw / 2), math.sin(yaw / 2)
        rotation = Quaternion(x=half * cz, y=half * sz, z=half * sz, w=half * cz)  # Rz(yaw) * Rx(90)
        return FrameTransform(timestamp=stamp(0), parent_frame_id=WORLD, child_frame_id=TRACKING,
                              translation=Vector3(x=origin[0], y=origin[1], z=0.0), rotation=rotation)

    def safety(self, msg: p.Vehicles, arrays: Mapping[str, np.ndarray]) -> dict:
        """Distance to the nearest vehicle's footprint and the smallest time-to-collision, now
        (recording.safety's measures, live at the scene rate)."""
        assert self.where is not None and self.participant is not None
        px, py, vx, vy = self.where
        out: dict[str, Any] = {"east_m": px, "north_m": py, "vehicles_near": 0}
        handles = arrays.get("handle")
        if handles is None or not len(handles):
            return out
        got = measure((px, py), (vx, vy), arrays, self.names.of(msg.ids_version, handles.tolist()),
                      self.participant.body_radius_m)
        dist, ttc = got.distance_m, got.ttc_s
        if not np.isfinite(dist).any():
            return out  # persons only
        i = int(np.argmin(dist))
        out.update(nearest_m=float(dist[i]), nearest_vehicle=got.names[i].id, vehicles_near=int((dist < NEAR_M).sum()))
        if np.isfinite(ttc).any():
            j = int(np.nanargmin(ttc))
            out.update(ttc_s=float(ttc[j]), ttc_vehicle=got.names[j].id)
        return out

    @staticmethod
    def event(msg: p.Event) -> Log:
        level = LogLevel.Warning if msg.kind in ("collision", "emergency_braking", "teleport") else LogLevel.Info
        data = " ".join(f"{k}={v}" for k, v in msg.data.items())
        text = " ".join(part for part in (msg.kind, msg.subject, data) if part)
        return Log(timestamp=stamp(msg.at_ns if msg.at_ns is not None else msg.t_ns), level=level, message=text,
                   name=msg.src or "cosim", file="", line=0)

    @staticmethod
    def frame(msg: p.FrameReport) -> dict:
        out = {"frame": msg.frame, "client": msg.src, "tick_to_receive_ms": (msg.recv_ns - msg.t_ns) / 1e6,
               "tick_to_present_ms": (msg.present_ns - msg.t_ns) / 1e6,
               "tick_to_photon_ms": (msg.photon_ns - msg.t_ns) / 1e6}
        if msg.pose_sample_ns is not None:
            out["motion_to_photon_ms"] = (msg.photon_ns - msg.pose_sample_ns) / 1e6
        return out


def schema_of(topic: str, message: Out | None = None) -> tuple[str, str, str, bytes]:
    """``(schema name, schema encoding, message encoding, schema data)`` of a viewing channel."""
    if isinstance(message, dict) or (message is None and topic in JSON_CHANNELS):
        channel = JSON_CHANNELS[topic]
        return channel.title, "jsonschema", "json", msgspec.json.encode(channel.schema())
    schema = (WELL_KNOWN_TOPICS[topic] if message is None else type(message)).get_schema()
    return schema.name, schema.encoding, "protobuf", bytes(schema.data)


def data_of(message: Out) -> bytes:
    if isinstance(message, dict):
        return msgspec.json.encode({k: v for k, v in message.items() if v is not None})
    return bytes(message.encode())


class LiveView:
    """The viewing messages, live, on Foxglove's WebSocket protocol (the official SDK's server),
    bound to a loopback address: open ``ws://HOST:PORT`` in Foxglove during the run."""

    def __init__(self, host: str, port: int, name: str) -> None:
        import foxglove
        # every channel before the server: a client is told of all of them when it connects (a channel
        # opened while a client subscribes could be refused by the SDK as unknown)
        self._channels: dict[str, Any] = {}
        for topic in [*WELL_KNOWN_TOPICS, *JSON_CHANNELS]:
            title, schema_encoding, encoding, schema = schema_of(topic)
            self._channels[topic] = foxglove.Channel(
                topic, message_encoding=encoding, schema=foxglove.Schema(name=title, encoding=schema_encoding, data=schema))
        self.server = foxglove.start_server(name=name, host=host, port=port)
        self.port = self.server.port
        self.sent = 0

    def log(self, topic: str, message: Out, log_ns: int) -> None:
        self._channels[topic].log(data_of(message), log_time=max(0, log_ns))
        self.sent += 1

    def close(self) -> None:
        self.server.stop()
