"""The syncserver: master clock, tick broadcast, control channel, clock probes, data-bus proxy.

One thread runs the clock and the control channel (a ROUTER); a zmq proxy thread forwards the
data bus (XSUB <- producers, XPUB -> consumers) entirely in C. Realtime mode emits tick k at
``epoch + k·dt``: it waits on the control socket with a microsecond timeout until ``spin_us`` before
the deadline, then spins (cosim.timing). It never
waits for anyone. Lockstep mode emits tick k+1 once every required client acknowledged tick k
(and, with ``pace > 0``, not before its scheduled time).
"""
from __future__ import annotations

import gc
import logging
import re
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import zmq
from zmq.devices import ThreadProxy
from zmq.utils.monitor import parse_monitor_message

from cosim.config import Endpoints, SessionSettings
from cosim import protocol as p
from cosim.clock import OffsetEstimator, ProbeSample, StreamingFit, timens_monotonic_offset_ns
from cosim.curve import Gatekeeper, ServerKeys
from cosim.process import install_stop_handlers, mark_streaming
from cosim.errors import ProtocolError
from cosim.frameclock import FrameClock
from cosim.stats import Samples, abs_block, percentile_block
from cosim.sockets import recv_message, send_message
from cosim.timing import wait_readable, yield_to_own_threads

log = logging.getLogger("syncserver")

_RING = 1 << 14
SERVE_MARGIN_NS = 100_000  # no control message is started closer than this to a tick's deadline
HOUSEKEEPING_MARGIN_NS = 3_000_000  # STATUS and drop checks only with this much time before the next tick
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # what a client may call itself (safe in logs)
MAX_ERROR_KINDS = 32  # distinct reasons counted in control.by_reason; the rest under "other"
STATUS_GONE = 16  # clients that left or were dropped, still listed in STATUS (the newest)
TOOL_ROLES = ("sync-check", "marker")  # the project's own tools join any session under names of their own
PLAUSIBLE_NS = 3_600 * 10**9  # an ACK's times within an hour of the tick's, a |clock error| below it
PROBE_TIMEOUT_NS = 100_000_000


class ClientProbe:
    """The syncserver's own clock probes of one client: bursts of ``burst`` PROBEs, estimated as the
    client estimates ours (``OffsetEstimator``), the sign turned so that ``offset_ns`` is master
    minus the client's clock; a reply later than PROBE_TIMEOUT_NS is lost."""

    def __init__(self, burst: int = 8) -> None:
        self.seq = 0
        self.pending: dict[int, int] = {}  # seq -> t0 (master)
        self.left = 0
        self.estimator = OffsetEstimator(burst)
        self.sent_ns = 0
        self.next_ns = 0

    @property
    def bursting(self) -> bool:
        return self.left > 0

    @property
    def offset_ns(self) -> int | None:
        est = self.estimator.offset_ns
        return None if est is None else -est

    def due(self, now: int, interval_s: float) -> bool:
        if self.left and now - self.sent_ns > PROBE_TIMEOUT_NS:  # lost: the burst goes on
            self.pending.clear()
            return True
        if not self.left and now >= self.next_ns:
            self.next_ns = now + int(interval_s * 1e9)
            self.left = self.estimator.burst
            self.pending.clear()
            return True
        return False

    def next_probe(self, now: int) -> tuple[int, int]:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        self.pending[self.seq] = self.sent_ns = now
        return self.seq, now

    def on_reply(self, msg: p.ProbeReply, t3: int) -> bool:
        """One reply; True when it completed a burst (``offset_ns`` updated)."""
        t0 = self.pending.pop(msg.seq, None)
        if t0 is None or t0 != msg.t0 or not self.left:
            return False
        # the client's clock probed from ours: its t1/t2 are the far side's stamps
        sample = ProbeSample(t0=t0, t1=msg.t1, t2=msg.t2, t3=t3)
        if sample.rtt_ns < 0:
            return False
        self.left -= 1
        return self.estimator.add(sample)


