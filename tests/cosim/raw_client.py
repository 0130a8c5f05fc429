#!/usr/bin/env python3
"""A syncserver client written from docs/protocol.md alone (wire protocol version 5; written for 4, whose control messages are the same).

Standard library + pyzmq + msgpack only; no project code (it runs under ``python -I``).

    python -I raw_client.py --control ENDPOINT --ticks ENDPOINT --name NAME [--required]

It connects, says HELLO, runs clock-probe bursts, heartbeats, waits for a live tick
subscription, says READY, ACKs every TICK, and on END says BYE and exits 0.  It exits 1 on
REJECT, on an ERROR answering its HELLO, when no WELCOME comes, or when the syncserver goes
silent.  At exit it prints one JSON line to stdout.

Where docs/protocol.md left me guessing
=======================================
(Each point quotes the document, then says what this client does.)

Envelope and encoding
 1. "Encoders write `type` first, then the common fields, then the type's fields in the order
    listed below, every field present" -- but `arrays` is not listed among the common fields,
    while the envelope says the payload has "one [frame] per entry of the header's `arrays`
    list" and the data-bus paragraph says `arrays` is optional "everywhere".  Is `arrays` a
    field of control headers (which must then be written, as [] or nil)?  Since "Unknown fields
    are errors", writing it could get my HELLO rejected.  I leave `arrays` out of control
    messages and accept it (when empty) on received ones.  (Checked afterwards against the
    real server: a HELLO with `arrays: []` or `arrays: nil` is answered ERROR "invalid 'HELLO'
    message: Object contains unknown field `arrays`" -- so "`arrays` everywhere" means the bus
    only, and the doc should say so.)
 2. The msgpack flavour is not stated: str vs bin for strings (I write msgpack str, i.e.
    use_bin_type=True, and decode str as text), and whether the `float` fields (`rate_hz`,
    `pace`, ...) may arrive as msgpack ints (I accept both) and must be written as float32 or
    float64 (I write none).  "uint (int64 range)" and "int64" are not mapped to msgpack widths;
    I rely on msgpack's smallest-encoding rule, and nothing says whether that is "the one
    encoding" the golden vectors fix.
 3. Common field `frame` on control requests (HELLO, READY, PROBE, HEARTBEAT, BYE): "the frame
    the message belongs to" does not say what a control request belongs to.  I send 0, except
    on ACK ("`frame` = acked frame").
 4. Common field `t_ns` on control requests after START: the doc says only "Before START there
    is no epoch: a client puts 0 in `t_ns` (the syncserver ignores `t_ns` of control
    requests...)".  After START I put my estimate of the current session time (0 while no
    epoch is known).
 5. Common field `src`: "sender's component name", optional.  Should a client fill it on
    control requests (the ROUTER already knows who sent it)?  I put my `--name` there.
 6. "control messages travel with topic `ctl` in both directions (... the ROUTER adds and strips
    the identity frame)" -- I take that to mean the DEALER receives exactly [b"ctl", header];
    I also accept any extra/empty leading frames and look for the `ctl` frame rather than
    assume its index.  The doc does not say whether a client should reject a reply whose
    topic is not `ctl` (I count it as a bad message and ignore it).
 7. "a header over 64 KiB, a whole message over 64 MiB (control: a header plus 1 KiB...)" --
    "a header plus 1 KiB" is unclear (64 KiB + 1 KiB?  the actual header's size + 1 KiB?).
    My messages are all tiny, so it does not matter here.
 8. `HELLO.host`: "identify it in logs (and decide which direct streams it may take)" -- not
    said whether this is the short host name, the FQDN or an address.  I send
    socket.gethostname().  `role` is "free text"; I send "raw".
 9. The "Time" section runs straight into "### Bulk arrays" on the same line
    ("... `local_now + offset - epoch_ns`.### Bulk arrays"), so that heading does not render
    and "Bulk arrays" reads as part of "Time"; likewise "### Direct streams" sits under
    "## Clock probes".  (Formatting slips, not protocol questions.)
 9a. The DEALER's routing id is not mentioned (may/must a client set ZMQ_ROUTING_ID, e.g. to its
    name?).  I leave it to ZeroMQ; the server tells clients apart by name (REJECT).

Handshake
10. No timeout or retry is given for HELLO.  If nothing answers, a client could wait forever
    (the tick-silence rule of step 9 only knows `heartbeat_timeout_s` from WELCOME).  I give
    up after --welcome-timeout (default 10 s) without a WELCOME, and also apply the silence
    rule before WELCOME with the default "(4 s by default)" figure, i.e. 4 s without anything
    on either socket.
11. WELCOME field types: "`heartbeat_interval_s`, `heartbeat_timeout_s`, `probe_interval_s`
    float, `probe_burst` int" -- I read "float" as applying to all three.  The handshake text
    and the table list the WELCOME fields in different orders; I do not depend on order.  The
    defaults of `heartbeat_interval_s`, `probe_interval_s` and `probe_burst` are nowhere given
    (only "two `heartbeat_timeout_s` (4 s by default)", implying heartbeat_timeout_s = 2 s).
12. "Or `REJECT` (the name is connected from another socket), or `ERROR` (a bad message: the
    reason names it)" -- an ERROR carries no reference to the message it answers, so an ERROR
    that arrives before WELCOME is taken as the answer to HELLO (exit 1); ERRORs after WELCOME
    are recorded and the client goes on.  Nothing says whether the server closes anything on
    REJECT or whether a rejected client may retry; I exit 1.
13. Step 4: "The client runs a probe burst ..., waits until a broadcast arrives on its SUB ...
    Then it sends `READY`."  Not said whether READY must wait for the burst to *complete* (or
    just start), nor what to do if every probe of the burst is lost.  I send READY once the
    first burst has finished (lost probes included) and a broadcast has arrived; the offset is
    then 0 if no sample came back ("Before the first burst completes the offset is taken as 0").
14. "waits until a broadcast arrives on its SUB" -- any broadcast (STATUS/CLIENT/START/TICK)
    counts here.  A broadcast that arrived *before* WELCOME also counts (the SUB is live
    either way).
15. TICKs that arrive before this client has sent READY (a late joiner in realtime; "follows
    from the next tick"): should they be ACKed?  "Clients `ACK` every tick" says yes, the
    handshake order suggests a component is not "in" the session before READY.  I ACK every
    TICK received after WELCOME, READY or not.  (In lockstep a required client cannot see a
    tick before its READY anyway.)

Heartbeats and silence
16. "a client sends `HEARTBEAT` every `heartbeat_interval_s` from WELCOME on" -- not said whether
    the first one goes out at WELCOME or one interval later, nor whether other control traffic
    (which "counts") may replace it.  I send one right at WELCOME and then on a fixed schedule,
    regardless of other traffic, until BYE.
17. Step 9: "a client that has heard nothing on the tick socket for two `heartbeat_timeout_s`
    ... takes it for gone" -- from when is the silence measured before the first broadcast?  I
    measure from the later of: connecting, the last broadcast.  Control replies do not reset it
    (the rule names the tick socket).  The exact end-reason wording "syncserver silent for N s"
    is the library's; N's format (integer? one decimal?) is not given -- I print one decimal.
18. Nothing says whether a client that ends on silence sends BYE.  I send BYE{reason:
    "syncserver silent"} anyway (harmless if nobody listens; linger is bounded).

Clock probes
19. `seq` is "uint32": its starting value and wrap-around are not given.  I start at 1 and wrap
    modulo 2**32.
20. "A **burst** is `probe_burst` (WELCOME) probes" and "A probe unanswered for 100 ms is lost:
    the burst goes on with the next one" -- does a lost probe count towards `probe_burst`?  I
    count probes *sent* (a lost one counts), so a burst always ends after `probe_burst` probes.
    A burst with no valid sample leaves the previous estimate in place (still counted in
    "bursts").  A reply for a lost probe, arriving later, "does not match the probe
    outstanding" and is ignored.
21. "then a burst every `probe_interval_s`" -- measured from the start or from the end of the
    previous burst?  I schedule bursts start-to-start; if a burst is still running when the
    next is due, the next starts right after it ends.
22. "the sample with the smallest `rtt` of the burst becomes the estimate" -- the estimate is
    replaced by each burst's best sample, not smoothed or combined with earlier bursts (that is
    my reading).  Ties: the first sample wins.  A reply whose rtt is exactly 0 is kept (only
    "negative" is ignored).
23. "`t0`: the client's monotonic clock" -- which clock is not named for the client (the master
    is "the syncserver host's CLOCK_MONOTONIC").  I use time.monotonic_ns() (CLOCK_MONOTONIC on
    Linux), so on the server's own host the offset should be about 0.
24. HEARTBEAT: "`offset_error_ns` = estimate - true offset when the client knows the truth ...
    nil otherwise" -- I never know it: always nil.  `offset_ns`/`rtt_ns` are nil until a burst
    has produced a sample ("nil before the first burst"); after a first burst that lost every
    probe they stay nil.

Ticks, ACKs, END
25. First frame number: not stated whether the first TICK is frame 0 or 1 (the frame clock
    `floor(k * P / pace)` suggests frame 0 at t_ns 0).  I just report what arrives.  Likewise
    not stated whether END's `frames` is the number of ticks emitted or the last frame index;
    I report it next to what I counted ("end": {"reason", "frames"}).  (Observed: frames
    0..N-1 and END frames = N = duration_s * rate_hz.)
25a. `duration_s` is never defined: wall-clock seconds or content (simulation) seconds?  With
    pace 2 the server ran 270 frames (3 s * 90 Hz) in 1.5 s, so it is content time; with pace 0
    the whole session lasts ~0.1 s.  A client that used duration_s as a deadline would be wrong.
25b. WELCOME "the current `frame`" for a late joiner: the last frame emitted or the next one to
    be emitted?  "follows from the next tick" suggests it should ignore that frame.  Observed:
    WELCOME said frame 258 and the first TICK my SUB delivered was frame 258 too (my SUB was
    connected before HELLO).  I just ACK whatever TICKs arrive.  WELCOME's common `t_ns` was
    non-zero for the late joiner (server session time, presumably); the doc says nothing about
    the common fields of server replies (`src` arrived as "syncserver").
26. ACK batching: "the client library sends ACKs in batches, 50 ms after the first one
    deferred" (realtime).  Is batching expected of every client or only an optimisation of the
    library?  "Clients `ACK` every tick" -- I send each ACK immediately in both modes (never
    wrong for lockstep; in realtime it costs a wake-up per tick).
27. `done_ns`: "when it finished with it" -- this client does nothing with a tick, so done_ns is
    taken right after decoding, just before the ACK is sent.  `present_ns`/`photon_ns`: nil
    (this client does not display).
28. Which epoch to use for session time: WELCOME.epoch_ns (late joiner), START.epoch_ns and
    each TICK's own `epoch_ns` all carry it; nothing says they can differ or what to do if they
    do.  I take the latest one seen (TICK's own for its ACK).
29. Gaps: the doc never says whether a client should expect strictly consecutive frames in
    realtime (PUB drops under a slow subscriber).  "gaps" here = number of frames missing
    between consecutive TICKs (frame jumps by more than one); "gap_events" = how many jumps.
30. STATUS `clients` entries list names but no types ({name, ready, required, connected,
    frames_behind, acks, offset_us}); `offset_us` is a float? int? nil?  I do not check them.
    Nor does STATUS/CLIENT matter to this client beyond "a broadcast arrived".
31. BYE `reason`: optional, no values defined.  I send "end" on END.  The doc says clients
    "send `BYE` and exit" but not how long to linger for the BYE to leave; I set ZMQ_LINGER to
    1000 ms on the DEALER.
32. Validation: the doc lists per-direction decoders and says unknown fields are errors.  This
    client checks `type`, `v == 4`, the required fields and unknown fields of what it receives,
    records failures in "bad_messages" and ignores those messages (keeps running, as "the
    receiving process keeps running").
"""

