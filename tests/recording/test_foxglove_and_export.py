"""The viewing channels, held against Foxglove's own libraries: a session with SUMO, poses, a
client and audio, recorded with the live Foxglove server on; a WebSocket client subscribes as the
Foxglove app would (ws-protocol spec: advertise, subscribe, binary message data), and every viewing channel of the file decodes with the
decoder its encoding names (protobuf: mcap-protobuf-support; JSON: an object-rooted JSON Schema).
The same recording exported to Parquet and CSV reads back with pyarrow, a row per message."""
from __future__ import annotations

import asyncio
import base64
import json
import math
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import websockets
import yaml
from mcap.reader import make_reader
from mcap.records import Schema
from mcap_protobuf.decoder import DecoderFactory

from cosim import protocol as p
from recording.foxglove import TOPIC_HEAD, TOPIC_TF, TOPIC_VEHICLES, FoxgloveView
from tests.conftest import REPO, free_endpoints
from tests.recording.test_replay_report import run_session

VIEW_ENCODINGS = {"protobuf", "json"}
SUBPROTOCOLS = ["foxglove.sdk.v1", "foxglove.websocket.v1"]  # what the Foxglove app offers; the SDK picks the first


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LIVE_TOPICS = {TOPIC_VEHICLES, "/timing/ticks", "/events"}


class LiveClient(threading.Thread):
    """Subscribes to the advertised channels of LIVE_TOPICS and keeps the first messages of each,
    decoded (the SDK drops the oldest messages of a client that cannot keep up: fewer channels, so
    that a client sharing two cores with a session keeps up)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.channels: dict[int, dict] = {}
        self.got: dict[str, list] = {}
        self.raw: dict[str, int] = {}
        self.log: list = []
        self.server_info: dict | None = None
        self.error: str | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception as exc:  # reported by the test
            self.error = repr(exc)

    async def _run(self) -> None:
        for _ in range(300):  # the server starts with the recorder
            try:
                ws = await websockets.connect(f"ws://127.0.0.1:{self.port}", subprotocols=SUBPROTOCOLS)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("never connected")
        async with ws:
            subs: dict[int, int] = {}
            while not self.stop.is_set():
                try:
                    frame = await asyncio.wait_for(ws.recv(), 0.5)
                except asyncio.TimeoutError:
                    continue
                except websockets.ConnectionClosed:
                    return
                if isinstance(frame, str):
                    msg = json.loads(frame)
                    self.log.append((msg["op"], [c["topic"] for c in msg.get("channels", [])], msg.get("message")))
                    if msg["op"] == "serverInfo":
                        self.server_info = msg
                    elif msg["op"] == "advertise":
                        new = []
                        for ch in msg["channels"]:
                            self.channels[ch["id"]] = ch
                            if ch["topic"] not in LIVE_TOPICS:
                                continue
                            subs[len(subs) + 1] = ch["id"]
                            new.append({"id": len(subs), "channelId": ch["id"]})
                        if new:
                            await ws.send(json.dumps({"op": "subscribe", "subscriptions": new}))
                elif frame[0] == 1:  # message data: opcode, subscription id u32, log time u64, payload
                    sub, _log_time = struct.unpack_from("<IQ", frame, 1)
                    ch = self.channels[subs[sub]]
                    self.raw[ch["topic"]] = self.raw.get(ch["topic"], 0) + 1
                    kept = self.got.setdefault(ch["topic"], [])
                    if len(kept) < 3:
                        kept.append(decode_live(ch, frame[13:]))


def decode_live(ch: dict, data: bytes):
    if ch["encoding"] == "json":
        return json.loads(data)
    schema = Schema(id=1, name=ch["schemaName"], encoding="protobuf", data=base64.b64decode(ch["schema"]))
    return DecoderFactory().decoder_for("protobuf", schema)(data)


def decode_pb(message):
    """A Foxglove SDK message read back through its own protobuf schema (the SDK's objects are write-only)."""
    schema = type(message).get_schema()
    record = Schema(id=1, name=schema.name, encoding=schema.encoding, data=bytes(schema.data))
    return DecoderFactory().decoder_for("protobuf", record)(bytes(message.encode()))


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> tuple[Path, LiveClient]:
    base = tmp_path_factory.mktemp("foxglove")
    port = free_port()
    cfg = base / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "session": {"name": "fox", "mode": "realtime", "rate_hz": 90, "duration_s": 6, "ready_timeout_s": 60},
        "network": {"host": "127.0.0.1", "base_port": 0, **free_endpoints()},
        "participant": {"origin_m": [85.0, 235.0], "yaw_deg": 90.0},  # beside a junction of the demo net
        "components": {
            "client": {"module": "client", "settings": {"residuals": {"enabled": False}}},
            "sumo": {"module": "bridges.sumo", "settings": {"scenario": "scenarios/demo/demo.sumocfg", "start_s": 60}},
            "pose": {"module": "bridges.pose", "settings": {"source": "synthetic", "rate_hz": 250}},
            "audio": {"module": "audio", "settings": {"backend": "file", "file": {"path": "audio.wav"},
                                                      "test_clicks": {"period_s": 1.0, "start_s": 0.5}}},
            "recorder": {"module": "recording", "settings": {"foxglove": {"live": True, "port": port}}}}}))
    live = LiveClient(port)
    live.start()
    r = run_session("--config", str(cfg), "--out", str(base / "s"))
    live.stop.set()
    live.join(5)
    assert r.returncode == 0, r.stdout + r.stderr
    return base / "s", live


