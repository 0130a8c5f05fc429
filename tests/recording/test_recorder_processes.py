"""The recorder as a real process on real sockets: completeness, and what a SIGKILL leaves behind."""
from __future__ import annotations

import copy
import json
import os
import signal
from pathlib import Path

from recording.reader import Recording
from cosim.config import resolve_endpoints
from session.config import load_config
from cosim import golden
from cosim import protocol as p
from cosim.node import Node, TickEvent
from tests.conftest import wait_for

BUS_TOPICS = {p.TOPIC_VEHICLES, p.TOPIC_VEHICLE_IDS, p.TOPIC_EVENTS, p.TOPIC_POSE, p.TOPIC_RESIDUALS,
              p.TOPIC_AUDIO, p.TOPIC_FRAMES, p.TOPIC_REQUEST}


def endpoints(config: Path):
    return resolve_endpoints(load_config(config, check_components=False).network)


def bus_vectors():
    return [(t, m, a) for _, t, m, a in golden.vectors() if t in BUS_TOPICS]


def test_every_published_message_is_in_the_recording(write_config, procs, tmp_path):
    cfg = write_config(session={"mode": "lockstep", "pace": 0, "rate_hz": 90, "duration_s": 1},
                       components={"tester": {"module": "client", "required": True},
                                   "recorder": {"module": "recording",
                                                "settings": {"omit_payloads": []}}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    recorder = procs.module("recording", cfg, name="recorder", out=tmp_path)
    sent: list[tuple[bytes, p.Message, dict]] = []
    with Node("tester", endpoints(cfg), required=True, publish=True) as node:
        node.connect(20)
        node.ready()
        for ev in node.events():
            if isinstance(ev, TickEvent):
                for topic, msg, arrays in bus_vectors():
                    msg = copy.deepcopy(msg)
                    msg.frame, msg.t_ns = ev.frame, ev.tick.t_ns
                    node.publish(topic, msg, arrays)
                    sent.append((topic, msg, arrays))
                node.ack(ev)
    assert server.wait(30) == 0, procs.log("syncserver")
    assert recorder.wait(30) == 0, procs.log("recorder")
    rec = Recording.open(tmp_path / "session.mcap")
    got = list(rec.messages())
    assert rec.complete and rec.bad_records == 0
    bus = [d for d in got if d.topic in BUS_TOPICS]
    assert len(bus) == len(sent) == 90 * len(bus_vectors())
    for d, (topic, msg, arrays) in zip(bus, sent):
        assert d.topic == topic and d.msg == msg
        assert set(d.arrays) == set(arrays) and all((d.arrays[k] == v).all() for k, v in arrays.items())
    ticks = [d.msg.frame for d in got if d.topic == p.TOPIC_TICK]
    assert ticks == list(range(90))
    kinds = [type(d.msg).__name__ for d in got if d.topic == p.TOPIC_SESSION]
    assert {"Start", "End", "ClientEvent", "Status"} <= set(kinds)
    section = json.loads((tmp_path / "sections" / "recorder.json").read_text())["recording"]
    assert section["messages"] == len(got) and section["decode_errors"] == 0
    assert section["by_topic"]["sumo.vehicles"] == 90


def test_a_sigkilled_recorder_leaves_a_file_readable_up_to_the_last_second(write_config, procs, tmp_path):
    cfg = write_config(session={"mode": "realtime", "rate_hz": 90, "duration_s": 20},
                       components={"recorder": {"module": "recording", "settings": {"flush_interval_s": 0.5}},
                                   "watch": {"module": "client", "wait_ready": False}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    recorder = procs.module("recording", cfg, name="recorder", out=tmp_path)
    with Node("watch", endpoints(cfg)) as node:
        node.connect(20)
        node.ready()
        killed_at = None
        for ev in node.events():
            if isinstance(ev, TickEvent) and ev.tick.t_ns >= 3_000_000_000:
                os.killpg(recorder.pid, signal.SIGKILL)
                killed_at = ev.tick.t_ns
                break
    assert killed_at is not None
    assert recorder.wait(10) == -signal.SIGKILL
    os.killpg(server.pid, signal.SIGINT)
    server.wait(20)
    rec = Recording.open(tmp_path / "session.mcap")
    ticks = [d.msg for d in rec.messages() if d.topic == p.TOPIC_TICK]
    assert not rec.complete, "a killed recorder cannot have written the footer"
    assert [t.frame for t in ticks] == list(range(len(ticks))), "the readable part has no holes"
    lost_s = (killed_at - ticks[-1].t_ns) / 1e9
    assert lost_s <= 1.0, f"the last {lost_s:.2f} s before the kill are lost (allowed: 1 s)"
    assert wait_for(lambda: server.poll() is not None, 5)


def test_the_recorder_keeps_what_comes_after_end(write_config, tmp_path):
    """While the others say BYE after END, the syncserver broadcasts their CLIENT left events; the
    recorder records them during its linger (the runtime's first version handed out only bus data)."""
    import subprocess
    import sys

    import msgpack
    from mcap.reader import make_reader

    from tests.conftest import REPO
    cfg = write_config(session={"rate_hz": 90, "duration_s": 1},
                       components={"client": {"module": "client", "required": True},
                                   "recorder": {"module": "recording"}})
    out = tmp_path / "s"
    res = subprocess.run([sys.executable, "run_session.py", "--config", str(cfg), "--out", str(out), "--quiet"],
                         cwd=REPO, capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, res.stdout + res.stderr
    with open(out / "session.mcap", "rb") as f:
        headers = [msgpack.unpackb(m.data)[0] for _, c, m in make_reader(f).iter_messages() if c.topic == "session"]
    types = [h["type"] for h in headers]
    assert "END" in types
    after = headers[types.index("END") + 1:]
    assert any(h["type"] == "CLIENT" and h["event"] == "left" and h["name"] == "client" for h in after), after
