"""Direct streams: a producer offers a topic on its own PUB socket, subscribers of that topic on the
same host take it from there instead of through the bus proxy, and fall back to the bus when the
producer leaves. Real syncserver process, real sockets."""
from __future__ import annotations

import socket
import threading
import time

import zmq

from cosim import protocol as p
from cosim.config import NetworkSettings, resolve_endpoints
from cosim.node import DataEvent, Node, direct_bind_endpoint, is_local_endpoint
from tests.conftest import wait_for
from tests.syncserver.test_session_processes import endpoints

EXTERNAL = {"module": "client", "launch": False}


def pose(k: int) -> p.Pose:
    return p.Pose(device="hmd", sample_ns=k, position=(0, 0, 0), orientation=(1, 0, 0, 0))


def received(node: Node, producer: Node, direct: bool, tries: int = 250) -> list[DataEvent]:
    """Publish from ``producer`` until ``node`` gets poses over the expected path; those poses."""
    for k in range(tries):
        producer.publish(p.TOPIC_POSE, pose(k))
        time.sleep(0.01)
        producer.poll(0)
        got = [ev for ev in node.poll(0) if isinstance(ev, DataEvent)]
        if got and all(ev.direct == direct for ev in got):
            return got
    return []


def test_a_pose_stream_is_taken_direct_and_falls_back_to_the_bus(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 30},
                       components={"cons": {**EXTERNAL, "required": True}, "prod": EXTERNAL})
    procs.module("syncserver", cfg, out=tmp_path)
    eps = endpoints(cfg)
    with Node("cons", eps, required=True, data_topics=[p.TOPIC_POSE]) as cons, \
            Node("prod", eps, publish=True, direct_topics=[p.TOPIC_POSE]) as prod:
        assert cons.connect(20).direct == []  # nothing offered yet
        prod.connect(20)
        [offer] = prod.direct_offered
        assert offer.topic == "pose" and offer.host == socket.gethostname() and is_local_endpoint(offer.endpoint)
        prod.ready()
        cons.ready()  # sees prod's CLIENT joined/ready broadcasts, which carry the offer
        assert wait_for(lambda: cons.poll(0) is not None and cons.direct_topics_taken() == {"pose": [offer.endpoint]}, 10)
        assert received(cons, prod, direct=True), "poses never came over the direct stream"
        assert cons.direct_in.bus_held == set()  # left the bus once the direct path delivered

        with Node("late", eps, data_topics=[p.TOPIC_POSE]) as late:  # learns the offer from WELCOME
            assert late.connect(20).direct == [offer]
            assert late.direct_topics_taken() == {"pose": [offer.endpoint]}
            late.ready()
            assert received(late, prod, direct=True)

        prod.close("done")  # BYE: the CLIENT left broadcast withdraws the offer
        with Node("bus-only", eps, publish=True) as other:
            other.connect(20)
            other.ready()
            assert wait_for(lambda: cons.poll(0) is not None and cons.direct_topics_taken() == {}, 10)
            got = received(cons, other, direct=False)
            assert got and all(ev.msg.src == "bus-only" for ev in got)
        assert cons.stats.decode_errors == 0


def test_offers_are_taken_only_for_exact_topics_from_this_host_and_local_endpoints(write_config):
    eps = endpoints(write_config())
    here = socket.gethostname()
    with Node("cons", eps, data_topics=[p.TOPIC_POSE]) as cons, Node("mute", eps) as mute, \
            Node("all", eps, data_topics=[b"", p.TOPIC_POSE]) as everything:
        cons.direct_in.on_offer([p.DirectStream(topic="pose", endpoint="tcp://127.0.0.1:1", host="another-pc"),
                               p.DirectStream(topic="pose", endpoint="tcp://10.1.2.3:4000", host=here),
                               p.DirectStream(topic="sumo.vehicles", endpoint="tcp://127.0.0.1:2", host=here)])
        offer = p.DirectStream(topic="pose", endpoint="tcp://127.0.0.1:3", host=here)
        mute.direct_in.on_offer([offer])
        everything.direct_in.on_offer([offer])  # it would get pose over the bus too, through its b"" prefix
        assert cons.direct_topics_taken() == mute.direct_topics_taken() == everything.direct_topics_taken() == {}
        assert cons.direct_in.sub is None


