"""Client library: what every component uses to join a session.

A component is ``main()`` plus an event loop over ``Node.events()``::

    with Node("client", endpoints, required=True) as node:
        node.connect()
        node.ready()
        for ev in node.events():
            if isinstance(ev, TickEvent):
                ...
                node.ack(ev)

The node owns three sockets: a DEALER on the control channel (handshake, ACK, PROBE, HEARTBEAT,
BYE), a SUB on the tick socket (TICK and session broadcasts), and optionally a SUB on the data bus
and a PUB into it. Clock-offset probes and heartbeats run inside ``events()``, so a component that
keeps iterating stays in sync without threads.

Direct streams (docs/protocol.md): a producer can offer topics on a PUB socket of its own as well
(``direct_topics``); a subscriber of exactly such a topic on the same host then takes it from there
instead of through the bus proxy, one hop and three thread wake-ups less per message.
"""
from __future__ import annotations

import ipaddress
import itertools
import logging
import os
import re
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np
import zmq

from session.config import Endpoints
from syncserver import protocol as p
from syncserver.clock import LocalClock, OffsetEstimator, ProbeSample
from syncserver.component import install_stop_handlers, mark_streaming
from syncserver.errors import HandshakeError, ProtocolError
from syncserver.sockets import recv_message, send_message
from syncserver.timing import wait_readable

log = logging.getLogger(__name__)

BUS_PROBE_PREFIX = b"_probe."  # loopback probes of the data bus; never handed to components
SWITCH_DEDUP_NS = 2_000_000_000  # after taking a topic direct, drop copies that also came over the bus
DEDUP_HEADERS = 4096
PROBE_TIMEOUT_NS = 100_000_000  # a probe unanswered this long is lost: send the next one


@dataclass
class TickEvent:
    tick: p.Tick
    recv_local_ns: int
    recv_ns: int  # session time estimate at receipt

    @property
    def frame(self) -> int:
        return self.tick.frame


@dataclass
class DataEvent:
    topic: bytes
    msg: p.Message
    arrays: dict[str, np.ndarray]
    recv_ns: int
    direct: bool = False  # came straight from its producer (a direct stream), not through the bus proxy


@dataclass
class SessionEvent:
    msg: p.Message  # START, STATUS or CLIENT
    recv_ns: int


@dataclass
class EndEvent:
    reason: str
    frames: int | None = None


Event = TickEvent | DataEvent | SessionEvent | EndEvent


@dataclass
class NodeStats:
    ticks: int = 0
    gaps: int = 0  # frames missing from the received tick sequence
    decode_errors: int = 0
    duplicates: int = 0  # second copies of a message while a topic switched to its direct stream
    server_errors: int = 0
    offset_errors_ns: list[int] = field(default_factory=list)  # per completed burst, when the truth is known


