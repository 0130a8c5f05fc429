import msgspec
import numpy as np
import pytest

from cosim import golden
from cosim import protocol as p
from cosim.errors import ProtocolError

V = p.PROTOCOL_VERSION


def decoder_for(msg: p.Message) -> p.Decoder:
    for union, make in ((p.ControlRequest, p.control_request_decoder), (p.ControlReply, p.control_reply_decoder),
                        (p.Broadcast, p.broadcast_decoder), (p.BusMessage, p.bus_decoder)):
        if type(msg) in union.__args__:
            return make()
    raise AssertionError(type(msg))


def test_every_type_belongs_to_exactly_one_direction_but_probes_to_both():
    unions = [set(u.__args__) for u in (p.ControlRequest, p.ControlReply, p.Broadcast, p.BusMessage)]
    for t in p.ALL_MESSAGE_TYPES:
        assert sum(t in u for u in unions) == (2 if t in (p.Probe, p.ProbeReply) else 1), t


@pytest.mark.parametrize("name,topic,msg,arrays", golden.vectors(), ids=[v[0] for v in golden.vectors()])
def test_round_trip(name, topic, msg, arrays):
    frames = p.encode(topic, msg, arrays)
    got_topic, got, got_arrays = decoder_for(msg).decode([bytes(f) for f in frames])
    assert got_topic == topic
    assert got == msg
    assert set(got_arrays) == set(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(got_arrays[k], v)
        assert got_arrays[k].dtype == v.dtype


def test_golden_files_match_the_module():
    files = golden.generate()
    for name, data in files.items():
        assert (golden.GOLDEN_DIR / name).read_bytes() == data, f"{name} is stale: run python -m cosim.golden"


@pytest.mark.parametrize("name", [v[0] for v in golden.vectors()])
def test_golden_files_decode(name):
    frames = golden.unpack_frames((golden.GOLDEN_DIR / f"{name}.bin").read_bytes())
    _, topic, expected, arrays = {v[0]: v for v in golden.vectors()}[name]
    assert [bytes(f) for f in p.encode(topic, expected, arrays)] == frames
    _, msg, got_arrays = decoder_for(expected).decode(frames)
    assert msg == expected
    for k, v in arrays.items():
        np.testing.assert_array_equal(got_arrays[k], v)


def test_tick_header_starts_with_type_and_common_fields():
    frames = p.encode(p.TOPIC_TICK, p.Tick(frame=1, t_ns=2, src="s", sent_ns=3, dt_ns=4, epoch_ns=5))
    header = msgspec.msgpack.decode(frames[1])
    assert list(header)[:5] == ["type", "v", "frame", "t_ns", "src"]
    assert header["v"] == p.PROTOCOL_VERSION


def enc(obj) -> bytes:
    return msgspec.msgpack.encode(obj)


HOSTILE = [
    ([b"tick"], "truncated"),
    ([], "truncated"),
    ([b"tick", b"\xc1"], "malformed"),
    ([b"tick", b"\x92\x01\x02"], "malformed"),
    ([b"tick", enc({"type": "TICK", "v": 3, "frame": 1})], "unsupported protocol version 3 (this side speaks 5)"),
    ([b"tick", enc({"type": "TICK", "v": 6, "frame": 1})], "unsupported protocol version 6"),
    ([b"tick", enc({"type": "TICK", "frame": 1, "sent_ns": 1, "dt_ns": 1, "epoch_ns": 1})], "missing required field `v`"),
    ([b"tick", enc({"type": "NOPE", "v": V})], "unknown or unexpected message type 'NOPE'"),
    ([b"tick", enc({"type": "HELLO", "v": V, "name": "x"})], "unknown or unexpected message type 'HELLO'"),
    ([b"tick", enc({"type": "TICK", "v": V, "frame": "7", "sent_ns": 1, "dt_ns": 1, "epoch_ns": 1})], "$.frame"),
    ([b"tick", enc({"type": "TICK", "v": V, "frame": -1, "sent_ns": 1, "dt_ns": 1, "epoch_ns": 1})], "$.frame"),
    ([b"tick", enc({"type": "TICK", "v": V, "frame": 2**64 - 1, "sent_ns": 1, "dt_ns": 1, "epoch_ns": 1})], "$.frame"),
    ([b"tick", enc({"type": "TICK", "v": V, "sent_ns": 1, "dt_ns": 1, "epoch_ns": 1, "extra": 1})], "extra"),
    ([b"tick", enc({"type": "TICK", "v": V, "dt_ns": 1, "epoch_ns": 1})], "sent_ns"),
    ([b"tick", b"\x80" * (p.MAX_HEADER_BYTES + 1)], "oversized header"),
    ([b"session", enc({"type": "CLIENT", "v": V, "name": "pose", "event": "joined",
                       "direct": [{"topic": "pose", "endpoint": "http://x", "host": "h"}]})], "$.direct[0].endpoint"),
    ([b"session", enc({"type": "CLIENT", "v": V, "name": "pose", "event": "joined",
                       "direct": [{"topic": "pose", "endpoint": "tcp://127.0.0.1:1"}]})], "`host`"),
    ([b"session", enc({"type": "CLIENT", "v": V, "name": "pose", "event": "joined",
                       "direct": [{"topic": "pose", "endpoint": "tcp://127.0.0.1:1", "host": "h"}] * 17})], "$.direct"),
    ([b"tick", b"x"] + [b""] * (p.MAX_PAYLOAD_FRAMES + 1), "oversized message"),
]


def test_array_payload_checks():
    good = p.encode(p.TOPIC_RESIDUALS, p.Residuals(asset="a", base_frame=1),
                    {"offsets": np.zeros((4, 3), np.float16)})
    dec = p.bus_decoder()
    with pytest.raises(ProtocolError, match="truncated or corrupt"):
        dec.decode([good[0], good[1], bytes(good[2])[:-1]])
    with pytest.raises(ProtocolError, match="1 array"):
        dec.decode(good[:2])
    with pytest.raises(ProtocolError, match="not allowed"):
        hdr = msgspec.msgpack.decode(good[1])
        hdr["arrays"][0]["dtype"] = "O"
        dec.decode([good[0], enc(hdr), good[2]])
    with pytest.raises(ProtocolError, match="oversized"):
        p.Decoder(p.BusMessage, max_message_bytes=10).decode(good)
    arr = dec.decode([bytes(f) for f in good])[2]["offsets"]
    assert arr.shape == (4, 3) and arr.dtype == np.float16


def test_big_endian_arrays_are_sent_little_endian():
    frames = p.encode(p.TOPIC_VEHICLES, p.Vehicles(sim_ns=0, ids_version=0), {"x": np.array([1.5], dtype=">f4")})
    _, msg, arrays = p.bus_decoder().decode(frames)
    assert msg.arrays[0].dtype == "<f4" and arrays["x"][0] == 1.5


def test_control_request_rejects_oversized_messages():
    with pytest.raises(ProtocolError, match="oversized"):
        p.control_request_decoder().decode([b"ctl", b"\x80", b"x" * 100_000])


# --- fixed-width byte strings and the vehicle id table ------------------------------------------

@pytest.mark.parametrize("dtype", ["|S1", "|S7", "|S512"])
def test_byte_string_dtypes_are_allowed(dtype):
    names = np.array([b"a", b"\xc3\xa9"[: int(dtype[2:])]], dtype=dtype)
    frames = p.encode(p.TOPIC_RESIDUALS, p.Residuals(asset="a", base_frame=1), {"labels": names})
    _, msg, arrays = p.bus_decoder().decode([bytes(f) for f in frames])
    assert msg.arrays[0].dtype == dtype and arrays["labels"].dtype.str == dtype
    np.testing.assert_array_equal(arrays["labels"], names)


@pytest.mark.parametrize("dtype", ["|S0", "|S513", "<S4", ">S4", "|U4", "<U4", "|S08", "|S", "S4", "|S-1", "|V4"])
def test_other_string_dtypes_are_rejected_naming_array_and_dtype(dtype):
    good = p.encode(p.TOPIC_RESIDUALS, p.Residuals(asset="a", base_frame=1), {"labels": np.zeros(2, "|S4")})
    hdr = msgspec.msgpack.decode(good[1])
    hdr["arrays"][0]["dtype"] = dtype
    with pytest.raises(ProtocolError, match=rf"array 'labels': dtype '{dtype}' is not allowed"):
        p.bus_decoder().decode([good[0], enc(hdr), bytes(good[2])])
    assert p.ALLOWED_DTYPES >= {"|S1", "|S512", "<f4"} and "|S0" not in p.ALLOWED_DTYPES


def test_encode_refuses_unicode_arrays():
    with pytest.raises(ProtocolError, match=r"array 'labels': dtype '<U1' is not allowed"):
        p.encode(p.TOPIC_RESIDUALS, p.Residuals(asset="a", base_frame=1), {"labels": np.array(["x"])})


def ids_frames(handles, ids, types, version=3):
    return [bytes(f) for f in p.encode(p.TOPIC_VEHICLE_IDS, p.VehicleIds(ids_version=version),
                                       p.vehicle_ids_arrays(handles, ids, types))]


def test_vehicle_ids_travel_as_arrays():
    frames = ids_frames([4, 9, 2], ["veh0", "bus_7", "fußgänger.2"], ["passenger", "bus", ""])
    _, msg, arrays = p.bus_decoder().decode(frames)
    assert [a.name for a in msg.arrays] == ["handles", "ids", "types", "classes", "size_cm", "color"]
    assert [a.dtype for a in msg.arrays] == ["<u4", "|S13", "|S9", "|S1", "<f4", "|u1"]  # 'fußgänger.2' is 13 UTF-8 bytes
    table = p.vehicle_id_table(msg, arrays)
    assert table[:4] == ([4, 9, 2], ["veh0", "bus_7", "fußgänger.2"], ["passenger", "bus", ""], ["", "", ""])
    assert table.size_cm.shape == (3, 3) and table.color.shape == (3, 4) and not table.size_cm.any()
    empty = p.bus_decoder().decode(ids_frames([], [], []))
    assert [a.dtype for a in empty[1].arrays] == ["<u4", "|S1", "|S1", "|S1", "<f4", "|u1"]
    assert p.vehicle_id_table(empty[1], empty[2])[:4] == ([], [], [], [])


def test_what_each_vehicle_is_travels_with_its_id():
    arrays = p.vehicle_ids_arrays([1, 2], ["car", "walker"], ["hatchback", "ped"], ["passenger", "pedestrian"],
                                  [[430.5, 175.0, 151.0], [21.5, 47.8, 172.0]], [[255, 0, 0, 255], [0, 0, 0, 0]])
    frames = [bytes(f) for f in p.encode(p.TOPIC_VEHICLE_IDS, p.VehicleIds(ids_version=1), arrays)]
    _, msg, got = p.bus_decoder().decode(frames)
    table = p.vehicle_id_table(msg, got)
    assert table.classes == ["passenger", "pedestrian"]
    assert table.size_cm.tolist() == [[430.5, 175.0, 151.0], [21.5, 47.799999237060547, 172.0]]
    assert table.color.tolist() == [[255, 0, 0, 255], [0, 0, 0, 0]]
    with pytest.raises(ProtocolError, match=r"size_cm must be finite numbers of shape \(n, 3\)"):
        p.vehicle_ids_arrays([1], ["a"], ["t"], ["c"], [[1.0, 2.0]])
    bad = dict(arrays, size_cm=np.array([[np.nan, 1, 1], [1, 1, 1]], "<f4"))
    with pytest.raises(ProtocolError, match="size_cm must be finite and not negative"):
        p.bus_decoder().decode([bytes(f) for f in p.encode(p.TOPIC_VEHICLE_IDS, p.VehicleIds(ids_version=1), bad)])
    with pytest.raises(ProtocolError, match="must not be negative"):
        p.vehicle_ids_arrays([1], ["a"], ["t"], ["c"], [[-1.0, 2.0, 1.0]])
    with pytest.raises(ProtocolError, match=r"color values must lie in \[0, 255\]"):
        p.vehicle_ids_arrays([1], ["a"], ["t"], ["c"], None, [[0, 0, 256, 0]])


def test_traffic_lights_travel_as_arrays_and_are_checked():
    arrays = p.traffic_lights_arrays(["C", "J7"], ["GGrr", "ryGGg"])
    frames = [bytes(f) for f in p.encode(p.TOPIC_TRAFFIC_LIGHTS, p.TrafficLights(sim_ns=5, lights_version=3), arrays)]
    _, msg, got = p.bus_decoder().decode(frames)
    assert p.traffic_light_table(msg, got) == {"C": "GGrr", "J7": "ryGGg"}
    bad = _rewrite(frames, lambda s: [s[0], _spec("states", "<u4", [1])], lambda f: [f[0], b"GGrr"])
    with pytest.raises(ProtocolError, match="TRAFFIC_LIGHTS: array 'states' must be a byte string"):
        p.bus_decoder().decode(bad)
    with pytest.raises(ProtocolError, match="2 ids and 1 states"):
        p.traffic_lights_arrays(["a", "b"], ["G"])


def test_a_city_scale_id_table_fits_the_protocol():
    n = 20_000
    ids = [f"{i:06d}." + "é" * 200 if i % 2 else f"{i:06d}".ljust(300, "x") for i in range(n)]  # clipped to 128
    types = [f"type{i % 17}" for i in range(n)]
    frames = ids_frames(np.arange(n, dtype=np.uint32) * 3, ids, types, version=2**32 - 1)
    assert len(frames[1]) < 1024  # the header only describes the arrays
    _, msg, arrays = p.bus_decoder().decode(frames)
    assert msg.arrays[1].dtype == "|S249"  # 7 ASCII + 121 two-byte characters
    handles, got_ids, got_types, *_ = p.vehicle_id_table(msg, arrays)
    assert handles == list(range(0, 3 * n, 3)) and got_types == types
    assert got_ids == [i[:p.NAME_LIMIT] for i in ids]


def test_vehicle_ids_arrays_refuses_what_cannot_travel():
    with pytest.raises(ProtocolError, match="NUL"):
        p.vehicle_ids_arrays([1], ["a\0b"], ["car"])
    with pytest.raises(ProtocolError, match="columns of different lengths: .'handles': 1, 'ids': 2, 'types': 1"):
        p.vehicle_ids_arrays([1], ["a", "b"], ["car"])
    with pytest.raises(ProtocolError, match="outside"):
        p.vehicle_ids_arrays([-1], ["a"], ["car"])
    with pytest.raises(ProtocolError, match="strings"):
        p.vehicle_ids_arrays([1], [b"a"], ["car"])
    with pytest.raises(ProtocolError, match="UTF-8"):
        p.vehicle_ids_arrays([1], ["\udc80"], ["car"])


def _rewrite(frames, specs=None, payload=None):
    hdr = msgspec.msgpack.decode(frames[1])
    if specs is not None:
        hdr["arrays"] = specs(hdr["arrays"])
    return [frames[0], enc(hdr), *(payload(frames[2:]) if payload else frames[2:])]


def _spec(name, dtype, shape):
    return {"name": name, "dtype": dtype, "shape": shape}


GOOD = ids_frames([0, 1, 5], ["veh0", "bus_7", "ped"], ["passenger", "bus", "bicycle"])
HOSTILE_IDS = [
    (_rewrite(GOOD, lambda s: s[:2], lambda f: f[:2]), "missing array 'types'"),
    (_rewrite(GOOD, lambda s: [], lambda f: []), "missing array 'handles'"),
    (_rewrite(GOOD, lambda s: [s[0], s[2], s[1], *s[3:]], lambda f: [f[0], f[2], f[1], *f[3:]]), "in this order"),
    (_rewrite(GOOD, lambda s: [*s, _spec("extra", "<u4", [3])], lambda f: [*f, f[0]]), "unexpected array 'extra'"),
    (_rewrite(GOOD, lambda s: [_spec("handles", "<i4", [3]), *s[1:]]), "'handles' must be <u4, got <i4"),
    (_rewrite(GOOD, lambda s: [s[0], _spec("ids", "<u4", [1]), *s[2:]], lambda f: [f[0], b"veh0", *f[2:]]),
     "'ids' must be a byte string |S<w>, got <u4"),
    (_rewrite(GOOD, lambda s: [s[0], _spec("ids", "|S5", [3, 1]), *s[2:]]), "'ids' must be one-dimensional"),
    (_rewrite(GOOD, lambda s: [s[0], s[1], _spec("types", "|S9", [2]), *s[3:]], lambda f: [f[0], f[1], f[2][:18], *f[3:]]),
     "lengths differ: handles 3, ids 3, types 2, classes 3, size_cm 3, color 3"),
    (_rewrite(GOOD, lambda s: [*s[:4], _spec("size_cm", "<f4", [3, 2]), s[5]], lambda f: [*f[:4], f[4][:24], f[5]]),
     "'size_cm' must be of shape (n, 3)"),
    (_rewrite(GOOD, lambda s: [*s[:5], _spec("color", "<u4", [3, 4])], lambda f: [*f[:5], f[5] * 4]),
     "'color' must be |u1, got <u4"),
    (_rewrite(GOOD, payload=lambda f: [f[0], b"veh0\0" + b"b\xffs_7" + b"ped\0\0", *f[2:]]), "ids[1] is not valid UTF-8"),
    (_rewrite(GOOD, payload=lambda f: [f[0], b"veh0\0" + b"\xc3\0\0\0\0" + b"ped\0\0", *f[2:]]),
     "ids[1] is not valid UTF-8"),  # a sequence cut by the padding
    (_rewrite(GOOD, payload=lambda f: [f[0], b"veh0\0" + b"bus_\xc3" + b"\xa9ed\0\0", *f[2:]]),
     "ids[1] is not valid UTF-8"),  # ... or by the end of the field
    (_rewrite(GOOD, payload=lambda f: [f[0], b"veh0\0" + b"\xc0\xafs_7" + b"ped\0\0", *f[2:]]),
     "ids[1] is not valid UTF-8"),  # an overlong '/'
    (_rewrite(GOOD, payload=lambda f: [f[0], b"veh0\0" + b"b\0s_7" + b"ped\0\0", *f[2:]]), "ids[1] contains a NUL"),
    (_rewrite(GOOD, payload=lambda f: [f[0], f[1], b"\0assenger" + f[2][9:], *f[3:]]), "types[0] contains a NUL"),
]


@pytest.mark.parametrize("decoder,frames,needle", [(p.broadcast_decoder, f, n) for f, n in HOSTILE]
                         + [(p.bus_decoder, f, n) for f, n in HOSTILE_IDS])
def test_hostile_messages_are_rejected_with_a_clear_error(decoder, frames, needle):
    with pytest.raises(ProtocolError) as exc:
        decoder().decode(frames)
    assert needle in str(exc.value)


def test_vehicle_id_table_checks_what_it_is_given():
    _, msg, arrays = p.bus_decoder().decode(GOOD)
    with pytest.raises(ProtocolError, match="missing array 'ids'"):
        p.vehicle_id_table(msg, {"handles": arrays["handles"]})
    with pytest.raises(ProtocolError, match="not a VEHICLE_IDS"):
        p.vehicle_id_table(p.Request(what="x"), arrays)
    long = np.array([b"x" * 129], dtype="|S129")
    rest = {"size_cm": np.zeros((1, 3), "<f4"), "color": np.zeros((1, 4), "|u1")}
    with pytest.raises(ProtocolError, match=r"ids\[0\] is longer than 128 characters"):
        p.vehicle_id_table(msg, {"handles": np.zeros(1, "<u4"), "ids": long, "types": long, "classes": long, **rest})
    ok = np.array(["é".encode() * 128], dtype="|S256")  # 128 characters in 256 bytes
    assert p.vehicle_id_table(msg, {"handles": np.zeros(1, "<u4"), "ids": ok, "types": ok, "classes": ok,
                                    **rest})[1] == ["é" * 128]


def test_the_version_is_required_and_field_order_is_free():
    """docs/protocol.md: `type` and `v` are required in every header; other fields may come in any
    order, and fields with a default may be left out."""
    no_version = enc({"type": "HELLO", "name": "client"})
    with pytest.raises(ProtocolError, match="missing required field `v`"):
        p.control_request_decoder().decode([p.TOPIC_CONTROL, no_version])
    reversed_keys = enc(dict(reversed(list({"type": "HELLO", "v": p.PROTOCOL_VERSION, "name": "client",
                                            "pid": 7}.items()))))
    _, msg, _ = p.control_request_decoder().decode([p.TOPIC_CONTROL, reversed_keys])
    assert isinstance(msg, p.Hello) and msg.name == "client" and msg.pid == 7 and msg.role == "component"