def test_a_bad_or_silent_offer_costs_nothing(write_config, procs, tmp_path):
    """An endpoint that cannot be connected is logged and ignored; one that connects but never
    delivers leaves the bus subscription in place, so the topic keeps arriving."""
    cfg = write_config(session={"rate_hz": 90, "duration_s": 30}, components={"cons": {**EXTERNAL, "required": True}})
    procs.module("syncserver", cfg, out=tmp_path)
    eps = endpoints(cfg)
    here = socket.gethostname()
    nobody = resolve_endpoints(NetworkSettings(base_port=0)).control  # a free port no one binds
    with Node("cons", eps, required=True, data_topics=[p.TOPIC_POSE]) as cons, \
            Node("bus-only", eps, publish=True) as other:
        cons.connect(20)
        other.connect(20)
        other.ready()
        cons.ready()
        cons.direct_in.on_offer([p.DirectStream(topic="pose", endpoint="ipc://", host=here),
                               p.DirectStream(topic="pose", endpoint=nobody, host=here)])
        assert cons.direct_topics_taken() == {"pose": [nobody]}
        got = received(cons, other, direct=False)
        assert got and all(ev.msg.src == "bus-only" for ev in got)
        assert cons.direct_in.bus_held == {p.TOPIC_POSE}


def test_the_syncserver_passes_on_one_offer_per_topic(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 30}, components={"a": EXTERNAL})
    procs.module("syncserver", cfg, out=tmp_path)
    eps = endpoints(cfg)
    with Node("a", eps, publish=True, direct_topics=[p.TOPIC_POSE]) as a, \
            Node("b", eps, publish=True, direct_topics=[p.TOPIC_POSE]) as b:
        a.connect(20)
        b.connect(20)
        with Node("c", eps, data_topics=[p.TOPIC_POSE]) as c:
            assert c.connect(20).direct == a.direct_offered
    assert "direct offer of pose" in procs.log("syncserver") and "another component offers it" in procs.log("syncserver")


def test_events_that_arrive_while_ready_waits_are_all_handed_out(write_config):
    """ready() waits for a first broadcast; bus data that came before it is kept (it once kept only
    the first batch)."""
    import zmq
    eps = endpoints(write_config())
    ctx = zmq.Context.instance()
    ticks, bus = ctx.socket(zmq.PUB), ctx.socket(zmq.PUB)
    ticks.bind(eps.ticks)
    bus.bind(eps.bus_out)
    with Node("n", eps, data_topics=[p.TOPIC_POSE]) as node:
        def live() -> bool:
            bus.send_multipart(p.encode(p.TOPIC_POSE, pose(0)))
            time.sleep(0.05)
            return bool(node._read(0))
        assert wait_for(live, 5), "subscription never became live"
        for k in range(1, 6):
            bus.send_multipart(p.encode(p.TOPIC_POSE, pose(k)))
            time.sleep(0.08)  # one batch per ready() pass
        tick = p.encode(p.TOPIC_TICK, p.Tick(frame=1, t_ns=10, sent_ns=10, dt_ns=1, epoch_ns=0))
        threading.Timer(0.3, lambda: ticks.send_multipart(tick)).start()
        for k in range(6, 9):
            bus.send_multipart(p.encode(p.TOPIC_POSE, pose(k)))
        node.ready(timeout_s=1.5)  # no bus proxy here: its loopback probe times out, which is fine
        got = [ev.msg.sample_ns for ev in node.poll(0) if isinstance(ev, DataEvent)]
        assert got == list(range(1, 9))
    ticks.close()
    bus.close()


def test_a_message_that_arrives_over_both_paths_while_switching_is_handed_out_once(write_config):
    eps = endpoints(write_config())
    with Node("cons", eps, data_topics=[p.TOPIC_POSE]) as cons:
        cons.direct_in.switched(p.TOPIC_POSE)
        frames = [zmq.Frame(f) for f in p.encode(p.TOPIC_POSE, pose(7))]
        assert cons._on_bus(frames, time.monotonic_ns(), direct=True) is not None
        assert cons._on_bus(frames, time.monotonic_ns()) is None  # the bus copy of the same message
        assert cons._on_bus([zmq.Frame(f) for f in p.encode(p.TOPIC_POSE, pose(8))], time.monotonic_ns()) is not None
        assert cons.direct_in.duplicates == 1


def test_direct_endpoints_stay_on_this_host():
    assert direct_bind_endpoint("tcp://127.0.0.1:5552") == "tcp://127.0.0.1:*"
    first, second = direct_bind_endpoint("ipc:///tmp/s/bus-in"), direct_bind_endpoint("ipc:///tmp/s/bus-in")
    assert first.startswith("ipc:///tmp/s/direct-") and first != second  # one path per offer
    assert direct_bind_endpoint("ipc:///" + "d" * 100 + "/bus-in") is None  # longer than a socket path may be
    assert direct_bind_endpoint("tcp://192.168.1.20:5552") is None  # not loopback
    assert direct_bind_endpoint("inproc://bus-in") is None
    assert is_local_endpoint("tcp://localhost:5") and is_local_endpoint("ipc:///x")
    assert not is_local_endpoint("tcp://example.org:5") and not is_local_endpoint("inproc://x")


def test_a_producer_offering_more_than_the_protocol_carries_is_refused_at_once(write_config):
    import pytest
    eps = endpoints(write_config())
    with pytest.raises(ValueError, match="direct_topics: at most 16"):
        Node("p", eps, publish=True, direct_topics=[f"t{i}".encode() for i in range(17)])
