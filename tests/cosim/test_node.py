"""The client library against real sockets bound by the test (no syncserver)."""
import time

import numpy as np
import zmq

from cosim.config import Endpoints
from cosim import protocol as p
from cosim.node import DataEvent, Node, TickEvent
from tests.conftest import free_endpoints, wait_for


def test_data_is_handed_out_before_a_tick_of_the_same_batch():
    eps = Endpoints(**free_endpoints())
    ctx = zmq.Context.instance()
    ticks, bus = ctx.socket(zmq.PUB), ctx.socket(zmq.PUB)
    ticks.bind(eps.ticks)
    bus.bind(eps.bus_out)
    with Node("n", eps, data_topics=[p.TOPIC_POSE]) as node:
        pose = p.Pose(device="hmd", sample_ns=5, position=(0, 0, 0), orientation=(1, 0, 0, 0))
        tick = p.Tick(frame=1, t_ns=10, sent_ns=10, dt_ns=1, epoch_ns=0)

        def both_arrive() -> bool:
            ticks.send_multipart(p.encode(p.TOPIC_TICK, tick))
            bus.send_multipart(p.encode(p.TOPIC_POSE, pose))
            time.sleep(0.05)
            got = node.poll(0)
            return len(got) == 2
        assert wait_for(both_arrive, 5), "subscriptions never became live"
        ticks.send_multipart(p.encode(p.TOPIC_TICK, tick))
        bus.send_multipart(p.encode(p.TOPIC_POSE, pose))
        time.sleep(0.05)
        got = node.poll(0)
        assert [type(e) for e in got] == [DataEvent, TickEvent]
        assert node.stats.decode_errors == 0
        ticks.send_multipart([p.TOPIC_TICK, b"\xc1"])
        time.sleep(0.05)
        assert node.poll(0) == [] and node.stats.decode_errors == 1
    ticks.close()
    bus.close()


def test_wait_ends_on_time_without_a_message_and_at_once_with_one():
    eps = Endpoints(**free_endpoints())
    ticks = zmq.Context.instance().socket(zmq.PUB)
    ticks.bind(eps.ticks)
    with Node("n", eps) as node:
        t0 = time.monotonic_ns()
        assert node.wait(2_000_000) is False
        assert time.monotonic_ns() - t0 >= 2_000_000
        tick = p.Tick(frame=1, t_ns=10, sent_ns=10, dt_ns=1, epoch_ns=0)

        def woken_by_a_tick() -> bool:
            ticks.send_multipart(p.encode(p.TOPIC_TICK, tick))
            return node.wait(500_000_000) and any(isinstance(e, TickEvent) for e in node.poll(0))
        assert wait_for(woken_by_a_tick, 5)
        ticks.send_multipart(p.encode(p.TOPIC_TICK, tick))
        t0 = time.monotonic_ns()
        assert node.wait(5_000_000_000) is True
        assert time.monotonic_ns() - t0 < 1_000_000_000  # woken by the message, not the timeout
    ticks.close()


def test_an_inconsistent_vehicle_id_table_is_dropped_and_counted():
    eps = Endpoints(**free_endpoints())
    bus = zmq.Context.instance().socket(zmq.PUB)
    bus.bind(eps.bus_out)
    good = p.encode(p.TOPIC_VEHICLE_IDS, p.VehicleIds(ids_version=1),
                    p.vehicle_ids_arrays([0, 7], ["veh0", "veh7"], ["car", "bus"]))
    bad = p.encode(p.TOPIC_VEHICLE_IDS, p.VehicleIds(ids_version=1),  # two handles, one type
                   {**p.vehicle_ids_arrays([0, 7], ["veh0", "veh7"], ["car", "bus"]), "types": np.array([b"car"])})
    with Node("n", eps, data_topics=[p.TOPIC_VEHICLE_IDS]) as node:
        def arrives() -> bool:
            bus.send_multipart(good)
            time.sleep(0.05)
            return any(isinstance(e, DataEvent) for e in node.poll(0))
        assert wait_for(arrives, 5), "subscription never became live"
        bus.send_multipart(bad)
        bus.send_multipart(good)
        time.sleep(0.05)
        got = node.poll(0)
        assert node.stats.decode_errors == 1 and len(got) == 1  # the node keeps going
        assert p.vehicle_id_table(got[0].msg, got[0].arrays)[:3] == ([0, 7], ["veh0", "veh7"], ["car", "bus"])
    bus.close()


def test_a_lost_probe_reply_neither_spins_the_loop_nor_ends_probing(write_config, procs, tmp_path):
    """A probe whose reply never comes used to leave the burst open for good: no more probes, and a
    due time in the past that made every poll a zero timeout (a busy loop)."""
    from tests.syncserver.test_session_processes import endpoints
    cfg = write_config(session={"rate_hz": 90, "duration_s": 30}, components={"n": {"module": "client", "launch": False}})
    procs.module("syncserver", cfg, out=tmp_path)
    with Node("n", endpoints(cfg)) as node:
        node.connect(20)
        assert not node.sync.bursting
        sync = node.sync
        sync._left, sync._pending = 3, {12345: 1}  # a burst whose probe was lost
        sync._sent_ns = node.clock.now_ns()
        polls, t_end = 0, time.monotonic() + 0.5
        while time.monotonic() < t_end:
            node.poll(100)
            polls += 1
        assert polls < 100, f"{polls} polls in 0.5 s: the loop spins"
        assert wait_for(lambda: not node.poll(50) and not node.sync.bursting, 5), "the burst never completed"


def test_a_dead_syncserver_ends_the_event_loop_with_a_reason(write_config, procs, tmp_path):
    """kill -9 of the master: no END will come, so silence on the tick socket for two heartbeat
    timeouts ends the loop (the syncserver broadcasts STATUS at least every status_interval_s)."""
    import os
    import signal

    from cosim.node import EndEvent
    from tests.syncserver.test_session_processes import endpoints
    cfg = write_config(session={"rate_hz": 90, "duration_s": 60, "heartbeat_timeout_s": 1.0, "status_interval_s": 0.2},
                       components={"n": {"module": "client", "launch": False}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    with Node("n", endpoints(cfg)) as node:
        node.connect(20)
        node.ready()
        assert wait_for(lambda: any(isinstance(e, TickEvent) for e in node.poll(50)), 10)
        os.kill(server.pid, signal.SIGKILL)
        killed = time.monotonic()
        end = None
        for ev in node.events(poll_ms=50):
            if isinstance(ev, EndEvent):
                end = ev
        took = time.monotonic() - killed
    assert end is not None and end.frames is None and "syncserver silent" in end.reason
    assert 1.9 < took < 4.0, took