class Node:
    def __init__(self, name: str, endpoints: Endpoints, *, role: str = "component", required: bool = False,
                 clock: LocalClock | None = None, data_topics: Sequence[bytes] = (), publish: bool = False,
                 context: zmq.Context | None = None, ack_defer_ms: float = 50.0,
                 direct_topics: Sequence[bytes] = ()) -> None:
        self.name = name
        self.endpoints = endpoints
        self.role = role
        self.required = required
        self.clock = clock or LocalClock()
        self.stats = NodeStats()
        self.welcome: p.Welcome | None = None
        self.epoch_ns: int | None = None
        self.offset = OffsetEstimator()
        self.last_frame: int | None = None
        self.stop_reason: str | None = None
        self._ctx = context or zmq.Context.instance()
        self._ended = False
        self._reply_decoder = p.control_reply_decoder()
        self._broadcast_decoder = p.broadcast_decoder()
        self._bus_decoder = p.bus_decoder()
        self._probe_seq = 0
        self._probe_pending: dict[int, int] = {}
        self._probes_left = 0
        self._next_probe_ns = 0
        self._probe_sent_ns = 0
        self._next_heartbeat_ns = 0
        self._saw_broadcast = False
        self._pending: list[Event] = []  # events that arrived while ready() waited
        self._end_events: list[Event] = []  # END, handed out by the next poll after the bus drain
        self._ack_defer_ns = int(ack_defer_ms * 1e6)
        self._acks: list[p.Ack] = []  # realtime ACKs waiting to be sent (telemetry, off the tick's critical path)
        self._ack_due = 0
        self._same_host = False
        self._hostname = socket.gethostname()
        self._data_topics = frozenset(data_topics)
        self._direct_in: dict[str, set[bytes]] = {}  # endpoint -> topics taken from it
        self._bus_held: set[bytes] = set()  # taken direct, still on the bus until the first direct message
        self._dedup_until = 0
        self._dedup_topics: set[bytes] = set()  # held topics, and those that switched within SWITCH_DEDUP_NS
        self._seen: OrderedDict[bytes, bool] = OrderedDict()  # their recent headers

        self.dealer = self._ctx.socket(zmq.DEALER)
        self.dealer.setsockopt(zmq.LINGER, 500)
        self.dealer.connect(endpoints.control)
        self.ticks = self._ctx.socket(zmq.SUB)
        self.ticks.setsockopt(zmq.LINGER, 0)
        self.ticks.setsockopt(zmq.SUBSCRIBE, p.TOPIC_TICK)
        self.ticks.setsockopt(zmq.SUBSCRIBE, p.TOPIC_SESSION)
        self.ticks.connect(endpoints.ticks)
        self.bus_sub: zmq.Socket | None = None
        if data_topics:
            self.bus_sub = self._ctx.socket(zmq.SUB)
            self.bus_sub.setsockopt(zmq.LINGER, 0)
            for topic in data_topics:
                self.bus_sub.setsockopt(zmq.SUBSCRIBE, topic)
            self.bus_sub.connect(endpoints.bus_out)
        self.bus_pub: zmq.Socket | None = None
        if publish:
            self.bus_pub = self._ctx.socket(zmq.PUB)
            self.bus_pub.setsockopt(zmq.LINGER, 1000)
            self.bus_pub.connect(endpoints.bus_in)
        self.direct_pub: zmq.Socket | None = None
        self.direct_offered: list[p.DirectStream] = []
        self._direct_out = frozenset(direct_topics)
        if len(self._direct_out) > p.MAX_DIRECT_STREAMS or any(len(t.decode()) > p.NAME_LIMIT for t in direct_topics):
            raise ValueError(f"direct_topics: at most {p.MAX_DIRECT_STREAMS} topics of at most {p.NAME_LIMIT} "
                             f"characters (got {sorted(direct_topics)!r})")
        if publish and direct_topics:
            self._offer_direct(direct_topics)
        self.direct_sub: zmq.Socket | None = None  # made when the first offer is taken
        self._poller = zmq.Poller()
        self._inputs: list[zmq.Socket] = []
        self._input_fds: list[int] = []
        for sock in (self.dealer, self.ticks, self.bus_sub):
            if sock is not None:
                self._add_input(sock)

    def _add_input(self, sock: zmq.Socket) -> None:
        self._inputs.append(sock)
        self._input_fds.append(sock.getsockopt(zmq.FD))
        self._poller.register(sock, zmq.POLLIN)

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close("exception" if exc[0] else "done")

    def install_signal_handlers(self) -> None:
        """SIGINT/SIGTERM/SIGHUP end the event loop cleanly instead of killing the process mid-write
        (see ``syncserver.component.install_stop_handlers`` for the grace period)."""
        install_stop_handlers(self.request_stop)

    def request_stop(self, reason: str = "stopped") -> None:
        self.stop_reason = reason

    def connect(self, timeout_s: float = 30.0) -> p.Welcome:
        """HELLO -> WELCOME, then a first clock-probe burst. Raises HandshakeError on REJECT/timeout."""
        self._send(p.Hello(name=self.name, role=self.role, required=self.required,
                           host=self._hostname, pid=os.getpid(), direct=self.direct_offered))
        deadline = time.monotonic() + timeout_s
        while self.welcome is None:
            if self.stop_reason:
                raise HandshakeError(f"stopped ({self.stop_reason}) before the syncserver answered")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HandshakeError(f"no WELCOME from the syncserver at {self.endpoints.control} "
                                     f"within {timeout_s:.1f} s")
            if self.dealer.poll(min(100, int(remaining * 1000) + 1)):
                self._on_control(self.dealer.recv_multipart())
        w = self.welcome
        self.offset = OffsetEstimator(w.probe_burst)
        self.epoch_ns = w.epoch_ns
        self.last_frame = w.frame if w.epoch_ns is not None else None
        self._start_probe_burst()
        while self._probes_left and time.monotonic() < deadline:
            if self.dealer.poll(100):
                self._on_control(self.dealer.recv_multipart())
            elif self._probe_pending:  # a lost probe: move on
                self._probe_pending.clear()
                self._send_probe()
        return w

    def ready(self, timeout_s: float = 10.0) -> None:
        """Send READY once the tick subscription is live (a session broadcast has arrived) and, for a
        node on the data bus, once a loopback probe has crossed the bus proxy (so subscriptions made
        before READY have reached every producer, and ours has reached the proxy)."""
        deadline = time.monotonic() + timeout_s
        while not self._saw_broadcast and time.monotonic() < deadline and not self.stop_reason:
            self._pending.extend(self._read(50))
        if self.bus_sub is not None or self.bus_pub is not None:
            self._confirm_bus(deadline)
        self._send(p.Ready())

    def _confirm_bus(self, deadline: float) -> None:
        topic = BUS_PROBE_PREFIX + f"{self.name}.{os.getpid()}".encode()
        sub = self.bus_sub or self._ctx.socket(zmq.SUB)
        pub = self.bus_pub or self._ctx.socket(zmq.PUB)
        if sub is not self.bus_sub:
            sub.connect(self.endpoints.bus_out)
        if pub is not self.bus_pub:
            pub.connect(self.endpoints.bus_in)
        sub.setsockopt(zmq.SUBSCRIBE, topic)
        probe = p.encode(topic, p.Request(what="bus_probe", src=self.name))
        try:
            while time.monotonic() < deadline and not self.stop_reason:
                pub.send_multipart(probe)
                if not sub.poll(20):
                    continue
                for frames in self._drain(sub, copy=False):
                    if bytes(frames[0]) == topic:
                        return
                    if sub is self.bus_sub:
                        ev = self._on_bus(frames, self.clock.now_ns())
                        if ev is not None:
                            self._pending.append(ev)
            log.warning("data bus path not confirmed before READY (proxy at %s / %s unreachable?)",
                        self.endpoints.bus_in, self.endpoints.bus_out)
        finally:
            sub.setsockopt(zmq.UNSUBSCRIBE, topic)
            for sock, own in ((sub, self.bus_sub), (pub, self.bus_pub)):
                if sock is not own:
                    sock.close(linger=0)

    def close(self, reason: str = "done") -> None:
        if self.dealer.closed:
            return
        try:
            self._flush_acks()
            self._send(p.Bye(reason=reason))
        except zmq.ZMQError:
            pass
        for sock in (self.dealer, self.ticks, self.bus_sub, self.bus_pub, self.direct_sub, self.direct_pub):
            if sock is not None:
                sock.close()

    # --- time -----------------------------------------------------------------------------

    def master_ns(self, local_ns: int | None = None) -> int:
        """Estimate of the master's monotonic clock (offset 0 until the first burst completes)."""
        local = self.clock.now_ns() if local_ns is None else local_ns
        return local + (self.offset.offset_ns or 0)

    def session_ns(self, local_ns: int | None = None) -> int:
        """Session time estimate; before START this is relative to an epoch of 0."""
        return self.master_ns(local_ns) - (self.epoch_ns or 0)

    def to_local_ns(self, session_ns: int) -> int:
        return session_ns + (self.epoch_ns or 0) - (self.offset.offset_ns or 0)

    # --- events ---------------------------------------------------------------------------

    def events(self, poll_ms: int = 100) -> Iterator[Event]:
        """Yield events until END, a stop request, or a signal; then one EndEvent."""
        while True:
            if self.stop_reason and not self._ended:
                self._ended = True
                yield EndEvent(self.stop_reason)
                return
            for ev in self.poll(poll_ms):
                yield ev
                if isinstance(ev, EndEvent):
                    return

    def wait(self, timeout_ns: int) -> bool:
        """Wait, to the microsecond, until a message is queued on any input or ``timeout_ns`` passed
        (True if one is); ``poll(0)`` then serves it. For loops with sub-millisecond deadlines."""
        return wait_readable(self._inputs, timeout_ns, self._input_fds)

    def poll(self, timeout_ms: int) -> list[Event]:
        """One pass: wait up to ``timeout_ms`` (shortened for due heartbeats/probes), drain sockets.
        Returns bus data before ticks and session broadcasts."""
        if self._pending:
            pending, self._pending = self._pending, []
            return pending
        if self._end_events:  # the ticks before END have been handed out (and ACKed): now drain
            end, self._end_events = self._end_events, []
            return self._drain_bus_after_end() + end
        return self._read(timeout_ms)

    def _read(self, timeout_ms: int) -> list[Event]:
        self._housekeeping()
        now = self.clock.now_ns()
        if self._acks and now >= self._ack_due:
            self._flush_acks()
        probe_due = self._probe_sent_ns + PROBE_TIMEOUT_NS if self._probes_left else self._next_probe_ns
        due = min(self._next_heartbeat_ns, probe_due) if self.welcome else now + timeout_ms * 1_000_000
        if self._acks:
            due = min(due, self._ack_due)
        timeout = max(0, min(timeout_ms, (due - now) // 1_000_000 + 1))
        ready = dict(self._poller.poll(timeout))
        # Read everything first, stamping each message as it is read (control first: probe replies
        # are the most timing-sensitive), then decode; decoding never delays another's timestamp.
        control = self._stamped(self.dealer, True) if self.dealer in ready else []
        broadcasts = self._stamped(self.ticks, True) if self.ticks in ready else []
        bus = self._stamped(self.bus_sub, False) if self.bus_sub is not None and self.bus_sub in ready else []
        direct = self._stamped(self.direct_sub, False) if self.direct_sub is not None and self.direct_sub in ready else []
        for frames, t in control:
            self._on_control(frames, t)
        ticks = [ev for frames, t in broadcasts if (ev := self._on_broadcast(frames, t)) is not None]
        data = [ev for frames, t in direct if (ev := self._on_bus(frames, t, True)) is not None]
        data += [ev for frames, t in bus if (ev := self._on_bus(frames, t)) is not None]
        if self.bus_sub is not None:
            end = next((i for i, ev in enumerate(ticks) if isinstance(ev, EndEvent)), None)
            if end is not None:  # END and what follows wait for the bus drain, the ticks before it do not
                ticks, self._end_events = ticks[:end], ticks[end:]
        # Data that arrived in the same batch as a tick is handed out first, so a frame is processed
        # with every input already here.
        return data + ticks

    def _drain_bus_after_end(self, quiet_ms: int = 50, max_ms: int = 500) -> list[Event]:
        """END overtakes bus messages still in the proxy (a different path): collect what was
        published before it, until the bus has been quiet for ``quiet_ms``."""
        out: list[Event] = []
        poller = zmq.Poller()
        for sock in (self.bus_sub, self.direct_sub):
            if sock is not None:
                poller.register(sock, zmq.POLLIN)
        deadline = time.monotonic() + max_ms / 1000
        while time.monotonic() < deadline and (ready := dict(poller.poll(quiet_ms))):
            for sock in ready:
                for frames, t in self._stamped(sock, False):
                    if (ev := self._on_bus(frames, t, sock is self.direct_sub)) is not None:
                        out.append(ev)
        return out

    def _stamped(self, sock: zmq.Socket, copy: bool) -> list[tuple[list, int]]:
        now = self.clock.now_ns
        return [(frames, now()) for frames in self._drain(sock, copy)]

    @staticmethod
    def _drain(sock: zmq.Socket, copy: bool) -> Iterator[list]:
        # NOBLOCK + zmq.Again measured faster in lockstep than checking ZMQ_EVENTS before each recv
        while True:
            try:
                yield recv_message(sock, copy)
            except zmq.Again:
                return

    def ack(self, ev: TickEvent, present_ns: int | None = None, photon_ns: int | None = None) -> None:
        """Acknowledge a tick. In lockstep the ACK goes out at once (it gates the next tick); in
        realtime it is telemetry (it carries its own receive and done times) and goes out in a batch
        ``ack_defer_ms`` after the first one deferred: one socket wake-up per batch instead of one per
        tick on each side, and never while the other processes are still receiving the same tick."""
        msg = p.Ack(frame=ev.tick.frame, t_ns=ev.tick.t_ns, recv_ns=ev.recv_ns, done_ns=self.session_ns(),
                    present_ns=present_ns, photon_ns=photon_ns)
        if self._ack_defer_ns <= 0 or self.welcome is None or self.welcome.mode != "realtime":
            self._send(msg)
            return
        if not self._acks:
            self._ack_due = self.clock.now_ns() + self._ack_defer_ns
        self._acks.append(msg)

    def _flush_acks(self) -> None:
        acks, self._acks = self._acks, []
        for msg in acks:
            self._send(msg)

    def publish(self, topic: bytes, msg: p.Message, arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Put ``msg`` on the bus; a topic offered direct goes out on the direct socket too (the
        bus copy costs nothing while no one takes it through the proxy: PUB filters at the sender)."""
        if self.bus_pub is None:
            raise RuntimeError(f"node {self.name!r} was created without publish=True")
        msg.src = self.name
        frames = p.encode(topic, msg, arrays)
        if self.direct_pub is not None and topic in self._direct_out:
            send_message(self.direct_pub, frames, copy=False)
        send_message(self.bus_pub, frames, copy=False)

    # --- direct streams -------------------------------------------------------------------

    def _offer_direct(self, topics: Sequence[bytes]) -> None:
        endpoint = direct_bind_endpoint(self.endpoints.bus_in)
        if endpoint is None:
            log.info("%s: direct streams are offered only beside a loopback or ipc bus (not %s), so %s "
                     "travel through the bus proxy", self.name, self.endpoints.bus_in, b", ".join(topics).decode())
            return
        sock = self._ctx.socket(zmq.PUB)
        sock.setsockopt(zmq.LINGER, 1000)
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as exc:
            sock.close(linger=0)
            log.warning("%s: cannot bind a direct stream at %s (%s); %s travel through the bus proxy",
                        self.name, endpoint, exc, b", ".join(topics).decode())
            return
        self.direct_pub = sock
        bound = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.direct_offered = [p.DirectStream(topic=t.decode(), endpoint=bound, host=self._hostname) for t in topics]

    def _takes(self, stream: p.DirectStream) -> bool:
        """An offer is taken for a topic this node subscribes to exactly (and through no shorter
        prefix, which would keep it coming over the bus as well), from a producer on this host, at a
        local endpoint that is not our own."""
        topic = stream.topic.encode()
        return (self.bus_sub is not None and topic in self._data_topics
                and not any(t != topic and topic.startswith(t) for t in self._data_topics)
                and stream.host == self._hostname and all(stream.endpoint != d.endpoint for d in self.direct_offered)
                and is_local_endpoint(stream.endpoint) and is_local_endpoint(self.endpoints.bus_out))

    def direct_topics_taken(self) -> dict[str, list[str]]:
        """Topic -> the producer endpoints it is taken from directly (for reports and tests)."""
        out: dict[str, list[str]] = {}
        for endpoint, topics in self._direct_in.items():
            for t in topics:
                out.setdefault(t.decode(), []).append(endpoint)
        return out

    def _taken_from_any(self, topic: bytes) -> bool:
        return any(topic in topics for topics in self._direct_in.values())

    def _on_direct_offer(self, streams: Sequence[p.DirectStream]) -> None:
        """Connect to an offer and subscribe there; the bus subscription stays until the first
        message arrives directly (``_on_bus``), so an offer that never delivers costs nothing and
        nothing is lost while the connection comes up."""
        for d in streams:
            topic = d.topic.encode()
            if not self._takes(d) or topic in self._direct_in.get(d.endpoint, ()):
                continue
            if self.direct_sub is None:
                self.direct_sub = self._ctx.socket(zmq.SUB)
                self.direct_sub.setsockopt(zmq.LINGER, 0)
                self._add_input(self.direct_sub)
            if d.endpoint not in self._direct_in:
                try:
                    self.direct_sub.connect(d.endpoint)
                except zmq.ZMQError as exc:
                    log.warning("%s: ignored the direct offer of %s at %r: %s", self.name, d.topic, d.endpoint, exc)
                    continue
                self._direct_in[d.endpoint] = set()
            if not self._taken_from_any(topic):
                self.direct_sub.setsockopt(zmq.SUBSCRIBE, topic)
                self._bus_held.add(topic)
                self._dedup_topics.add(topic)
            self._direct_in[d.endpoint].add(topic)
            log.info("%s: taking %s directly from %s", self.name, d.topic, d.endpoint)

    def _on_direct_gone(self, streams: Sequence[p.DirectStream]) -> None:
        for d in streams:
            topic = d.topic.encode()
            topics = self._direct_in.get(d.endpoint)
            if topics is None or topic not in topics:
                continue
            topics.discard(topic)
            if not topics:
                del self._direct_in[d.endpoint]
                try:
                    self.direct_sub.disconnect(d.endpoint)
                except zmq.ZMQError:
                    pass
            if not self._taken_from_any(topic):
                self.direct_sub.setsockopt(zmq.UNSUBSCRIBE, topic)
                if topic in self._bus_held:  # never switched: the bus subscription is still there
                    self._bus_held.discard(topic)
                else:
                    self.bus_sub.setsockopt(zmq.SUBSCRIBE, topic)
                    self._switched(topic)
            log.info("%s: %s from %s has gone; back to the bus", self.name, d.topic, d.endpoint)

    def _first_direct(self, topic: bytes) -> None:
        """The direct path delivers: leave the bus for this topic (copies still in flight on the
        bus are dropped by ``_duplicate``, or by the SUB's own filter once the unsubscribe is in)."""
        self._bus_held.discard(topic)
        self.bus_sub.setsockopt(zmq.UNSUBSCRIBE, topic)
        self._switched(topic)

    def _switched(self, topic: bytes) -> None:
        self._dedup_topics.add(topic)
        self._dedup_until = self.clock.now_ns() + SWITCH_DEDUP_NS

    def _duplicate(self, topic: bytes, frames: list[zmq.Frame], recv_local: int) -> bool:
        """While a topic is on both paths, a message can arrive twice: keep the first copy (the
        header bytes, which carry the source and publish time, identify it)."""
        if self._dedup_until and recv_local > self._dedup_until:
            self._dedup_until = 0
            self._dedup_topics = set(self._bus_held)
            if not self._dedup_topics:
                self._seen.clear()
        if topic not in self._dedup_topics or len(frames) < 2:
            return False
        header = frames[1].bytes
        if header in self._seen:
            self.stats.duplicates += 1
            return True
        self._seen[header] = True
        if len(self._seen) > DEDUP_HEADERS:
            self._seen.popitem(last=False)
        return False

    # --- internals ------------------------------------------------------------------------

    def _send(self, msg: p.Message) -> None:
        msg.src = self.name
        send_message(self.dealer, p.encode(p.TOPIC_CONTROL, msg))

    def _start_probe_burst(self) -> None:
        self._probes_left = self.offset.burst
        self._send_probe()

    def _send_probe(self) -> None:
        self._probe_seq = (self._probe_seq + 1) & 0xFFFFFFFF
        t0 = self.clock.now_ns()
        self._probe_pending[self._probe_seq] = t0
        self._probe_sent_ns = t0
        self._send(p.Probe(seq=self._probe_seq, t0=t0))

    def _housekeeping(self) -> None:
        if self.welcome is None:
            return
        now = self.clock.now_ns()
        if now >= self._next_heartbeat_ns:
            w = self.welcome
            self._next_heartbeat_ns = now + int(w.heartbeat_interval_s * 1e9)
            true = self.clock.true_offset_ns(self._same_host)
            est = self.offset.offset_ns
            self._send(p.Heartbeat(offset_ns=est, rtt_ns=self.offset.rtt_ns,
                                   offset_error_ns=None if est is None or true is None else est - true))
        if self._probes_left and now - self._probe_sent_ns > PROBE_TIMEOUT_NS:
            # The reply is lost or far too late (a starved syncserver): the burst goes on with the next
            # probe. Before, the burst never ended, probing stopped for the session, and the past
            # probe due time made every poll a zero timeout: at SCHED_FIFO, a spin that starved the
            # syncserver (seen in bench.sync with 16 real-time subscribers).
            self._probe_pending.clear()
            self._send_probe()
        elif now >= self._next_probe_ns and not self._probes_left:
            self._next_probe_ns = now + int(self.welcome.probe_interval_s * 1e9)
            self._probe_pending.clear()
            self._start_probe_burst()

    def _on_control(self, frames: list[bytes], t3: int | None = None) -> None:
        t3 = self.clock.now_ns() if t3 is None else t3
        try:
            _, msg, _ = self._reply_decoder.decode(frames)
        except ProtocolError as exc:
            self.stats.decode_errors += 1
            log.warning("dropped control reply: %s", exc)
            return
        if isinstance(msg, p.ProbeReply):
            t0 = self._probe_pending.pop(msg.seq, None)
            if t0 is None or t0 != msg.t0:
                return
            if self.offset.add(ProbeSample(t0, msg.t1, msg.t2, t3)):
                true = self.clock.true_offset_ns(self._same_host)
                if true is not None:
                    self.stats.offset_errors_ns.append(self.offset.offset_ns - true)
            if self._probes_left:
                self._probes_left -= 1
                if self._probes_left:
                    self._send_probe()
        elif isinstance(msg, p.Welcome):
            self.welcome = msg
            self._same_host = msg.host == self._hostname
            self._on_direct_offer(msg.direct)
        elif isinstance(msg, p.Reject):
            raise HandshakeError(f"syncserver rejected {self.name!r}: {msg.reason}")
        elif isinstance(msg, p.Error):
            self.stats.server_errors += 1
            log.warning("syncserver reported an error for our message: %s", msg.reason)

    def _on_broadcast(self, frames: list[bytes], recv_local: int) -> Event | None:
        try:
            _, msg, _ = self._broadcast_decoder.decode(frames)
        except ProtocolError as exc:
            self.stats.decode_errors += 1
            log.warning("dropped broadcast: %s", exc)
            return None
        self._saw_broadcast = True
        if isinstance(msg, p.Tick):
            self.epoch_ns = msg.epoch_ns
            recv_ns = self.session_ns(recv_local)
            if self.last_frame is not None and msg.frame > self.last_frame + 1:
                self.stats.gaps += msg.frame - self.last_frame - 1
            self.last_frame = msg.frame
            if not self.stats.ticks:
                mark_streaming()
            self.stats.ticks += 1
            return TickEvent(msg, recv_local, recv_ns)
        if isinstance(msg, p.ClientEvent) and msg.direct:
            if msg.event in ("joined", "ready"):
                self._on_direct_offer(msg.direct)
            elif msg.event in ("left", "dropped"):
                self._on_direct_gone(msg.direct)
        if isinstance(msg, p.Start):
            self.epoch_ns = msg.epoch_ns
        elif isinstance(msg, p.End):
            self._ended = True
            return EndEvent(msg.reason, msg.frames)
        return SessionEvent(msg, self.session_ns(recv_local))

    def _on_bus(self, frames: list[zmq.Frame], recv_local: int, direct: bool = False) -> Event | None:
        topic = frames[0].bytes
        if topic.startswith(BUS_PROBE_PREFIX):
            return None
        if direct and topic in self._bus_held:
            self._first_direct(topic)
        if self._dedup_topics and self._duplicate(topic, frames, recv_local):
            return None
        try:
            topic, msg, arrays = self._bus_decoder.decode([f.buffer for f in frames])
        except ProtocolError as exc:
            self.stats.decode_errors += 1
            log.warning("dropped bus message: %s", exc)
            return None
        return DataEvent(topic, msg, arrays, self.session_ns(recv_local), direct)


def is_local_endpoint(endpoint: str) -> bool:
    """ipc://, or tcp:// on a loopback address: an endpoint that means the same on every process of
    this host (a direct stream is taken only from such an endpoint of a producer on our host)."""
    if endpoint.startswith("ipc://"):
        return True
    m = re.fullmatch(r"tcp://(\[([^\]]+)\]|[^:]+):\d+", endpoint)
    if m is None:
        return False
    host = m.group(2) or m.group(1)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_direct_paths = itertools.count(1)
IPC_PATH_LIMIT = 107  # sun_path minus its NUL


def direct_bind_endpoint(bus_in: str) -> str | None:
    """Where a producer whose bus input is ``bus_in`` binds its direct streams: an ephemeral port on
    the same loopback address, or an ipc path beside the bus's; None for a bus that is not local
    (not loopback, or inproc://, which is cheap already), or an ipc path that would be too long."""
    if bus_in.startswith("ipc://"):
        folder = os.path.dirname(bus_in[len("ipc://"):]) or "."
        path = f"{folder}/direct-{os.getpid()}-{next(_direct_paths)}"
        return f"ipc://{path}" if len(path.encode()) <= IPC_PATH_LIMIT else None
    if not is_local_endpoint(bus_in):
        return None
    return bus_in.rsplit(":", 1)[0] + ":*"
