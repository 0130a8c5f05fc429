"""The node: one process's membership of a session (handshake and lifecycle).

Most components never touch it: the component runtime (cosim.runtime) owns it. A node owns three
sockets: a DEALER on the control channel (HELLO/WELCOME, READY, ACK, PROBE, HEARTBEAT, BYE), a SUB
on the tick socket (TICK and session broadcasts), and optionally a SUB on the data bus and a PUB
into it. Clock probes (ClockSync), heartbeats and batched ACKs (AckBatcher) are served inside
``poll``, so a process that keeps polling stays in sync without threads; direct streams
(DirectInputs, ``direct.offer``) take high-rate topics off the bus proxy. docs/protocol.md is the
contract this class implements::

    with Node("client", endpoints, required=True) as node:
        node.connect()
        node.ready()
        for ev in node.events():
            if isinstance(ev, TickEvent):
                node.ack(ev)
"""
from __future__ import annotations

import logging
import os
import socket
import time
from typing import Iterator, Mapping, Sequence

import numpy as np
import zmq

from cosim import protocol as p
from cosim.clock import LocalClock
from cosim.config import Endpoints
from cosim.curve import ClientKeys
from cosim.errors import HandshakeError, ProtocolError
from cosim.frameclock import FrameClock
from cosim.node import direct
from cosim.node.acks import AckBatcher
from cosim.node.clocksync import ClockSync
from cosim.node.events import DataEvent, EndEvent, Event, NodeStats, SessionEvent, TickEvent
from cosim.process import install_stop_handlers, mark_streaming
from cosim.sockets import recv_message, send_message
from cosim.timing import wait_readable

log = logging.getLogger(__name__)

BUS_PROBE_PREFIX = b"_probe."  # loopback probes of the data bus; never handed to components
SILENT_MASTER_TIMEOUTS = 2  # no broadcast for this many heartbeat timeouts: the syncserver is gone