import argparse
import json
import os
import socket
import sys
import time

import msgpack
import zmq

PROTOCOL_VERSION = 5
COMMON = ("type", "v", "frame", "t_ns", "src")
LOST_PROBE_NS = 100_000_000  # "A probe unanswered for 100 ms is lost"
DEFAULT_SILENCE_S = 4.0  # "two heartbeat_timeout_s (4 s by default)"

# Fields each received type may carry beyond the common ones: (required, optional)
REPLY_FIELDS = {
    "WELCOME": (("session_id", "host", "mode", "rate_hz", "pace", "duration_s", "epoch_ns",
                 "heartbeat_interval_s", "heartbeat_timeout_s", "probe_interval_s",
                 "probe_burst"), ("direct",)),
    "REJECT": (("reason",), ()),
    "PROBE_REPLY": (("seq", "t0", "t1", "t2"), ()),
    "ERROR": (("reason",), ()),
}
BROADCAST_FIELDS = {
    "TICK": (("sent_ns", "dt_ns", "epoch_ns"), ()),
    "START": (("session_id", "epoch_ns", "mode", "rate_hz"), ()),
    "END": (("reason", "frames"), ()),
    "STATUS": (("started", "frames", "fps", "late", "lateness_p99_us", "clients"), ()),
    "CLIENT": (("name", "event"), ("reason", "direct")),
}


