import msgspec
import numpy as np
import pytest

from syncserver import golden
from syncserver import protocol as p
from syncserver.errors import ProtocolError

def decoder_for(msg: p.Message) -> p.Decoder:
    for union, make in ((p.ControlRequest, p.control_request_decoder), (p.ControlReply, p.control_reply_decoder),
                        (p.Broadcast, p.broadcast_decoder), (p.BusMessage, p.bus_decoder)):
        if type(msg) in union.__args__:
            return make()
    raise AssertionError(type(msg))


def test_every_type_belongs_to_exactly_one_direction():
    unions = [set(u.__args__) for u in (p.ControlRequest, p.ControlReply, p.Broadcast, p.BusMessage)]
    for t in p.ALL_MESSAGE_TYPES:
        assert sum(t in u for u in unions) == 1, t


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
        assert (golden.GOLDEN_DIR / name).read_bytes() == data, f"{name} is stale: run python -m syncserver.golden"


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
    ([b"tick", enc({"type": "TICK", "v": 2, "frame": 1})], "unsupported protocol version 2"),
    ([b"tick", enc({"type": "NOPE", "v": 1})], "unknown or unexpected message type 'NOPE'"),
    ([b"tick", enc({"type": "HELLO", "v": 1, "name": "x"})], "unknown or unexpected message type 'HELLO'"),
    ([b"tick", enc({"type": "TICK", "v": 1, "frame": "7", "sent_ns": 1, "dt_ns": 1, "epoch_ns": 1})], "$.frame"),
    ([b"tick", enc({"type": "TICK", "v": 1, "frame": -1, "sent_ns": 1, "dt_ns": 1, "epoch_ns": 1})], "$.frame"),
    ([b"tick", enc({"type": "TICK", "v": 1, "frame": 2**64 - 1, "sent_ns": 1, "dt_ns": 1, "epoch_ns": 1})], "$.frame"),
    ([b"tick", enc({"type": "TICK", "v": 1, "sent_ns": 1, "dt_ns": 1, "epoch_ns": 1, "extra": 1})], "extra"),
    ([b"tick", enc({"type": "TICK", "v": 1, "dt_ns": 1, "epoch_ns": 1})], "sent_ns"),
    ([b"tick", b"\x80" * (p.MAX_HEADER_BYTES + 1)], "oversized header"),
    ([b"tick", b"x"] + [b""] * (p.MAX_PAYLOAD_FRAMES + 1), "oversized message"),
]


@pytest.mark.parametrize("frames,needle", HOSTILE)
def test_hostile_broadcasts_are_rejected_with_a_clear_error(frames, needle):
    with pytest.raises(ProtocolError) as exc:
        p.broadcast_decoder().decode(frames)
    assert needle in str(exc.value)


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