class Node:
    def __init__(self, name: str, endpoints: Endpoints, *, role: str = "component", required: bool = False,
                 clock: LocalClock | None = None, data_topics: Sequence[bytes] = (), publish: bool = False,
                 context: zmq.Context | None = None, ack_defer_ms: float = 50.0,
                 direct_topics: Sequence[bytes] = (), curve: ClientKeys | None = None) -> None:
        self.name = name
        self.endpoints = endpoints
        self.role = role
        self.required = required
        self.clock = clock or LocalClock.from_env()
        self.stats = NodeStats()
        self.welcome: p.Welcome | None = None
        self.frames: FrameClock | None = None  # from WELCOME
        self.epoch_ns: int | None = None
        self.last_frame: int | None = None
        self.stop_reason: str | None = None
        self._ctx = context or zmq.Context.instance()
        self._ended = False
        self._reply_decoder = p.control_reply_decoder()
        self._broadcast_decoder = p.broadcast_decoder()
        self._bus_decoder = p.bus_decoder()
        self.sync = ClockSync(self.clock, self._send)
        self.acks = AckBatcher(self._send, self.clock.now_ns, int(ack_defer_ms * 1e6))
        self._next_heartbeat_ns = 0
        self._saw_broadcast = False
        self._last_broadcast_ns = 0  # local time of the newest broadcast (TICK, STATUS, ...)
        self._pending: list[Event] = []  # events that arrived while ready() waited
        self._end_events: list[Event] = []  # END, handed out by the next poll after the bus drain
        self._hostname = socket.gethostname()
        self.curve = curve
        if curve is not None:
            direct_topics = ()  # a direct stream would bypass the authenticated bus

        self.dealer = self._socket(zmq.DEALER)
        self.dealer.setsockopt(zmq.LINGER, 500)
        self.dealer.setsockopt(zmq.SNDTIMEO, 1000)  # with no connection (a refused CURVE key) a send would block for ever
        self.dealer.connect(endpoints.control)
        self.ticks = self._socket(zmq.SUB)
        self.ticks.setsockopt(zmq.LINGER, 0)
        self.ticks.setsockopt(zmq.SUBSCRIBE, p.TOPIC_TICK)
        self.ticks.setsockopt(zmq.SUBSCRIBE, p.TOPIC_SESSION)
        self.ticks.connect(endpoints.ticks)
        self.bus_sub: zmq.Socket | None = None
        if data_topics:
            self.bus_sub = self._socket(zmq.SUB)
            self.bus_sub.setsockopt(zmq.LINGER, 0)
            for topic in data_topics:
                self.bus_sub.setsockopt(zmq.SUBSCRIBE, topic)
            self.bus_sub.connect(endpoints.bus_out)
        self.bus_pub: zmq.Socket | None = None
        if publish:
            self.bus_pub = self._socket(zmq.PUB)
            self.bus_pub.setsockopt(zmq.LINGER, 1000)
            self.bus_pub.connect(endpoints.bus_in)
        direct.check_topics(direct_topics)
        self._direct_out = frozenset(direct_topics)
        self.direct_pub: zmq.Socket | None = None
        self.direct_offered: list[p.DirectStream] = []
        if publish and direct_topics:
            self.direct_pub, self.direct_offered = direct.offer(self._ctx, name, endpoints.bus_in, direct_topics,
                                                                self._hostname)
        self._poller = zmq.Poller()
        self._inputs: list[zmq.Socket] = []
        self._input_fds: list[int] = []
        for sock in (self.dealer, self.ticks, self.bus_sub):
            if sock is not None:
                self._add_input(sock)
        self.direct_in = direct.DirectInputs(self._ctx, name, self._hostname, self.bus_sub, endpoints.bus_out,
                                             data_topics, self.direct_offered, self._add_input, self.clock.now_ns)

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self._ctx.socket(kind)
        return self.curve.apply(sock) if self.curve is not None else sock

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
        (see ``cosim.process.install_stop_handlers`` for the grace period)."""
        install_stop_handlers(self.request_stop)

    def request_stop(self, reason: str = "stopped") -> None:
        self.stop_reason = reason

    def connect(self, timeout_s: float = 30.0) -> p.Welcome:
        """HELLO -> WELCOME, then a first clock-probe burst. Raises HandshakeError on REJECT/timeout.

        HELLO waits until the broadcast subscription is live (one broadcast has arrived: a TICK, or
        a STATUS, sent at least every status interval), so that every CLIENT broadcast the
        syncserver sends after WELCOME's snapshot of direct offers reaches us."""
        deadline = time.monotonic() + timeout_s
        while not self.ticks.poll(50):
            if self.stop_reason or time.monotonic() > deadline:
                break  # HELLO anyway: its own wait says what went wrong
        self._send(p.Hello(name=self.name, role=self.role, required=self.required,
                           host=self._hostname, pid=os.getpid(), direct=self.direct_offered))
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
        self._last_broadcast_ns = self.clock.now_ns()  # silence is counted from WELCOME on
        self.frames = FrameClock.from_welcome(w)
        self.sync.configure(w.probe_burst, w.probe_interval_s)
        self.epoch_ns = w.epoch_ns
        self.last_frame = w.frame if w.epoch_ns is not None else None
        self.sync.start_burst()
        while self.sync.bursting and time.monotonic() < deadline:
            if self.dealer.poll(100):
                self._on_control(self.dealer.recv_multipart())
            else:
                self.sync.service(self.clock.now_ns())
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
        sub = self.bus_sub or self._socket(zmq.SUB)
        pub = self.bus_pub or self._socket(zmq.PUB)
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
            self.acks.flush()
            self._send(p.Bye(reason=reason))
        except zmq.ZMQError:
            pass
        self.direct_in.close()
        for sock in (self.dealer, self.ticks, self.bus_sub, self.bus_pub, self.direct_pub):
            if sock is not None:
                sock.close()

    # --- time -----------------------------------------------------------------------------

    def master_ns(self, local_ns: int | None = None) -> int:
        """Estimate of the master's monotonic clock (offset 0 until the first burst completes)."""
        local = self.clock.now_ns() if local_ns is None else local_ns
        return local + (self.sync.offset_ns or 0)

    def session_ns(self, local_ns: int | None = None) -> int:
        """Session time estimate; before START this is relative to an epoch of 0."""
        return self.master_ns(local_ns) - (self.epoch_ns or 0)

    def to_local_ns(self, session_ns: int) -> int:
        return session_ns + (self.epoch_ns or 0) - (self.sync.offset_ns or 0)

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
        ack_due = self.acks.due_ns()
        if ack_due is not None and now >= ack_due:
            self.acks.flush()
            ack_due = None
        due = min(self._next_heartbeat_ns, self.sync.due_ns()) if self.welcome else now + timeout_ms * 1_000_000
        if ack_due is not None:
            due = min(due, ack_due)
        timeout = max(0, min(timeout_ms, (due - now) // 1_000_000 + 1))
        ready = dict(self._poller.poll(timeout))
        # Read everything first, stamping each message as it is read (control first: probe replies
        # are the most timing-sensitive), then decode; decoding never delays another's timestamp.
        dsub = self.direct_in.sub
        control = self._stamped(self.dealer, True) if self.dealer in ready else []
        broadcasts = self._stamped(self.ticks, True) if self.ticks in ready else []
        bus = self._stamped(self.bus_sub, False) if self.bus_sub is not None and self.bus_sub in ready else []
        direct_msgs = self._stamped(dsub, False) if dsub is not None and dsub in ready else []
        for frames, t in control:
            self._on_control(frames, t)
        ticks = [ev for frames, t in broadcasts if (ev := self._on_broadcast(frames, t)) is not None]
        data = [ev for frames, t in direct_msgs if (ev := self._on_bus(frames, t, True)) is not None]
        data += [ev for frames, t in bus if (ev := self._on_bus(frames, t)) is not None]
        if self.bus_sub is not None:
            end = next((i for i, ev in enumerate(ticks) if isinstance(ev, EndEvent)), None)
            if end is not None:  # END and what follows wait for the bus drain, the ticks before it do not
                ticks, self._end_events = ticks[:end], ticks[end:]
        if not broadcasts and self._master_silent(self.clock.now_ns()):  # judged after reading what was queued
            self._ended = True
            ticks.append(EndEvent(f"syncserver silent for {(self.clock.now_ns() - self._last_broadcast_ns) / 1e9:.1f} s "
                                  f"(no tick or status broadcast; is it still running at {self.endpoints.ticks}?)",
                                  master_lost=True))
        # Data that arrived in the same batch as a tick is handed out first, so a frame is processed
        # with every input already here.
        return data + ticks

    def _drain_bus_after_end(self, quiet_ms: int = 50, max_ms: int = 500) -> list[Event]:
        """END overtakes bus messages still in the proxy (a different path): collect what was
        published before it, until the bus has been quiet for ``quiet_ms``."""
        out: list[Event] = []
        poller = zmq.Poller()
        for sock in (self.bus_sub, self.direct_in.sub):
            if sock is not None:
                poller.register(sock, zmq.POLLIN)
        deadline = time.monotonic() + max_ms / 1000
        while time.monotonic() < deadline and (ready := dict(poller.poll(quiet_ms))):
            for sock in ready:
                for frames, t in self._stamped(sock, False):
                    if (ev := self._on_bus(frames, t, sock is self.direct_in.sub)) is not None:
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
        """Acknowledge a tick: at once in lockstep (it gates the next tick), batched in realtime."""
        msg = p.Ack(frame=ev.tick.frame, t_ns=ev.tick.t_ns, recv_ns=ev.recv_ns, done_ns=self.session_ns(),
                    present_ns=present_ns, photon_ns=photon_ns)
        self.acks.add(msg, batch=self.welcome is not None and self.welcome.mode == "realtime")

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

    def publish_frames(self, frames: Sequence[bytes | memoryview | zmq.Frame]) -> None:
        """Put already encoded multipart frames on the bus as they are (a replay, byte for byte)."""
        if self.bus_pub is None:
            raise RuntimeError(f"node {self.name!r} was created without publish=True")
        self.bus_pub.send_multipart(frames, copy=False)

    def direct_topics_taken(self) -> dict[str, list[str]]:
        """Topic -> the producer endpoints it is taken from directly (for reports and tests)."""
        return self.direct_in.taken()

    # --- internals ------------------------------------------------------------------------

    def _send(self, msg: p.Message) -> None:
        msg.src = self.name
        try:
            send_message(self.dealer, p.encode(p.TOPIC_CONTROL, msg))
        except zmq.Again:
            self.stats.unsent += 1
            log.warning("%s not sent: no connection to the syncserver at %s", type(msg).__name__.upper(),
                        self.endpoints.control)

    def _master_silent(self, now: int) -> bool:
        """The syncserver broadcasts STATUS at least every 0.5 s whatever happens (ticks stalled in
        lockstep included); silence for SILENT_MASTER_TIMEOUTS heartbeat timeouts means it is gone."""
        if self.welcome is None or self._ended:
            return False
        limit = SILENT_MASTER_TIMEOUTS * int(self.welcome.heartbeat_timeout_s * 1e9)
        return now - self._last_broadcast_ns > limit

    def _housekeeping(self) -> None:
        if self.welcome is None:
            return
        now = self.clock.now_ns()
        if now >= self._next_heartbeat_ns:
            self._next_heartbeat_ns = now + int(self.welcome.heartbeat_interval_s * 1e9)
            self._send(self.sync.heartbeat())
        self.sync.service(now)

    def _on_control(self, frames: list[bytes], t3: int | None = None) -> None:
        t3 = self.clock.now_ns() if t3 is None else t3
        try:
            _, msg, _ = self._reply_decoder.decode(frames)
        except ProtocolError as exc:
            self.stats.decode_errors += 1
            log.warning("dropped control reply: %s", exc)
            return
        if isinstance(msg, p.ProbeReply):
            self.sync.on_reply(msg, t3)
        elif isinstance(msg, p.Probe):  # the syncserver measuring our clock: answer at once
            self._send(p.ProbeReply(seq=msg.seq, t0=msg.t0, t1=t3, t2=self.clock.now_ns()))
        elif isinstance(msg, p.Welcome):
            self.welcome = msg
            self.sync.true_offset_ns = self.clock.true_offset_ns(msg.host == self._hostname)
            self.direct_in.on_offer(msg.direct)
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
        self._last_broadcast_ns = recv_local
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
                self.direct_in.on_offer(msg.direct)
            elif msg.event in ("left", "dropped"):
                self.direct_in.on_gone(msg.direct)
        timed = self.epoch_ns is not None
        if isinstance(msg, p.Start):
            self.epoch_ns = msg.epoch_ns
            timed = True
        elif isinstance(msg, p.End):
            self._ended = True
            return EndEvent(msg.reason, msg.frames)
        return SessionEvent(msg, self.session_ns(recv_local), timed)

    def _on_bus(self, frames: list[zmq.Frame], recv_local: int, direct: bool = False) -> Event | None:
        topic = frames[0].bytes
        if topic.startswith(BUS_PROBE_PREFIX):
            return None
        if self.direct_in.switching and not self.direct_in.on_message(
                topic, frames[1].bytes if len(frames) > 1 else None, direct, recv_local):
            return None
        try:
            topic, msg, arrays = self._bus_decoder.decode([f.buffer for f in frames])
        except ProtocolError as exc:
            self.stats.decode_errors += 1
            log.warning("dropped bus message: %s", exc)
            return None
        return DataEvent(topic, msg, arrays, self.session_ns(recv_local), direct, self.epoch_ns is not None)