def now_ns():
    return time.monotonic_ns()


def encode(mtype, fields, *, frame=0, t_ns=0, src=""):
    """type first, then the common fields, then the type's fields in the documented order."""
    header = {"type": mtype, "v": PROTOCOL_VERSION, "frame": int(frame), "t_ns": int(t_ns),
              "src": src}
    for key, value in fields:
        header[key] = value
    return msgpack.packb(header, use_bin_type=True)


def decode(frames, table, topic_ok):
    """Return (header, None) or (None, reason)."""
    if len(frames) < 2:
        return None, "truncated message (%d frame(s))" % len(frames)
    if len(frames) > 18:
        return None, "too many frames (%d)" % len(frames)
    topic, raw = frames[0], frames[1]
    if not topic_ok(topic):
        return None, "unexpected topic %r" % topic
    if len(raw) > 64 * 1024:
        return None, "header over 64 KiB"
    try:
        header = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception as exc:  # noqa: BLE001 - any decode failure is a rejection
        return None, "header is not msgpack: %s" % exc
    if not isinstance(header, dict):
        return None, "header is not a msgpack map"
    if "v" not in header:
        return None, "missing field 'v'"
    if header["v"] != PROTOCOL_VERSION:
        return None, "unsupported protocol version %r (this side speaks %d)" % (
            header["v"], PROTOCOL_VERSION)
    mtype = header.get("type")
    if mtype not in table:
        return None, "unknown or misplaced type %r" % (mtype,)
    required, optional = table[mtype]
    for key in required:
        if key not in header:
            return None, "%s: missing field %r" % (mtype, key)
    allowed = set(COMMON) | set(required) | set(optional) | {"arrays"}
    for key in header:
        if key not in allowed:
            return None, "%s: unknown field %r" % (mtype, key)
    arrays = header.get("arrays") or []
    if len(arrays) != len(frames) - 2:
        return None, "%s: arrays list does not match payload frames" % mtype
    header.setdefault("frame", 0)
    header.setdefault("t_ns", 0)
    header.setdefault("src", "")
    return header, None


