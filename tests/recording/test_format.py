"""The record container, the MCAP writer and the tolerant reader, without any process."""
from __future__ import annotations

import os

import msgspec
import numpy as np
import pytest

from recording import container
from recording.errors import RecordingError
from recording.reader import Recording
from recording.writer import SessionWriter
from cosim import golden
from cosim import protocol as p

WIRE_TOPICS = set(container.TOPIC_TYPES)


def wire_vectors():
    """Every golden message that travels on the tick socket or the bus (the recorder's inputs)."""
    return [(n, t, m, a) for n, t, m, a in golden.vectors() if t in WIRE_TOPICS]


def write_all(path, vectors, **kw):
    w = SessionWriter(path, **kw)
    for i, (_, topic, msg, arrays) in enumerate(vectors):
        frames = p.encode(topic, msg, arrays)
        w.write(topic, frames[1], frames[2:], log_ns=1000 + i, publish_ns=msg.t_ns)
    return w


def test_container_round_trip_and_plain_msgpack():
    header = msgspec.msgpack.encode({"type": "X", "v": 1})
    payloads = [b"", b"a" * 200, b"b" * 70_000]
    data = container.pack(header, payloads)
    got_header, got_payloads = container.unpack(data)
    assert got_header == header and got_payloads == payloads
    assert msgspec.msgpack.decode(data) == [{"type": "X", "v": 1}, *payloads]  # any msgpack reader


@pytest.mark.parametrize("bad", [b"", b"\x90", b"\xc0", b"\x92\x80", b"\x91\x80\xc4\x05ab", b"garbage"])
def test_container_rejects_hostile_records(bad):
    with pytest.raises(RecordingError):
        container.unpack(bad)


def test_every_message_type_reads_back_byte_for_byte(tmp_path):
    vectors = wire_vectors()
    assert {type(m) for _, _, m, _ in vectors} == set(p.Broadcast.__args__) | set(p.BusMessage.__args__)
    w = write_all(tmp_path / "s.mcap", vectors)
    w.close()
    rec = Recording.open(tmp_path / "s.mcap")
    records = list(rec.records())
    assert rec.complete and rec.stopped is None
    assert len(records) == len(vectors)
    for r, (name, topic, msg, arrays) in zip(records, vectors):
        frames = p.encode(topic, msg, arrays)
        assert r.topic == topic and r.header == bytes(frames[1]), name
        assert r.payloads == [bytes(f) for f in frames[2:]], name
    decoded = list(rec.messages())
    assert [d.msg for d in decoded] == [m for _, _, m, _ in vectors]
    for d, (_, _, _, arrays) in zip(decoded, vectors):
        assert set(d.arrays) == set(arrays)
        for k, v in arrays.items():
            np.testing.assert_array_equal(d.arrays[k], v)


def test_schemas_document_each_channel(tmp_path):
    w = write_all(tmp_path / "s.mcap", wire_vectors())
    w.write_view("/timing/ticks", {"frame": 1, "lateness_us": 2.5}, log_ns=10)
    w.close()
    from mcap.reader import make_reader
    with open(tmp_path / "s.mcap", "rb") as f:
        summary = make_reader(f).get_summary()
    channels = {c.topic: c for c in summary.channels.values()}
    assert channels["sumo.vehicles"].message_encoding == "msgpack"
    assert channels["/timing/ticks"].message_encoding == "json"
    schema = summary.schemas[channels["sumo.vehicles"].schema_id]
    assert schema.encoding == "jsonschema" and b"sim_ns" in schema.data
    # a viewing channel is not returned as a wire record
    assert len(list(Recording.open(tmp_path / "s.mcap").records())) == len(wire_vectors())


def test_omitted_payloads_keep_the_header(tmp_path):
    _, topic, msg, arrays = next(v for v in wire_vectors() if v[1] == p.TOPIC_RESIDUALS)
    frames = p.encode(topic, msg, arrays)
    w = SessionWriter(tmp_path / "s.mcap")
    w.write(topic, frames[1], [], log_ns=1, publish_ns=1)
    w.close()
    [d] = list(Recording.open(tmp_path / "s.mcap").messages())
    assert d.payload_omitted and d.arrays == {} and d.msg == msg


def test_a_torn_file_reads_up_to_the_last_flush(tmp_path):
    vectors = wire_vectors()
    path = tmp_path / "s.mcap"
    w = write_all(path, vectors)
    w.flush()
    flushed = path.stat().st_size
    # more messages after the flush sit in the unfinished chunk: a crash now loses them
    for i, (_, topic, msg, arrays) in enumerate(vectors):
        frames = p.encode(topic, msg, arrays)
        w.write(topic, frames[1], frames[2:], log_ns=10_000 + i, publish_ns=0)
    # never closed: no summary, no footer; also tear the file in the middle of a record
    with open(path, "ab") as f:
        f.write(b"\x06\xff\xff\x00\x00\x00\x00\x00\x00partial")
    assert path.stat().st_size > flushed
    rec = Recording.open(path)
    got = list(rec.records())
    assert not rec.complete and rec.stopped
    assert len(got) == len(vectors)


def test_not_an_mcap_file_is_named_in_the_error(tmp_path):
    bad = tmp_path / "bad.mcap"
    bad.write_bytes(os.urandom(100))
    with pytest.raises(RecordingError, match="bad.mcap.*not an MCAP"):
        Recording.open(bad)
    with pytest.raises(RecordingError, match="no such session folder"):
        Recording.open(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordingError, match="no session.mcap"):
        Recording.open(tmp_path / "empty")


def test_garbage_records_are_counted_not_fatal(tmp_path):
    path = tmp_path / "s.mcap"
    w = SessionWriter(path)
    w.write(p.TOPIC_POSE, b"\x81\xa4type\xa4NOPE", [], log_ns=1, publish_ns=1)  # valid msgpack, bad message
    _, topic, msg, arrays = next(v for v in wire_vectors() if v[1] == p.TOPIC_POSE)
    w.write(topic, p.encode(topic, msg)[1], [], log_ns=2, publish_ns=2)
    w.close()
    rec = Recording.open(path)
    got = list(rec.messages())
    assert [d.msg for d in got] == [msg] and rec.bad_records == 1


def test_recorder_settings_reject_bad_values():
    from cosim.config import convert
    from recording.config import Settings
    from cosim.errors import ConfigError
    with pytest.raises(ConfigError, match="flush_interval_s"):
        convert({"flush_interval_s": 5}, Settings, where="components.recorder.settings")
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        convert({"colour": 1}, Settings, where="components.recorder.settings")


def test_report_columns_stay_bounded_and_evenly_spread():
    """The report reads a recording of any length in bounded memory: a stream keeps at most
    max_rows rows, thinned evenly (an hour of 1 kHz poses took 400+ MB before)."""
    from recording.report.data import Columns
    cols = Columns("t", max_rows=1000)
    for i in range(100_000):
        if cols.wants():
            cols.add(i)
        else:
            cols.skip()
    t = cols.arrays()["t"]
    assert 500 <= len(t) <= 1000 and cols.offered == 100_000
    assert t[0] == 0 and t[-1] > 95_000 and len(set(np.diff(t))) == 1  # one stride from start to end
