"""Multi-process tests on real sockets: syncserver and clients as separate processes."""
from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest
import zmq

from cosim.config import resolve_endpoints

from session.config import load_config
from cosim import protocol as p
from cosim.node import Node, TickEvent
from tests.conftest import wait_for

CLIENT = {"module": "client", "required": True}


def sections(out: Path, name: str = "syncserver") -> dict:
    path = out / "sections" / f"{name}.json"
    assert wait_for(path.is_file, 30), f"{path} was not written"
    return json.loads(path.read_text())


def endpoints(config: Path):
    return resolve_endpoints(load_config(config, check_components=False).network)


def test_lockstep_has_no_gaps(write_config, procs, tmp_path):
    cfg = write_config(session={"mode": "lockstep", "pace": 0, "rate_hz": 90, "duration_s": 5},
                       components={"a": CLIENT, "b": CLIENT})
    server = procs.module("syncserver", cfg, out=tmp_path)
    for name in ("a", "b"):
        procs.module("client", cfg, name=name, out=tmp_path)
    assert server.wait(60) == 0, procs.log("syncserver")
    s = sections(tmp_path)
    assert s["session"]["frames"] == 450 and s["session"]["end_reason"] == "completed"
    for name in ("a", "b"):
        c = s["clients"][name]
        assert c["acks"] == 450 and c["missed"] == 0, c
        display = sections(tmp_path, name)["clients"][name]["display"]
        assert display["tick_gaps"] == 0
        # unpaced ticks carry their emission time, and none goes out before the epoch (session time 0)
        assert display["tick_to_present_us"]["p50"] is not None
    assert s["session"]["elapsed_s"] < 4.0  # unpaced: far faster than the 5 s of content


def test_late_joiner_is_welcomed_at_the_current_frame_and_catches_up(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 4},
                       components={"a": CLIENT, "late": {"module": "client", "wait_ready": False}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    procs.module("client", cfg, name="a", out=tmp_path)
    assert wait_for(lambda: "session starts" in procs.log("syncserver"), 30)
    time.sleep(1.0)
    with Node("late", endpoints(cfg)) as node:
        welcome = node.connect(10)
        node.ready()
        assert welcome.epoch_ns is not None and welcome.frame > 10
        frames = [ev.frame for ev in node.events() if isinstance(ev, TickEvent) and not node.ack(ev)]
    assert server.wait(30) == 0
    # its SUB is live before its HELLO is handled, so it may also see the tick emitted just before
    assert welcome.frame - 1 <= frames[0] <= welcome.frame + 9
    assert frames == list(range(frames[0], 360)), "late joiner must see every frame from its first one on"
    s = sections(tmp_path)
    assert s["clients"]["late"]["joined_frame"] == welcome.frame
    assert s["clients"]["late"]["missed"] <= 1


def test_killed_client_is_reported_while_the_session_goes_on(write_config, procs, tmp_path):
    cfg = write_config(session={"mode": "lockstep", "pace": 1.0, "rate_hz": 90, "duration_s": 4,
                                "heartbeat_interval_s": 0.1, "heartbeat_timeout_s": 0.5},
                       components={"a": CLIENT, "victim": CLIENT})
    server = procs.module("syncserver", cfg, out=tmp_path)
    procs.module("client", cfg, name="a", out=tmp_path)
    victim = procs.module("client", cfg, name="victim", out=tmp_path)
    assert wait_for(lambda: "session starts" in procs.log("syncserver"), 30)
    time.sleep(1.0)
    victim.send_signal(signal.SIGKILL)
    assert server.wait(60) == 0, procs.log("syncserver")
    s = sections(tmp_path)
    assert s["session"]["frames"] == 360, "the session must go on to the end without the killed client"
    assert s["clients"]["victim"]["dropped"] is True
    assert s["clients"]["a"]["dropped"] is False and s["clients"]["a"]["missed"] == 0
    assert "client victim dropped" in procs.log("syncserver")


def raw_dealer(config: Path) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoints(config).control)
    return sock