class Client:
    def __init__(self, args):
        self.args = args
        self.name = args.name
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"tick")
        self.sub.setsockopt(zmq.SUBSCRIBE, b"session")
        self.sub.connect(args.ticks)
        self.dealer = self.ctx.socket(zmq.DEALER)
        self.dealer.setsockopt(zmq.LINGER, 1000)
        self.dealer.connect(args.control)
        self.poller = zmq.Poller()
        self.poller.register(self.sub, zmq.POLLIN)
        self.poller.register(self.dealer, zmq.POLLIN)

        self.started_local = now_ns()
        self.welcome = None
        self.welcome_local = None
        self.epoch_ns = None
        self.sub_live = False
        self.last_broadcast_local = self.started_local
        self.last_any_local = self.started_local
        self.ready_sent = False
        self.hb_interval_ns = None
        self.hb_timeout_s = None
        self.next_heartbeat = None
        self.heartbeats = 0

        # clock probes
        self.offset_ns = None  # None until a burst produced a sample; used as 0 meanwhile
        self.rtt_ns = None
        self.seq = 0
        self.probe_burst = 0
        self.probe_interval_ns = 0
        self.burst_active = False
        self.burst_sent = 0
        self.burst_best = None  # (rtt, offset)
        self.outstanding = None  # (seq, t0)
        self.next_burst_at = None
        self.bursts = 0
        self.probes_sent = 0
        self.probes_lost = 0
        self.probe_replies = 0
        self.probe_ignored = 0

        # ticks
        self.ticks = 0
        self.acks = 0
        self.first_frame = None
        self.last_frame = None
        self.gaps = 0
        self.gap_events = 0
        self.out_of_order = 0
        self.delivery_ns = []

        self.errors = []
        self.bad_messages = []
        self.rejected = None
        self.start = None
        self.end = None
        self.end_reason = None
        self.broadcast_counts = {}

    # -- clock ---------------------------------------------------------------------------
    def offset(self):
        return self.offset_ns if self.offset_ns is not None else 0

    def session_now(self, local=None, epoch=None):
        epoch = self.epoch_ns if epoch is None else epoch
        if epoch is None:
            return 0
        local = now_ns() if local is None else local
        return local + self.offset() - epoch

    # -- sending -------------------------------------------------------------------------
    def send_ctl(self, mtype, fields=(), frame=0, t_ns=None):
        if t_ns is None:
            t_ns = self.session_now()
        self.dealer.send_multipart([b"ctl", encode(mtype, fields, frame=frame, t_ns=t_ns,
                                                   src=self.name)])

    def send_hello(self):
        self.send_ctl("HELLO", [("name", self.name), ("role", "raw"),
                                ("required", bool(self.args.required)),
                                ("host", socket.gethostname()), ("pid", os.getpid()),
                                ("direct", [])], t_ns=0)

    def send_heartbeat(self):
        self.send_ctl("HEARTBEAT", [("offset_ns", self.offset_ns), ("rtt_ns", self.rtt_ns),
                                    ("offset_error_ns", None)])
        self.heartbeats += 1

    def send_probe(self):
        self.seq = (self.seq + 1) % (1 << 32)
        t0 = now_ns()
        self.outstanding = (self.seq, t0)
        self.send_ctl("PROBE", [("seq", self.seq), ("t0", t0)])
        self.burst_sent += 1
        self.probes_sent += 1

    # -- probes --------------------------------------------------------------------------
    def start_burst(self, local):
        self.burst_active = True
        self.burst_sent = 0
        self.burst_best = None
        self.next_burst_at = local + self.probe_interval_ns
        self.send_probe()

    def probe_done(self):
        """The outstanding probe was answered or lost: next probe or end of burst."""
        self.outstanding = None
        if self.burst_sent < self.probe_burst:
            self.send_probe()
            return
        self.burst_active = False
        self.bursts += 1
        if self.burst_best is not None:
            self.rtt_ns, self.offset_ns = self.burst_best

    def on_probe_reply(self, h):
        t3 = now_ns()
        if self.outstanding is None or (h["seq"], h["t0"]) != self.outstanding:
            self.probe_ignored += 1
            return
        t0, t1, t2 = h["t0"], h["t1"], h["t2"]
        rtt = (t3 - t0) - (t2 - t1)
        self.probe_replies += 1
        if rtt < 0:
            self.probe_ignored += 1
            return  # ignored: the probe stays outstanding until it times out
        offset = ((t1 - t0) + (t2 - t3)) // 2
        if self.burst_best is None or rtt < self.burst_best[0]:
            self.burst_best = (rtt, offset)
        self.probe_done()

    # -- receiving -----------------------------------------------------------------------
    def on_control(self, frames):
        self.last_any_local = now_ns()
        # DEALER normally receives [b"ctl", header]; tolerate leading delimiter frames.
        while len(frames) > 2 and frames[0] != b"ctl" and not frames[0]:
            frames = frames[1:]
        h, err = decode(frames, REPLY_FIELDS, lambda t: t == b"ctl")
        if err:
            self.bad_messages.append("control: " + err)
            return None
        mtype = h["type"]
        if mtype == "WELCOME":
            if self.welcome is None:
                self.on_welcome(h)
            else:
                self.bad_messages.append("control: second WELCOME ignored")
        elif mtype == "REJECT":
            self.rejected = h["reason"]
            return "rejected: %s" % h["reason"]
        elif mtype == "ERROR":
            self.errors.append(h["reason"])
            if self.welcome is None:
                return "error before WELCOME: %s" % h["reason"]
        elif mtype == "PROBE_REPLY":
            self.on_probe_reply(h)
        return None

    def on_welcome(self, h):
        local = now_ns()
        self.welcome = h
        self.welcome_local = local
        if h.get("epoch_ns") is not None:
            self.epoch_ns = h["epoch_ns"]
        self.hb_interval_ns = int(float(h["heartbeat_interval_s"]) * 1e9)
        self.hb_timeout_s = float(h["heartbeat_timeout_s"])
        self.probe_interval_ns = int(float(h["probe_interval_s"]) * 1e9)
        self.probe_burst = max(1, int(h["probe_burst"]))
        self.send_heartbeat()
        self.next_heartbeat = local + self.hb_interval_ns
        self.start_burst(local)

    def on_broadcast(self, frames):
        local = now_ns()
        self.last_broadcast_local = local
        self.last_any_local = local
        self.sub_live = True
        h, err = decode(frames, BROADCAST_FIELDS,
                        lambda t: t.startswith(b"tick") or t.startswith(b"session"))
        if err:
            self.bad_messages.append("broadcast: " + err)
            return None
        mtype = h["type"]
        self.broadcast_counts[mtype] = self.broadcast_counts.get(mtype, 0) + 1
        if mtype == "TICK":
            self.on_tick(h, local)
        elif mtype == "START":
            self.epoch_ns = h["epoch_ns"]
            self.start = {k: h[k] for k in ("session_id", "epoch_ns", "mode", "rate_hz")}
        elif mtype == "END":
            self.end = {"reason": h["reason"], "frames": h["frames"]}
            return "end: %s" % h["reason"]
        return None

    def on_tick(self, h, local):
        frame, t_ns, epoch = h["frame"], h["t_ns"], h["epoch_ns"]
        self.epoch_ns = epoch
        self.ticks += 1
        if self.first_frame is None:
            self.first_frame = frame
        elif frame > self.last_frame + 1:
            self.gaps += frame - self.last_frame - 1
            self.gap_events += 1
        elif frame <= self.last_frame:
            self.out_of_order += 1
        if self.last_frame is None or frame > self.last_frame:
            self.last_frame = frame
        if self.welcome is None:
            return  # cannot ACK before WELCOME
        recv_ns = self.session_now(local, epoch)
        done_ns = self.session_now(None, epoch)
        self.send_ctl("ACK", [("recv_ns", recv_ns), ("done_ns", done_ns),
                              ("present_ns", None), ("photon_ns", None)],
                      frame=frame, t_ns=t_ns)
        self.acks += 1
        self.delivery_ns.append(recv_ns - t_ns)

    # -- main loop -----------------------------------------------------------------------
    def run(self):
        self.send_hello()
        welcome_deadline = self.started_local + int(self.args.welcome_timeout * 1e9)
        while True:
            local = now_ns()
            # silence / timeouts
            if self.welcome is None:
                if local >= welcome_deadline:
                    return 1, "no WELCOME within %.1f s" % self.args.welcome_timeout
                silent = (local - self.last_any_local) / 1e9
                if silent >= DEFAULT_SILENCE_S:
                    return 1, "syncserver silent for %.1f s" % silent
            else:
                silent = (local - self.last_broadcast_local) / 1e9
                if silent >= 2 * self.hb_timeout_s:
                    self.send_ctl("BYE", [("reason", "syncserver silent")])
                    return 1, "syncserver silent for %.1f s" % silent
                # heartbeats on a fixed schedule
                if local >= self.next_heartbeat:
                    self.send_heartbeat()
                    self.next_heartbeat += self.hb_interval_ns
                    if self.next_heartbeat <= local:
                        self.next_heartbeat = local + self.hb_interval_ns
                # probes
                if self.burst_active and self.outstanding is not None \
                        and local - self.outstanding[1] >= LOST_PROBE_NS:
                    self.probes_lost += 1
                    self.probe_done()
                if not self.burst_active and local >= self.next_burst_at:
                    self.start_burst(local)
                # READY once the first burst is over and the subscription is live
                if not self.ready_sent and self.bursts >= 1 and self.sub_live:
                    self.send_ctl("READY")
                    self.ready_sent = True

            # how long to sleep
            deadlines = [welcome_deadline if self.welcome is None else
                         self.last_broadcast_local + int(2 * self.hb_timeout_s * 1e9)]
            if self.welcome is not None:
                deadlines.append(self.next_heartbeat)
                if self.burst_active and self.outstanding is not None:
                    deadlines.append(self.outstanding[1] + LOST_PROBE_NS)
                if not self.burst_active:
                    deadlines.append(self.next_burst_at)
            timeout_ms = max(0.0, (min(deadlines) - now_ns()) / 1e6)
            events = dict(self.poller.poll(min(timeout_ms, 100.0) + 0.5))
            # drain the control socket first: replies and probe timing
            if self.dealer in events:
                while True:
                    try:
                        frames = self.dealer.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    verdict = self.on_control(frames)
                    if verdict:
                        return 1, verdict
            if self.sub in events:
                while True:
                    try:
                        frames = self.sub.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    verdict = self.on_broadcast(frames)
                    if verdict:
                        if self.welcome is not None:
                            self.send_ctl("BYE", [("reason", "end")])
                        return 0, verdict

    def report(self, end_reason):
        d = sorted(self.delivery_ns)
        return {
            "welcome": self.welcome,
            "ticks": self.ticks,
            "acks": self.acks,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "gaps": self.gaps,
            "gap_events": self.gap_events,
            "out_of_order": self.out_of_order,
            "bursts": self.bursts,
            "offset_ns": self.offset_ns,
            "rtt_ns": self.rtt_ns,
            "end_reason": end_reason,
            "end": self.end,
            "start": self.start,
            "errors": self.errors,
            "rejected": self.rejected,
            "bad_messages": self.bad_messages[:20],
            "bad_message_count": len(self.bad_messages),
            "ready_sent": self.ready_sent,
            "heartbeats": self.heartbeats,
            "probes": {"sent": self.probes_sent, "replies": self.probe_replies,
                       "lost": self.probes_lost, "ignored": self.probe_ignored},
            "broadcasts": self.broadcast_counts,
            "delivery_us": {
                "median": d[len(d) // 2] / 1e3 if d else None,
                "max": d[-1] / 1e3 if d else None,
            },
        }

    def close(self, code):
        self.sub.close(0)
        # linger (1000 ms) so the BYE leaves; nothing worth waiting for when the server is gone
        self.dealer.close(None if code == 0 else 200)
        self.ctx.term()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--control", required=True, help="control endpoint (ROUTER)")
    ap.add_argument("--ticks", required=True, help="tick endpoint (PUB)")
    ap.add_argument("--name", required=True, help="component name")
    ap.add_argument("--required", action="store_true", help="lockstep waits for my ACKs")
    ap.add_argument("--welcome-timeout", type=float, default=10.0,
                    help="give up when no WELCOME arrives within this many seconds")
    args = ap.parse_args(argv)
    client = Client(args)
    try:
        code, reason = client.run()
    except KeyboardInterrupt:
        code, reason = 1, "interrupted"
    print(json.dumps(client.report(reason), default=repr), flush=True)
    client.close(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
