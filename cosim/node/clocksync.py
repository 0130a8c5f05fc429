"""Clock sync: NTP-style probe bursts against the master clock (docs/protocol.md "Clock probes").

A burst is ``burst`` PROBEs sent one after another (the next when the previous reply arrived, or
after PROBE_TIMEOUT_NS without one); the sample with the smallest round trip of the burst becomes
the offset estimate. A new burst starts every ``interval``.
"""
from __future__ import annotations

from typing import Callable

from cosim import protocol as p
from cosim.clock import LocalClock, OffsetEstimator, ProbeSample
from cosim.stats import Samples

PROBE_TIMEOUT_NS = 100_000_000  # a probe unanswered this long is lost: send the next one


class ClockSync:
    def __init__(self, clock: LocalClock, send: Callable[[p.Message], None]) -> None:
        self.clock = clock
        self._send = send
        self.estimator = OffsetEstimator()
        self.interval_ns = 1_000_000_000
        self.true_offset_ns: int | None = None  # master - local, when known (tests, one host)
        self.errors_ns = Samples()  # estimate - truth per completed burst, when the truth is known
        self._seq = 0
        self._pending: dict[int, int] = {}  # seq -> t0
        self._left = 0  # probes still to complete in the running burst
        self._sent_ns = 0
        self._next_ns = 0  # when the next burst starts

    def configure(self, burst: int, interval_s: float) -> None:
        self.estimator = OffsetEstimator(burst)
        self.interval_ns = int(interval_s * 1e9)

    @property
    def offset_ns(self) -> int | None:
        return self.estimator.offset_ns

    @property
    def rtt_ns(self) -> int | None:
        return self.estimator.rtt_ns

    @property
    def bursting(self) -> bool:
        return self._left > 0

    def due_ns(self) -> int:
        """When ``service`` next has something to do (local clock)."""
        return self._sent_ns + PROBE_TIMEOUT_NS if self._left else self._next_ns

    def start_burst(self) -> None:
        self._pending.clear()
        self._left = self.estimator.burst
        self._send_probe()

    def service(self, now: int) -> None:
        """Resend a lost probe (the burst goes on with the next one), or start the next burst. A
        lost reply must not leave the burst open: probing would stop for the session and a due
        time in the past would make every poll a zero timeout (a spin that, at SCHED_FIFO, starved
        the syncserver one priority lower)."""
        if self._left and now - self._sent_ns > PROBE_TIMEOUT_NS:
            self._pending.clear()
            self._send_probe()
        elif not self._left and now >= self._next_ns:
            self._next_ns = now + self.interval_ns
            self.start_burst()

    def on_reply(self, msg: p.ProbeReply, t3: int) -> bool:
        """One PROBE_REPLY received at local time ``t3``; True when it completed a burst."""
        t0 = self._pending.pop(msg.seq, None)
        if t0 is None or t0 != msg.t0:
            return False
        done = self.estimator.add(ProbeSample(t0, msg.t1, msg.t2, t3))
        if done and self.true_offset_ns is not None:
            self.errors_ns.append(self.estimator.offset_ns - self.true_offset_ns)
        if self._left:
            self._left -= 1
            if self._left:
                self._send_probe()
        return done

    def heartbeat(self) -> p.Heartbeat:
        est, true = self.offset_ns, self.true_offset_ns
        return p.Heartbeat(offset_ns=est, rtt_ns=self.rtt_ns,
                           offset_error_ns=None if est is None or true is None else est - true)

    def _send_probe(self) -> None:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        t0 = self.clock.now_ns()
        self._pending[self._seq] = t0
        self._sent_ns = t0
        self._send(p.Probe(seq=self._seq, t0=t0))