def test_every_viewing_channel_decodes_with_foxglove_libraries(session):
    folder, _ = session
    with open(folder / "session.mcap", "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        views = {c.id: c for c in summary.channels.values() if c.message_encoding in VIEW_ENCODINGS}
        assert {c.topic for c in views.values()} >= {TOPIC_VEHICLES, TOPIC_TF, TOPIC_HEAD, "/events",
                                                    "/timing/ticks", "/timing/frames", "/timing/audio",
                                                    "/timing/clients", "/participant/safety"}
        names = {c.topic: summary.schemas[c.schema_id].name for c in views.values()}
        assert names[TOPIC_VEHICLES] == "foxglove.SceneUpdate" and names[TOPIC_TF] == "foxglove.FrameTransform"
        assert names["/events"] == "foxglove.Log" and names[TOPIC_HEAD] == "foxglove.PoseInFrame"
        counts: dict[str, int] = {}
        for schema, channel, message, decoded in reader.iter_decoded_messages(
                topics=[c.topic for c in views.values() if c.message_encoding == "protobuf"]):
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
            if channel.topic == TOPIC_VEHICLES and decoded.entities:
                cube = decoded.entities[0].cubes[0]
                assert decoded.entities[0].frame_id == "world" and cube.size.x > cube.size.y > 0
        for _, channel, message in reader.iter_messages(
                topics=[c.topic for c in views.values() if c.message_encoding == "json"]):
            schema = json.loads(summary.schemas[channel.schema_id].data)
            assert schema["type"] == "object"
            doc = json.loads(message.data)
            assert set(doc) <= set(schema["properties"])
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
            if channel.topic == "/participant/safety":
                assert abs(doc["east_m"] - 85.0) < 1.0 and abs(doc["north_m"] - 235.0) < 1.0 and doc["nearest_m"] >= 0
    for topic in (TOPIC_VEHICLES, TOPIC_TF, "/events", "/timing/ticks", "/timing/audio", "/participant/safety"):
        assert counts.get(topic, 0) > 0, (topic, counts)
    assert 40 <= counts[TOPIC_VEHICLES] <= 80  # 10 Hz of a 6 s session (scene_hz)


def test_a_websocket_client_receives_the_scene_live(session):
    _, live = session
    assert live.error is None, live.error
    assert live.server_info is not None and live.server_info["name"].startswith("cosim ")
    assert {c["topic"] for c in live.channels.values()} >= {TOPIC_VEHICLES, TOPIC_TF, "/timing/ticks"}
    assert not [m for op, _, m in live.log if op == "status"]  # no channel refused, no error
    assert set(live.got) == LIVE_TOPICS, (sorted(live.got), live.raw, live.log)
    scene = live.got[TOPIC_VEHICLES][-1]
    assert len(scene.entities) > 0 and scene.entities[0].cubes[0].size.z > 0
    assert "lateness_us" in live.got["/timing/ticks"][0]


def test_a_vehicle_box_is_centred_behind_the_front_bumper_in_world_metres():
    view = FoxgloveView(scene_hz=0)
    ids = p.vehicle_ids_arrays([7], ["bus_1"], ["bus"])
    assert list(view.convert(p.TOPIC_VEHICLE_IDS, p.VehicleIds(ids_version=3), ids)) == []
    # front bumper at (100 m east, 50 m south) heading south (+90 deg towards +Y on the wire)
    arrays = {"handle": np.array([7], "<u4"), "position_cm": np.array([[10_000, 5_000, 0]], "<f4"),
              "yaw_deg": np.array([90.0], "<f4")}
    [(topic, scene)] = list(view.convert(p.TOPIC_VEHICLES, p.Vehicles(sim_ns=0, ids_version=3, t_ns=5), arrays))
    [entity] = decode_pb(scene).entities
    cube = entity.cubes[0]
    assert entity.id == "bus_1" and cube.size.x == 12.0  # a bus, from its type
    # world Y is north, so 50 m south is y = -50; heading south, the centre is 6 m further north
    assert (round(cube.pose.position.x, 6), round(cube.pose.position.y, 6)) == (100.0, -44.0)
    yaw = 2 * math.atan2(cube.pose.orientation.z, cube.pose.orientation.w)
    assert math.isclose(yaw, -math.pi / 2, abs_tol=1e-9)


def test_the_scene_takes_sizes_colours_persons_brake_lights_and_traffic_lights_from_the_wire():
    view = FoxgloveView(scene_hz=0)
    ids = p.vehicle_ids_arrays([1, 2], ["car", "walker"], ["hatch", "ped"], ["passenger", "pedestrian"],
                               [[380.0, 160.0, 140.0], [21.5, 47.8, 171.9]], [[255, 0, 0, 255], [0, 0, 0, 0]])
    list(view.convert(p.TOPIC_VEHICLE_IDS, p.VehicleIds(ids_version=1), ids))
    arrays = {"handle": np.array([1, 2], "<u4"), "position_cm": np.array([[0, 0, 0], [500, 0, 0]], "<f4"),
              "yaw_deg": np.array([0.0, 0.0], "<f4"), "signals": np.array([8, 0], "<u2")}
    [(_, scene)] = list(view.convert(p.TOPIC_VEHICLES, p.Vehicles(sim_ns=0, ids_version=1, t_ns=5), arrays))
    car, walker = decode_pb(scene).entities
    body, brake = car.cubes  # the body, sized and coloured as SUMO said, and a red bar across its rear
    assert (round(body.size.x, 3), round(body.size.y, 3)) == (3.8, 1.6) and body.color.r == 1.0 and body.color.b == 0.0
    assert brake.color.r == 1.0 and round(brake.pose.position.x, 6) == -3.8
    assert not walker.cubes and round(walker.cylinders[0].size.z, 3) == 1.719  # a person: a cylinder, typical colour
    lights = p.traffic_lights_arrays(["C", "J"], ["GGrr", "rrGG"])
    first = list(view.convert(p.TOPIC_TRAFFIC_LIGHTS, p.TrafficLights(sim_ns=0, lights_version=1), lights))
    changed = p.traffic_lights_arrays(["C", "J"], ["yyrr", "rrGG"])
    second = list(view.convert(p.TOPIC_TRAFFIC_LIGHTS, p.TrafficLights(sim_ns=1, lights_version=2), changed))
    assert [d["id"] for _, d in first] == ["C", "J"]  # every light the first time, then the changed ones
    assert second == [("/scene/traffic_lights", {"id": "C", "state": "yyrr", "lights_version": 2})]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_tables_read_back_with_pyarrow_one_row_per_message(session, tmp_path, fmt):
    """Counted against the standard MCAP reader and a msgpack library of their own, not our reader."""
    import msgpack
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    folder, _ = session
    r = subprocess.run([sys.executable, "-m", "recording.export", str(folder), "--format", fmt, "--out", str(tmp_path)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    per_topic: dict[str, int] = {}
    vehicle_rows = 0
    with open(folder / "session.mcap", "rb") as f:
        for _, channel, message in make_reader(f).iter_messages():
            if channel.message_encoding != "msgpack":
                continue
            per_topic[channel.topic] = per_topic.get(channel.topic, 0) + 1
            if channel.topic == "sumo.vehicles":
                header = msgpack.unpackb(message.data)[0]  # [header map, *payload bins]
                vehicle_rows += next(a["shape"][0] for a in header["arrays"] if a["name"] == "handle")
    read = (lambda t: pq.read_table(tmp_path / f"{t}.parquet")) if fmt == "parquet" else \
        (lambda t: pacsv.read_csv(tmp_path / f"{t}.csv"))
    want = {"ticks": "tick", "poses": "pose", "events": "events", "frames": "client.frames", "audio": "audio.onsets",
            "session": "session"}
    for table, topic in want.items():
        assert read(table).num_rows == per_topic[topic] > 0, table
    vehicles = read("vehicles")
    assert vehicles.num_rows == vehicle_rows > 0
    manifest = json.loads((tmp_path / "export.json").read_text())
    assert manifest["tables"]["vehicles"]["messages"] == per_topic["sumo.vehicles"]
    names = set(vehicles.column_names)
    assert {"session_time_ns", "sim_time_ns", "x_cm", "speed_cm_s", "vehicle_id", "vehicle_type"} <= names
    assert vehicles.column("vehicle_id").null_count == 0  # ids joined from the id table
    poses = read("poses")
    assert poses.column("sim_time_ns").null_count < poses.num_rows  # sim time joined by frame
    assert {"x_m", "qw", "vx_m_s"} <= set(poses.column_names)


def test_tracking_space_is_placed_in_the_world_by_the_calibration():
    from cosim.config import ParticipantSettings
    tf = decode_pb(FoxgloveView(participant=ParticipantSettings(origin_m=(10.0, 20.0), yaw_deg=90.0)).tracking_in_world())
    q = tf.rotation
    rot = np.array([[1 - 2 * (q.y ** 2 + q.z ** 2), 2 * (q.x * q.y - q.w * q.z), 2 * (q.x * q.z + q.w * q.y)],
                    [2 * (q.x * q.y + q.w * q.z), 1 - 2 * (q.x ** 2 + q.z ** 2), 2 * (q.y * q.z - q.w * q.x)],
                    [2 * (q.x * q.z - q.w * q.y), 2 * (q.y * q.z + q.w * q.x), 1 - 2 * (q.x ** 2 + q.y ** 2)]])
    # facing east: tracking forward (-Z) is world +X, up (+Y) is +Z, right (+X) is south (-Y)
    np.testing.assert_allclose(rot @ [0, 0, -1], [1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(rot @ [0, 1, 0], [0, 0, 1], atol=1e-9)
    np.testing.assert_allclose(rot @ [1, 0, 0], [0, -1, 0], atol=1e-9)
    assert (tf.translation.x, tf.translation.y) == (10.0, 20.0)