@dataclass
class ClientState:
    name: str
    identity: bytes
    role: str
    required: bool
    host: str
    joined_frame: int
    last_seen_ns: int
    ready: bool = False
    ready_frame: int = 0
    connected: bool = True
    dropped: bool = False
    left: bool = False
    end_frame: int | None = None
    drop_reason: str = ""
    acks: int = 0
    last_ack: int = -1
    delivery_ns: Samples = field(default_factory=Samples)
    present_ns: Samples = field(default_factory=Samples)
    behind: Samples = field(default_factory=Samples)
    offset_errors_ns: Samples = field(default_factory=Samples)  # the client's estimate minus ours
    reported_errors_ns: Samples = field(default_factory=Samples)  # what the client says of itself (HEARTBEAT)
    offsets: StreamingFit = field(default_factory=StreamingFit)  # reported offset against master time
    probe: ClientProbe = field(default_factory=ClientProbe)
    last_offset_ns: int | None = None
    true_offset_ns: int | None = None  # master - client as the kernel says (session.clock_truth: kernel)
    true_errors_ns: Samples = field(default_factory=Samples)  # the client's estimate minus the truth
    measured_true_errors_ns: Samples = field(default_factory=Samples)  # our probes' measurement minus the truth
    direct: list[p.DirectStream] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.connected and self.ready

    def expected_acks(self, frames: int) -> int:
        end = self.end_frame if self.end_frame is not None else frames
        return max(0, end - self.ready_frame) if self.ready else 0

    def summary(self, frames: int) -> dict:
        return {
            "role": self.role,
            "required": self.required,
            "delivery_us": percentile_block(self.delivery_ns, 1e-3),
            # measured by the syncserver: the client's reported offset minus the one its own probes found
            "clock_offset_error_us": abs_block(self.offset_errors_ns, 1e-3),
            "clock_offset_error_self_reported_us": abs_block(self.reported_errors_ns, 1e-3),
            "clock_offset_measured_us": None if self.probe.offset_ns is None else round(self.probe.offset_ns / 1e3, 3),
            **({} if self.true_offset_ns is None else {
                "clock_offset_true_us": round(self.true_offset_ns / 1e3, 3),
                "clock_offset_true_error_us": abs_block(self.true_errors_ns, 1e-3),
                "clock_offset_measured_true_error_us": abs_block(self.measured_true_errors_ns, 1e-3)}),
            "clock_drift_ppm": None if (d := self.offsets.drift_ppm()) is None else round(d, 3),
            "frames_behind": percentile_block(self.behind),
            "present_latency_us": percentile_block(self.present_ns, 1e-3),
            "acks": self.acks,
            "missed": max(0, self.expected_acks(frames) - self.acks),
            "joined_frame": self.joined_frame,
            "dropped": self.dropped,
            "drop_reason": self.drop_reason or None,
            "left": self.left,
        }