def test_hostile_control_messages_are_rejected_while_ticks_continue(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 3}, components={"watcher": {"module": "client"}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    bad = [
        [b"ctl"],  # truncated
        [b"ctl", b"\xc1\xc1"],  # malformed msgpack
        [b"ctl", p.msgspec.msgpack.encode({"type": "HELLO", "v": 99, "name": "x"})],  # wrong version
        [b"ctl", p.msgspec.msgpack.encode({"type": "LAUNCH", "v": p.PROTOCOL_VERSION})],  # unknown type
        [b"ctl", p.msgspec.msgpack.encode({"type": "HELLO", "v": p.PROTOCOL_VERSION, "name": 5})],  # wrong field type
        [b"ctl", p.msgspec.msgpack.encode({"type": "ACK", "v": p.PROTOCOL_VERSION, "recv_ns": 1, "done_ns": 1})],  # before HELLO
        [b"ctl", b"\x82\xa4type\xa3BYE\xa6reason\xa1\xff"],  # 20 bytes, invalid UTF-8: killed the syncserver
        [b"ctl", b"\x82\xa4type\xa3BYE\xa6reason" + b"\x91" * 3000 + b"\xc0"],  # 3 KB nested deep: RecursionError
    ]
    with Node("watcher", endpoints(cfg)) as node:
        node.connect(10)
        node.ready()
        hostile = raw_dealer(cfg)
        replies, frames = [], []
        for ev in node.events():
            if isinstance(ev, TickEvent):
                frames.append(ev.frame)
                node.ack(ev)
                if ev.frame == 45:
                    for msg in bad:
                        hostile.send_multipart(msg)
                    huge = raw_dealer(cfg)  # oversized: zmq drops the message and that connection (MAXMSGSIZE)
                    huge.send_multipart([b"ctl", b"\x80" * 200_000])
                    time.sleep(0.3)  # raw_dealer's LINGER is 0: give it the time to send
                    huge.close()
            while hostile.poll(0):
                replies.append(p.control_reply_decoder().decode(hostile.recv_multipart())[1])
        hostile.close()
    assert server.wait(30) == 0
    assert frames == list(range(frames[0], 270)), "ticks must continue without gaps"
    reasons = [r.reason for r in replies]
    assert len(replies) == len(bad) and all(isinstance(r, p.Error) for r in replies), reasons
    assert any("truncated" in r for r in reasons)
    assert any("unsupported protocol version 99" in r for r in reasons)
    assert any("'LAUNCH'" in r for r in reasons)
    assert any("send HELLO before ACK" in r for r in reasons)
    assert any("not valid UTF-8" in r for r in reasons)
    s = sections(tmp_path)
    assert s["control"]["rejected"] == len(bad)
    assert s["control"]["closed_without_bye"] >= 1  # the oversized message's connection, closed by zmq
    assert "closed without BYE" in procs.log("syncserver")
    assert procs.log("syncserver").count("rejected control message") == len(bad)


def test_version_mismatch_hello_fails_the_handshake_clearly(write_config, procs, tmp_path):
    cfg = write_config(session={"duration_s": 2}, components={"a": {"module": "client", "wait_ready": False}})
    procs.module("syncserver", cfg, out=tmp_path)
    sock = raw_dealer(cfg)
    sock.send_multipart([b"ctl", p.msgspec.msgpack.encode({"type": "HELLO", "v": 1, "name": "old"})])
    assert sock.poll(5000)
    reply = p.control_reply_decoder().decode(sock.recv_multipart())[1]
    assert isinstance(reply, p.Error) and "unsupported protocol version 1 (this side speaks 5)" in reply.reason
    sock.close()


def test_duplicate_name_is_rejected(write_config, procs, tmp_path):
    cfg = write_config(session={"duration_s": 3}, components={"twin": {"module": "client", "wait_ready": False}})
    procs.module("syncserver", cfg, out=tmp_path)
    eps = endpoints(cfg)
    with Node("twin", eps) as first:
        first.connect(10)
        with Node("twin", eps) as second:
            with pytest.raises(Exception, match="already connected"):
                second.connect(5)


def test_ready_timeout_is_reported(write_config, procs, tmp_path):
    cfg = write_config(session={"ready_timeout_s": 1.0, "duration_s": 2})
    raw = load_config(cfg, check_components=False)
    assert raw.session.ready_timeout_s == 1.0
    text = cfg.read_text().replace("components: {}", "components:\n  ghost: {module: client, settings: {}}")
    cfg.write_text(text)
    server = procs.module("syncserver", cfg, out=tmp_path)  # ghost never starts
    assert server.wait(30) == 3
    s = sections(tmp_path)
    assert s["session"]["end_reason"].startswith("ready timeout: no READY from ghost")


def test_offset_estimate_recovers_a_skewed_clock(write_config, procs, tmp_path):
    from cosim.clock import LocalClock
    cfg = write_config(session={"rate_hz": 90, "duration_s": 2, "probe_interval_s": 0.2},
                       components={"skewed": {"module": "client"}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    skew = 7_654_321  # this process's clock runs 7.65 ms ahead of the master's
    with Node("skewed", endpoints(cfg), clock=LocalClock(skew_ns=skew)) as node:
        node.connect(10)
        node.ready()
        deliveries = []
        for ev in node.events():
            if isinstance(ev, TickEvent):
                deliveries.append(ev.recv_ns - ev.tick.t_ns)
                node.ack(ev)
        estimate = node.sync.offset_ns
        errors = node.sync.errors_ns
    assert server.wait(30) == 0
    assert abs(estimate + skew) < 1_000_000, "estimate must be close to the true offset -skew"
    assert len(errors) >= 5 and max(abs(e) for e in errors) < 1_000_000
    # session-time delivery stays small although the local clock is 7.65 ms off
    assert sorted(deliveries)[len(deliveries) // 2] < 5_000_000
    assert sections(tmp_path)["clients"]["skewed"]["clock_offset_error_us"]["p50"] < 1000


def test_a_required_client_that_stops_acking_is_dropped_after_the_ack_timeout(write_config, procs, tmp_path):
    """It keeps heartbeating, so only the ACK timeout can tell: before, lockstep stalled silently for
    as long as it liked and the summary said ok."""
    cfg = write_config(session={"mode": "lockstep", "pace": 0, "rate_hz": 90, "duration_s": 3, "ack_timeout_s": 1.0},
                       components={"a": CLIENT, "staller": CLIENT})
    server = procs.module("syncserver", cfg, out=tmp_path)
    procs.module("client", cfg, name="a", out=tmp_path)
    with Node("staller", endpoints(cfg), required=True) as node:
        node.connect(20)
        node.ready()
        t0 = time.monotonic()
        for ev in node.events(poll_ms=20):
            if isinstance(ev, TickEvent) and ev.frame < 30:
                node.ack(ev)  # then it stops ACKing, while poll() keeps heartbeating
    took = time.monotonic() - t0
    assert server.wait(30) == 0, procs.log("syncserver")
    s = sections(tmp_path)
    assert s["session"]["frames"] == 270 and s["session"]["end_reason"] == "completed"
    staller = s["clients"]["staller"]
    assert staller["dropped"] and "no ACK of frame 30 within 1 s" in staller["drop_reason"]
    assert s["clients"]["a"]["missed"] == 0 and not s["clients"]["a"]["dropped"]
    assert took < 10


def test_hello_flood_and_bad_names_are_refused(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 3, "max_clients": 4},
                       components={"watcher": {"module": "client"}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    hello = lambda name: [b"ctl", p.encode_header(p.Hello(name=name))]  # noqa: E731
    with Node("watcher", endpoints(cfg)) as node:
        node.connect(10)
        node.ready()
        one = raw_dealer(cfg)
        replies = []
        one.send_multipart(hello("ok1"))
        others = [raw_dealer(cfg) for _ in range(4)]  # kept open: a closed socket drops what it has not sent
        for sock, name in zip(others, ("ok2", "bad\nname", "", "x" * 65)):
            sock.send_multipart(hello(name))
        one.send_multipart(hello("second_name"))  # one name per socket
        socks = [raw_dealer(cfg) for _ in range(6)]
        for i, sock in enumerate(socks):
            sock.send_multipart(hello(f"flood{i}"))
        for sock in [one, *others, *socks]:
            while sock.poll(1000):
                replies.append(p.control_reply_decoder().decode(sock.recv_multipart())[1])
                if not sock.poll(200):
                    break
        list(node.events())
    assert server.wait(30) == 0
    reasons = [r.reason for r in replies if isinstance(r, p.Reject)]
    assert any("one name per socket" in r for r in reasons), reasons
    assert sum("too many clients" in r for r in reasons) >= 3, reasons  # watcher, ok1, ok2 and one flood fit
    s = sections(tmp_path)
    assert "bad\nname" not in json.dumps(s["clients"]) and s["control"]["by_reason"]["refused HELLO"] >= 6
    assert "bad\nname" not in procs.log("syncserver")  # no forged log lines


def test_the_syncserver_measures_a_clients_clock_error_itself(write_config, procs, tmp_path):
    """A client that reports a perfect clock (offset_error 0) while its offset is 5 ms off: the
    summary's clock error comes from the syncserver's own probes, the self-report is kept apart."""
    cfg = write_config(session={"rate_hz": 90, "duration_s": 4, "probe_interval_s": 0.25},
                       components={"liar": {"module": "client"}, "honest": {"module": "client"}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    with Node("liar", endpoints(cfg)) as liar, Node("honest", endpoints(cfg)) as honest:
        real = liar.sync.heartbeat

        def lying() -> p.Heartbeat:
            hb = real()
            if hb.offset_ns is not None:
                hb.offset_ns += 5_000_000
                hb.offset_error_ns = 0
            return hb
        liar.sync.heartbeat = lying
        for node in (liar, honest):
            node.connect(10)

        def serve(node: Node) -> None:  # each in a thread of its own, as each component has its own loop
            node.ready()
            for ev in node.events():
                if isinstance(ev, TickEvent):
                    node.ack(ev)
        threads = [threading.Thread(target=serve, args=(node,)) for node in (liar, honest)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert server.wait(30) == 0
    clients = sections(tmp_path)["clients"]
    assert clients["liar"]["clock_offset_error_self_reported_us"]["max"] == 0
    assert 4_500 < clients["liar"]["clock_offset_error_us"]["p50"] < 5_500
    assert clients["honest"]["clock_offset_error_us"]["p99"] < 500
    assert abs(clients["honest"]["clock_offset_measured_us"]) < 500  # one host: the truth is 0


def test_implausible_values_and_endless_error_kinds_are_bounded(write_config, procs, tmp_path):
    """An ACK claiming a receive time 9.2e15 ns away poisoned the summary (delivery -9.2e15 us), and
    every distinct error text made a new key in control.by_reason."""
    cfg = write_config(session={"rate_hz": 90, "duration_s": 3}, components={"x": {"module": "client"}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    with Node("x", endpoints(cfg)) as node:
        node.connect(10)
        node.ready()
        sent = False
        for ev in node.events():
            if isinstance(ev, TickEvent):
                if ev.frame != 30:
                    node.ack(ev)
                elif not sent:
                    sent = True
                    node._send(p.Ack(frame=30, t_ns=ev.tick.t_ns, recv_ns=-(2**53), done_ns=0))
                    node._send(p.Heartbeat(offset_ns=0, rtt_ns=-5, offset_error_ns=2**60))
                    stranger = raw_dealer(cfg)
                    for i in range(60):  # 60 different error texts
                        stranger.send_multipart([b"ctl", p.msgspec.msgpack.encode({"type": f"T{i}", "v": p.PROTOCOL_VERSION})])
                    time.sleep(0.3)
                    stranger.close()
    assert server.wait(30) == 0
    s = sections(tmp_path)
    assert s["control"]["implausible_values"] == 2
    assert s["clients"]["x"]["delivery_us"]["max"] < 1e6
    assert len(s["control"]["by_reason"]) <= 33 and s["control"]["by_reason"].get("other", 0) >= 20


def test_a_misnamed_component_is_refused_with_the_expected_name(write_config, procs, tmp_path):
    """configs/rig.yaml names the plugin 'unreal'; a plugin left at its default name 'client' used to be
    welcomed, and the session died of a ready timeout with no hint."""
    from cosim.errors import HandshakeError
    cfg = write_config(session={"rate_hz": 90, "duration_s": 2, "ready_timeout_s": 30, "unknown_clients": "refuse"},
                       components={"unreal": {"module": "unreal_plugin", "launch": False, "required": True}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    with Node("client", endpoints(cfg)) as wrong:
        with pytest.raises(HandshakeError, match=r"'client' is not a component of this session.*expected one of: unreal"):
            wrong.connect(20)
    with Node("sync-check.host", endpoints(cfg), role="sync-check") as tool:  # the project's tools still join
        tool.connect(20)
    with Node("unreal", endpoints(cfg), required=True) as right:
        right.connect(20)
        right.ready()
        for ev in right.events():
            if isinstance(ev, TickEvent):
                right.ack(ev)
    assert server.wait(30) == 0
    assert sections(tmp_path)["control"]["by_reason"].get("refused HELLO") == 1


def test_a_ready_timeout_names_a_component_that_joined_under_another_name(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 2, "ready_timeout_s": 2},
                       components={"unreal": {"module": "unreal_plugin", "launch": False, "required": True}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    with Node("client", endpoints(cfg)) as wrong:
        wrong.connect(20)
        wrong.ready()
        assert server.wait(30) == 3
    reason = sections(tmp_path)["session"]["end_reason"]
    assert "no READY from unreal" in reason and "joined under names the config does not list: client" in reason