class SyncServer:
    def __init__(self, settings: SessionSettings, endpoints: Endpoints, expected: set[str], known: set[str] | None = None,
                 context: zmq.Context | None = None, curve: ServerKeys | None = None) -> None:
        self.s = settings
        self.endpoints = endpoints
        self.expected = set(expected)
        self.known = set(known) if known is not None else None  # every component the config names
        self.ctx = context or zmq.Context.instance()
        self.session_id = uuid.uuid4().hex[:12]
        self.host = socket.gethostname()
        self.frames = FrameClock(settings.rate_hz, settings.mode, settings.pace)
        self.dt_ns = self.frames.dt_ns
        self.total_frames = max(1, round(settings.duration_s * settings.rate_hz))
        self.spin_ns = int(settings.spin_us * 1000)
        self.late_ns = int(settings.late_threshold_us * 1000)
        self.hb_timeout_ns = int(settings.heartbeat_timeout_s * 1e9)
        # before READY a component is setting up (imports, loading a model on a loaded machine) and may
        # be silent longer than a heartbeat: the ready timeout governs that phase
        self.setup_timeout_ns = max(self.hb_timeout_ns, int(settings.ready_timeout_s * 1e9))
        self.epoch_ns: int | None = None
        self.first_sent_ns: int | None = None  # session time tick 0 went out
        self.last_sent_ns = 0
        self.frame = 0  # next frame to emit
        self.frame_t = [0] * _RING
        self.frame_sent = [0] * _RING  # emission times (session ns), for frames_behind
        self.lateness_ns = Samples()
        self.late = 0
        self.clients: dict[str, ClientState] = {}
        self.by_identity: dict[bytes, ClientState] = {}
        self.errors: Counter[str] = Counter()
        self.implausible = 0  # ACK/HEARTBEAT values outside physical bounds, refused
        self.forgotten = 0  # clients gone long enough ago that only their count is kept
        self._awaited_since = 0  # lockstep: when the tick whose ACKs are awaited went out
        self.end_reason: str | None = None
        self.stop_reason: str | None = None
        self._decoder = p.control_request_decoder()
        self._status_next = 0
        self._status_frames = 0
        self._status_t = 0
        self._recent_lateness: list[int] = []

        self.gatekeeper: Gatekeeper | None = None
        if curve is not None:  # before any socket binds: ZAP must be up when the first peer connects
            self.gatekeeper = Gatekeeper(curve)
            self.gatekeeper.start(self.ctx)
        self.router = self.ctx.socket(zmq.ROUTER)
        if curve is not None:
            curve.apply(self.router)
        # Connections zmq closes by itself are counted from its monitor: a frame over MAXMSGSIZE, a
        # process that died; under CURVE also a peer without it (or with another server key).
        self._handshakes: zmq.Socket = self.router.get_monitor_socket(
            zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        self.disconnects = 0
        self.byes = 0
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self.router.setsockopt(zmq.MAXMSGSIZE, p.MAX_HEADER_BYTES + 1024)
        self.router.bind(endpoints.control)
        self.pub = self.ctx.socket(zmq.PUB)
        if curve is not None:
            curve.apply(self.pub)
        self.pub.setsockopt(zmq.LINGER, 500)
        self.pub.setsockopt(zmq.SNDHWM, 10000)
        self.pub.bind(endpoints.ticks)
        self.proxy = ThreadProxy(zmq.XSUB, zmq.XPUB)
        self.proxy.context_factory = lambda: self.ctx
        self.proxy.bind_in(endpoints.bus_in)
        self.proxy.bind_out(endpoints.bus_out)
        self.proxy.setsockopt_out(zmq.SNDHWM, 100000)
        self.proxy.setsockopt_out(zmq.LINGER, 0)
        self.proxy.setsockopt_in(zmq.LINGER, 0)
        # a frame larger than any message may be costs its sender the connection (the bus had no limit:
        # one 100 MB message took the syncserver from 40 to 143 MB)
        self.proxy.setsockopt_in(zmq.MAXMSGSIZE, p.MAX_MESSAGE_BYTES)
        for opt, value in (curve.socket_options() if curve is not None else []):
            self.proxy.setsockopt_in(opt, value)
            self.proxy.setsockopt_out(opt, value)
        self.proxy.daemon = True

    # --- clock ----------------------------------------------------------------------------

    @staticmethod
    def now() -> int:
        return time.monotonic_ns()

    def sched(self, k: int) -> int:
        """Scheduled session time of frame k (paced modes; cosim.frameclock)."""
        t = self.frames.t_ns(k)
        assert t is not None, "unpaced lockstep has no schedule"
        return t

    @property
    def paced(self) -> bool:
        return self.frames.paced

    def session_ns(self) -> int:
        return self.now() - (self.epoch_ns or 0)

    # --- main loop ------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def stop(name: str) -> None:
            self.stop_reason = f"interrupted ({name})"
        install_stop_handlers(stop)

    def run(self) -> str:
        """Run the whole session; returns the end reason."""
        self.proxy.start()
        yield_to_own_threads()  # its spin must not hold up its own I/O and proxy threads
        log.info("syncserver %s: control %s, ticks %s, bus %s -> %s; %s at %.3f Hz, %d frames",
                 self.session_id, self.endpoints.control, self.endpoints.ticks, self.endpoints.bus_in,
                 self.endpoints.bus_out, self.s.mode, self.s.rate_hz, self.total_frames)
        control, control_fds = [self.router], [self.router.getsockopt(zmq.FD)]
        ready_deadline = self.now() + int(self.s.ready_timeout_s * 1e9)
        gc.collect()
        gc.freeze()
        gc.disable()  # collected in _housekeeping, away from deadlines, so no pause lands in a spin
        while self.end_reason is None:
            now = self.now()
            if self.stop_reason:
                self._end(self.stop_reason)
                break
            if self.epoch_ns is None:
                if self._all_expected_ready():
                    self._start()
                    continue
                if now > ready_deadline:
                    missing = sorted(n for n in self.expected if not (n in self.clients and self.clients[n].ready))
                    strangers = sorted(n for n, c in self.clients.items() if self.known is not None
                                       and n not in self.known and c.role not in TOOL_ROLES)
                    hint = f"; joined under names the config does not list: {', '.join(strangers)} (misnamed?)" \
                        if strangers else ""
                    self._end(f"ready timeout: no READY from {', '.join(missing)} within {self.s.ready_timeout_s} s{hint}")
                    break
                wait_until = now + 20_000_000
            elif self.s.mode == "realtime" or not self._waiting_for_acks():
                # unpaced: as fast as the ACKs come, but never before the epoch (session time 0)
                wait_until = self.epoch_ns + self.sched(self.frame) - self.spin_ns if self.paced else \
                    max(now, self.epoch_ns)
            else:
                wait_until = now + 20_000_000
            wait_readable(control, min(wait_until - now, 20_000_000), control_fds)
            # A realtime tick's deadline bounds what is done first: control messages until just before
            # it (16 clients' ACK batches and heartbeats can take milliseconds), housekeeping (STATUS,
            # drop checks, a GC pass) only with room to spare; the rest waits for after the tick.
            deadline = self._next_deadline()
            self._drain_control(deadline - SERVE_MARGIN_NS if deadline is not None else None)
            if deadline is None or deadline - self.now() > HOUSEKEEPING_MARGIN_NS:
                self._housekeeping()
            if self.epoch_ns is not None and self.end_reason is None and self._due():
                self._emit()
        gc.enable()
        self._linger()
        return self.end_reason or "ended"

    def _due(self) -> bool:
        if self.s.mode == "lockstep" and self._waiting_for_acks():
            return False
        if not self.paced:
            return self.now() >= self.epoch_ns
        deadline = self.epoch_ns + self.sched(self.frame)
        now = self.now()
        if now < deadline - self.spin_ns:
            return False
        router = self.router
        while now < deadline:  # spin, answering control (clock probes) until just before the deadline
            if deadline - now > SERVE_MARGIN_NS and router.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                self._drain_control()
            now = self.now()
        return True

    def _waiting_for_acks(self) -> bool:
        if self.frame == 0:
            return False
        prev = self.frame - 1
        return any(c.required and c.active and c.ready_frame <= prev and c.last_ack < prev
                   for c in self.clients.values())

    def _all_expected_ready(self) -> bool:
        return all(n in self.clients and self.clients[n].ready for n in self.expected)

    def _start(self) -> None:
        self.epoch_ns = self.now() + int(self.s.start_delay_s * 1e9)
        self._status_t = self.now()
        self._publish(p.TOPIC_SESSION, p.Start(session_id=self.session_id, epoch_ns=self.epoch_ns,
                                               mode=self.s.mode, rate_hz=self.s.rate_hz))
        log.info("all expected clients ready (%s); session starts", ", ".join(sorted(self.expected)) or "none")

    def _emit(self) -> None:
        k = self.frame
        if k == 0:
            mark_streaming()
        sent = self.now() - self.epoch_ns
        t = self.sched(k) if self.paced else sent
        send_message(self.pub, p.encode(p.TOPIC_TICK, p.Tick(
            frame=k, t_ns=t, src="syncserver", sent_ns=sent, dt_ns=self.dt_ns, epoch_ns=self.epoch_ns)))
        self.frame_t[k % _RING] = t
        self.frame_sent[k % _RING] = sent
        self._awaited_since = sent + self.epoch_ns
        if self.first_sent_ns is None:
            self.first_sent_ns = sent
        self.last_sent_ns = sent
        if self.paced:
            lateness = sent - t
            self.lateness_ns.append(lateness)
            self._recent_lateness.append(lateness)
            if lateness > self.late_ns:
                self.late += 1
        self.frame = k + 1
        if self.frame >= self.total_frames:
            self._end("completed")

    def _end(self, reason: str) -> None:
        self.end_reason = reason
        self._publish_status(self.now())  # the final state, also for sessions shorter than one interval
        self._publish(p.TOPIC_SESSION, p.End(reason=reason, frames=self.frame))
        log.info("session ends after %d frames: %s", self.frame, reason)

    def _linger(self, seconds: float = 0.5) -> None:
        """Collect the last ACKs and BYEs after END."""
        deadline = self.now() + int(seconds * 1e9)
        while self.now() < deadline and any(c.connected for c in self.clients.values()):
            if self.router.poll(20):
                self._drain_control()
        for c in self.clients.values():
            if c.end_frame is None:
                c.end_frame = self.frame

    def close(self) -> None:
        self._read_monitor()
        self.router.disable_monitor()
        self._handshakes.close()
        self.router.close()
        self.pub.close()
        if self.gatekeeper is not None:
            self.gatekeeper.stop()

    # --- control channel ------------------------------------------------------------------

    def _next_deadline(self) -> int | None:
        """Monotonic time of the next realtime tick (None: not started, lockstep, or unpaced)."""
        if self.epoch_ns is None or self.s.mode != "realtime" or self.end_reason is not None:
            return None
        return self.epoch_ns + self.sched(self.frame)

    def _drain_control(self, until: int | None = None) -> None:
        """Handle every queued control message, or those that can be started before ``until``."""
        while until is None or self.now() < until:
            try:
                frames = recv_message(self.router)
            except zmq.Again:
                return
            t1 = self.now()
            self._on_control(frames, t1)
            if self.s.mode == "lockstep" and self.epoch_ns is not None and self.end_reason is None \
                    and not self.paced and not self._waiting_for_acks() and t1 >= self.epoch_ns:
                self._emit()

    def _reply(self, identity: bytes, msg: p.Message) -> None:
        msg.src = "syncserver"
        send_message(self.router, [identity, *p.encode(p.TOPIC_CONTROL, msg)])

    def _reject_input(self, identity: bytes, reason: str) -> None:
        kind = reason.split(":")[0][:80]
        if kind not in self.errors and len(self.errors) >= MAX_ERROR_KINDS:
            kind = "other"
        self.errors[kind] += 1
        log.warning("rejected control message from %s: %r", identity.hex(), reason)
        try:
            self._reply(identity, p.Error(reason=reason[:4000], frame=self.frame))
        except zmq.ZMQError:
            pass

    def _on_control(self, frames: list[bytes], t1: int) -> None:
        identity, body = frames[0], frames[1:]
        try:
            _, msg, _ = self._decoder.decode(body)
        except ProtocolError as exc:
            self._reject_input(identity, str(exc))
            return
        client = self.by_identity.get(identity)
        if client is not None and msg.src and msg.src != client.name:
            self._reject_input(identity, f"src mismatch: {msg.src!r} is not this socket's name {client.name!r}")
            return
        if isinstance(msg, p.Probe):
            self._reply(identity, p.ProbeReply(seq=msg.seq, t0=msg.t0, t1=t1, t2=self.now()))
            if client:
                client.last_seen_ns = t1
            return
        if isinstance(msg, p.Hello):
            self._on_hello(identity, msg, t1)
            return
        if isinstance(msg, p.ProbeReply):
            if client is not None:
                client.last_seen_ns = t1
                self._on_probe_reply(client, msg, t1)
            return
        if client is None or not client.connected:
            self._reject_input(identity, f"not joined: send HELLO before {type(msg).__name__.upper()}")
            return
        client.last_seen_ns = t1
        if isinstance(msg, p.Ack):
            self._on_ack(client, msg)
        elif isinstance(msg, p.Ready):
            if not client.ready:
                client.ready = True
                client.ready_frame = self.frame
                self._publish(p.TOPIC_SESSION, p.ClientEvent(name=client.name, event="ready", direct=client.direct))
                log.info("client %s ready at frame %d", client.name, self.frame)
        elif isinstance(msg, p.Heartbeat):
            if (msg.offset_error_ns is not None and abs(msg.offset_error_ns) > PLAUSIBLE_NS) \
                    or (msg.rtt_ns is not None and not 0 <= msg.rtt_ns <= PLAUSIBLE_NS):
                self.implausible += 1
                self._reject_input(client.identity, "implausible HEARTBEAT: an rtt or clock error beyond an hour")
                return
            if msg.offset_error_ns is not None:
                client.reported_errors_ns.append(msg.offset_error_ns)
            if msg.offset_ns is not None and msg.offset_ns != client.last_offset_ns:
                client.last_offset_ns = msg.offset_ns
                client.offsets.add(t1, t1 + msg.offset_ns)
                if client.true_offset_ns is not None:
                    client.true_errors_ns.append(msg.offset_ns - client.true_offset_ns)
                self._pair_offsets(client)
        elif isinstance(msg, p.Bye):
            self._disconnect(client, "left", msg.reason)

    def _refuse(self, identity: bytes, name: str, reason: str) -> None:
        self.errors["refused HELLO"] += 1
        log.warning("refused HELLO from %s: %s", identity.hex(), reason)
        self._reply(identity, p.Reject(reason=reason))
        if NAME_RE.fullmatch(name):
            self._publish(p.TOPIC_SESSION, p.ClientEvent(name=name, event="rejected", reason=reason[:200]))

    def _on_hello(self, identity: bytes, msg: p.Hello, t1: int) -> None:
        if not NAME_RE.fullmatch(msg.name):
            self._refuse(identity, msg.name, f"name {msg.name!r} is not allowed: 1-64 of A-Z a-z 0-9 _ . - "
                                             f"(starting with a letter or digit)")
            return
        if self.s.unknown_clients == "refuse" and self.known is not None and msg.name not in self.known \
                and msg.role not in TOOL_ROLES:
            self._refuse(identity, msg.name, f"name {msg.name!r} is not a component of this session "
                                             f"(session.unknown_clients: refuse); expected one of: "
                                             f"{', '.join(sorted(self.known)) or 'none'}")
            return
        mine = self.by_identity.get(identity)
        if mine is not None and mine.connected and mine.name != msg.name:
            self._refuse(identity, msg.name, f"this socket is joined as {mine.name!r}; one name per socket")
            return
        old = self.clients.get(msg.name)
        if old is not None and old.connected and old.identity != identity:
            self._refuse(identity, msg.name, f"name {msg.name!r} is already connected")
            return
        if (old is None or not old.connected) and sum(c.connected for c in self.clients.values()) >= self.s.max_clients:
            self._refuse(identity, msg.name, f"too many clients ({self.s.max_clients} connected; session.max_clients)")
            return
        if old is not None and old.identity != identity:
            self.by_identity.pop(old.identity, None)
        s = self.s
        client = ClientState(name=msg.name, identity=identity, role=msg.role, required=msg.required,
                             host=msg.host, joined_frame=self.frame, last_seen_ns=t1,
                             direct=self._acceptable_offers(msg), probe=ClientProbe(s.probe_burst))
        if old is not None:  # a rejoin keeps the history
            client.acks, client.delivery_ns, client.behind = old.acks, old.delivery_ns, old.behind
            client.offset_errors_ns, client.offsets = old.offset_errors_ns, old.offsets
            client.reported_errors_ns = old.reported_errors_ns
            client.true_errors_ns, client.measured_true_errors_ns = old.true_errors_ns, old.measured_true_errors_ns
        if s.clock_truth == "kernel":
            client.true_offset_ns = self._kernel_truth(msg)
        self.clients[msg.name] = client
        self.by_identity[identity] = client
        self._reply(identity, p.Welcome(
            frame=self.frame, t_ns=self.session_ns() if self.epoch_ns else 0, session_id=self.session_id,
            host=self.host, mode=s.mode, rate_hz=s.rate_hz, pace=s.pace, duration_s=s.duration_s,
            epoch_ns=self.epoch_ns, heartbeat_interval_s=s.heartbeat_interval_s,
            heartbeat_timeout_s=s.heartbeat_timeout_s, probe_interval_s=s.probe_interval_s,
            probe_burst=s.probe_burst, direct=self._direct_streams()))
        self._publish(p.TOPIC_SESSION, p.ClientEvent(name=msg.name, event="joined", direct=client.direct))
        log.info("client %s joined (role %r, required %s, pid %d on %r) at frame %d",
                 msg.name, msg.role, msg.required, msg.pid, msg.host, self.frame)
        if self.known is not None and msg.name not in self.known and msg.role not in TOOL_ROLES:
            log.warning("client %s is not one of the components the config names (%s): a misnamed component?",
                        msg.name, ", ".join(sorted(self.known)) or "none")
        self._forget_gone()

    def _forget_gone(self) -> None:
        """Keep the summaries of at most max_clients clients that have gone; count the rest."""
        gone = [c for c in self.clients.values() if not c.connected]
        for c in gone[:max(0, len(gone) - self.s.max_clients)]:
            del self.clients[c.name]
            self.forgotten += 1

    def _acceptable_offers(self, msg: p.Hello) -> list[p.DirectStream]:
        """A direct topic has one producer (a consumer that takes it leaves the bus for that topic),
        and is offered from the producer's own host; other offers are not passed on."""
        taken = {d.topic for c in self.clients.values() if c.connected and c.name != msg.name for d in c.direct}
        out = []
        for d in msg.direct:
            if d.topic in taken or d.host != msg.host:
                log.warning("%s: direct offer of %s at %s not passed on (%s)", msg.name, d.topic, d.endpoint,
                            "another component offers it" if d.topic in taken else f"host {d.host!r} is not its own")
                continue
            taken.add(d.topic)
            out.append(d)
        return out

    def _direct_streams(self) -> list[p.DirectStream]:
        """What the connected components offer (WELCOME); the newest offer first, at most the
        protocol's limit."""
        offered = [d for c in self.clients.values() if c.connected for d in c.direct]
        return offered[::-1][:p.MAX_DIRECT_STREAMS]

    def _on_ack(self, client: ClientState, msg: p.Ack) -> None:
        k = msg.frame
        if k >= self.frame or k <= client.last_ack:
            if k >= self.frame:
                self._reject_input(client.identity, f"ACK for frame {k} that was never emitted")
            return
        t = self.frame_t[k % _RING] if self.frame - k < _RING else msg.t_ns
        if any(v is not None and abs(v - t) > PLAUSIBLE_NS for v in (msg.recv_ns, msg.done_ns, msg.present_ns,
                                                                      msg.photon_ns)):
            self.implausible += 1
            self._reject_input(client.identity, f"implausible ACK for frame {k}: a time more than an hour from the tick's")
            return
        client.acks += 1
        client.last_ack = k
        if self.frame - k < _RING:
            client.behind.append(self._frames_emitted_by(k, msg.done_ns))
            t = self.frame_t[k % _RING]
            client.delivery_ns.append(msg.recv_ns - t)
            if msg.present_ns is not None:
                client.present_ns.append(msg.present_ns - t)

    def _frames_emitted_by(self, k: int, done_ns: int) -> int:
        """Frames behind: how many ticks after ``k`` had been emitted when the client finished ``k``
        (its ``done_ns``). Taken from the ACK's own times, so it does not depend on when the ACK
        travelled (realtime ACKs are batched)."""
        j = k + 1
        while j < self.frame and self.frame_sent[j % _RING] <= done_ns:
            j += 1
        return j - 1 - k

    def _disconnect(self, client: ClientState, event: str, reason: str) -> None:
        client.connected = False
        client.end_frame = self.frame
        if event == "dropped":
            client.dropped = True
            client.drop_reason = reason
        else:
            client.left = True
            self.byes += 1
        self.by_identity.pop(client.identity, None)
        self._publish(p.TOPIC_SESSION, p.ClientEvent(name=client.name, event=event, reason=reason,
                                                     direct=client.direct))
        (log.warning if event == "dropped" else log.info)("client %s %s at frame %d: %s",
                                                          client.name, event, self.frame, reason)

    # --- housekeeping ---------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = self.now()
        if now < self._status_next:
            return
        interval = self.s.status_interval_s if self.epoch_ns is not None else 0.1
        self._status_next = now + int(interval * 1e9)
        if self.epoch_ns is None or not self.paced or self.epoch_ns + self.sched(self.frame) - now > 4_000_000:
            gc.collect(1)
        for c in list(self.clients.values()):
            if c.connected and now - c.last_seen_ns > (self.hb_timeout_ns if c.ready else self.setup_timeout_ns):
                self._disconnect(c, "dropped", f"no heartbeat for {(now - c.last_seen_ns) / 1e9:.2f} s")
        self._check_ack_timeout(now)
        self._probe_clients(now)
        self._read_monitor()
        self._publish_status(now)

    def _read_monitor(self) -> None:
        while self._handshakes.poll(0):
            event = parse_monitor_message(self._handshakes.recv_multipart())["event"]
            if event == zmq.EVENT_DISCONNECTED:
                self.disconnects += 1
                if self.disconnects > self.byes:
                    log.warning("a control connection closed without BYE (a message over %d bytes, or a process "
                                "that died)", p.MAX_HEADER_BYTES + 1024)
            elif self.gatekeeper is not None:
                self.gatekeeper.failed_handshakes += 1
                log.warning("refused a control connection that failed the CURVE handshake (no CURVE, or another key)")

    def _probe_clients(self, now: int) -> None:
        """Start a probe burst to every client whose next one is due (from housekeeping, well before
        the next tick); each reply sends the next probe of its burst (``_on_probe_reply``)."""
        for c in self.clients.values():
            if c.connected and c.probe.due(now, self.s.probe_interval_s):
                self._send_probe(c, now)

    def _send_probe(self, c: ClientState, now: int) -> None:
        seq, t0 = c.probe.next_probe(self.now())
        try:
            self._reply(c.identity, p.Probe(seq=seq, t0=t0))
        except zmq.ZMQError:
            pass

    def _on_probe_reply(self, c: ClientState, msg: p.ProbeReply, t3: int) -> None:
        if c.probe.on_reply(msg, t3):
            self._pair_offsets(c)
            if c.true_offset_ns is not None and c.probe.offset_ns is not None:
                c.measured_true_errors_ns.append(c.probe.offset_ns - c.true_offset_ns)
        if c.probe.bursting:
            self._send_probe(c, t3)

    def _kernel_truth(self, msg: p.Hello) -> int | None:
        """session.clock_truth: kernel (emulated hosts on one kernel, tests/multihost): master - client
        from the two processes' time-namespace offsets, as the kernel reports them."""
        mine, theirs = timens_monotonic_offset_ns(), timens_monotonic_offset_ns(msg.pid) if msg.pid > 0 else None
        if mine is None or theirs is None:
            log.warning("clock_truth: kernel, but the time namespace of %s (pid %d) cannot be read: no truth for it",
                        msg.name, msg.pid)
            return None
        return mine - theirs

    @staticmethod
    def _pair_offsets(c: ClientState) -> None:
        """A clock error sample whenever either side has news: the client's newest reported offset
        against our newest measurement of it (whichever came first, a short session gets one)."""
        if c.last_offset_ns is not None and c.probe.offset_ns is not None:
            c.offset_errors_ns.append(c.last_offset_ns - c.probe.offset_ns)

    def _check_ack_timeout(self, now: int) -> None:
        """Lockstep: a required client that keeps heartbeating but stops ACKing would stall the
        session silently for ever; after ack_timeout_s it is dropped, reported, and the session goes on."""
        if self.s.mode != "lockstep" or self.epoch_ns is None or not self._waiting_for_acks():
            return
        if now - self._awaited_since <= int(self.s.ack_timeout_s * 1e9):
            return
        prev = self.frame - 1
        for c in list(self.clients.values()):
            if c.required and c.active and c.ready_frame <= prev and c.last_ack < prev:
                self._disconnect(c, "dropped", f"no ACK of frame {prev} within {self.s.ack_timeout_s:g} s "
                                               f"(session.ack_timeout_s)")

    def _publish_status(self, now: int) -> None:
        elapsed = (now - self._status_t) / 1e9 if self._status_t else 0.0
        fps = (self.frame - self._status_frames) / elapsed if elapsed > 0 else 0.0
        self._status_frames, self._status_t = self.frame, now
        recent = percentile_block(self._recent_lateness, 1e-3)["p99"]
        self._recent_lateness = []
        listed = [c for c in self.clients.values() if c.connected]
        listed += [c for c in self.clients.values() if not c.connected][-STATUS_GONE:]
        clients = [p.ClientStatus(name=c.name, ready=c.ready, required=c.required, connected=c.connected,
                                  frames_behind=int(c.behind.last or 0), acks=c.acks,
                                  offset_us=None if c.last_offset_ns is None else c.last_offset_ns / 1e3)
                   for c in listed]
        self._publish(p.TOPIC_SESSION, p.Status(started=self.epoch_ns is not None, frames=self.frame, fps=fps,
                                                late=self.late, lateness_p99_us=recent, clients=clients))

    def _publish(self, topic: bytes, msg: p.Message) -> None:
        msg.src = "syncserver"
        msg.frame = msg.frame or self.frame
        if self.epoch_ns is not None and not msg.t_ns:
            msg.t_ns = self.session_ns()
        send_message(self.pub, p.encode(topic, msg))

    # --- results --------------------------------------------------------------------------

    def _streamed_ns(self) -> int:
        """Wall time from the first tick's emission to the last's: what fps is measured over (from the
        epoch it would count the start delay, and unpaced lockstep sends tick 0 at once)."""
        return self.last_sent_ns - self.first_sent_ns if self.first_sent_ns is not None else 0

    def sections(self) -> dict:
        self._read_monitor()
        return {
            "session": {"id": self.session_id, "mode": self.s.mode, "rate_hz": self.s.rate_hz,
                        "pace": self.s.pace, "duration_s": round(self.frame / self.s.rate_hz, 6),
                        "frames": self.frame, "planned_frames": self.total_frames,
                        "started": self.epoch_ns is not None, "end_reason": self.end_reason,
                        "elapsed_s": round(self._streamed_ns() / 1e9, 6),
                        "fps": round((self.frame - 1) / (self._streamed_ns() / 1e9), 3) if self._streamed_ns() > 0 else None},
            "ticks": {"lateness_us": percentile_block(self.lateness_ns, 1e-3), "late": self.late,
                      "late_threshold_us": self.s.late_threshold_us},
            "security": {"curve": self.gatekeeper is not None,
                         **(self.gatekeeper.section() if self.gatekeeper is not None else {})},
            "control": {"rejected": sum(self.errors.values()), "by_reason": dict(self.errors),
                        "implausible_values": self.implausible, "clients_forgotten": self.forgotten,
                        "closed_without_bye": max(0, self.disconnects - self.byes)},
            "clients": {name: c.summary(self.frame) for name, c in self.clients.items()},
        }
