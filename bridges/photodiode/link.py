"""The serial link to the board, in a thread of its own: it sends the clock probes on time and
timestamps each line the moment it can be read, whatever the component's event loop is doing."""
from __future__ import annotations

import logging
import os
import select
import threading
from collections import deque
from typing import Callable

import serial

from bridges.photodiode import lines
from bridges.photodiode.clockfit import DeviceClock
from cosim.errors import ProtocolError

log = logging.getLogger("photodiode.link")
MAX_SENT = 64  # probes awaiting a reply (older ones are given up)
MAX_FLASHES = 1024  # flashes not yet taken by the component


class SerialLink(threading.Thread):
    def __init__(self, port: str, baud: int, interval_ns: int, clock: DeviceClock, now_ns: Callable[[], int]) -> None:
        super().__init__(name="photodiode-link", daemon=True)
        try:
            self.port = serial.Serial(port, baud, timeout=0, write_timeout=0)
        except (serial.SerialException, OSError) as exc:
            from cosim.errors import InputFileError
            raise InputFileError(f"photodiode: cannot open serial port {port!r}: {exc}") from None
        self.interval_ns, self.clock, self.now_ns = interval_ns, clock, now_ns
        self.lock = threading.Lock()  # the clock fit, read by the component
        # unwrapped device µs, host ns the line was read, probes answered by then, the clock's resets by then
        self.flashes: deque[tuple[int, int, int, int]] = deque(maxlen=MAX_FLASHES)
        self.hello: lines.Hello | None = None
        self.bad_lines = 0
        self.device_errors = 0
        self.unanswered = 0
        self.unsent = 0  # probes the board's full input buffer did not take (it stopped reading)
        self.overflowed = 0  # flashes dropped because the component did not take them
        self.error: str | None = None
        self._sent: dict[int, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        fd = self.port.fileno()
        buf, skipping = b"", False
        seq, due = 0, self.now_ns()
        try:
            while not self._halt.is_set():
                now = self.now_ns()
                if now >= due:
                    self._probe(seq)
                    seq, due = (seq + 1) % 2**31, max(due + self.interval_ns, now)
                ready, _, _ = select.select([fd], [], [], min(0.05, max(0.0, (due - self.now_ns()) / 1e9)))
                if not ready:
                    continue
                at = self.now_ns()
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise OSError("the device closed the link")
                buf += chunk
                *complete, buf = buf.split(b"\n")
                if skipping and complete:  # the rest of an overlong line ends here
                    complete, skipping = complete[1:], False
                for raw in complete:
                    self._line(raw, at)
                if len(buf) > lines.MAX_LINE:
                    if not skipping:
                        self._bad(f"photodiode: over {lines.MAX_LINE} bytes without a line end", at)
                    buf, skipping = b"", True
        except (OSError, serial.SerialException) as exc:
            self.error = f"serial link lost: {exc}"
            log.error("%s (photon times stop here; the session goes on)", self.error)

    def _probe(self, seq: int) -> None:
        if len(self._sent) >= MAX_SENT:
            self._sent.pop(next(iter(self._sent)))
            self.unanswered += 1
        sent = self.now_ns()
        try:
            os.write(self.port.fileno(), lines.probe(seq))
        except BlockingIOError:  # the board stopped reading: keep listening, try again next time
            self.unsent += 1
            return
        self._sent[seq] = sent

    def _line(self, raw: bytes, at: int) -> None:
        if not raw.strip():
            return
        try:
            msg = lines.decode(raw)
        except ProtocolError as exc:
            self._bad(str(exc), at)
            return
        if isinstance(msg, lines.ProbeReply):
            sent = self._sent.pop(msg.seq, None)
            if sent is None:
                self._bad(f"photodiode: a reply to probe {msg.seq}, which is not awaited", at)
                return
            with self.lock:
                self.clock.add(sent, at, msg.t_us)
        elif isinstance(msg, lines.Flash):
            with self.lock:
                t_us = self.clock.unwrap(msg.t_us, at)
                if t_us is None:
                    self._bad(f"photodiode: a flash at device time {msg.t_us}, which the clock fit does not expect", at)
                    return
                if len(self.flashes) == self.flashes.maxlen:
                    self.overflowed += 1
                self.flashes.append((t_us, at, self.clock.rtt_ns.count, self.clock.resets))
        elif isinstance(msg, lines.Hello):
            if self.hello is not None or self.clock.synced:
                log.warning("photodiode: the board said hello again (it reset): its clock starts over")
                with self.lock:
                    self.clock.reset()
            self.hello = msg
            log.info("photodiode: %s, version %s", msg.name, msg.version)
        else:
            self.device_errors += 1
            log.warning("photodiode reports: %s", msg.text)

    def _bad(self, why: str, at: int) -> None:
        self.bad_lines += 1
        if self.bad_lines <= 5:
            log.warning("%s (line ignored%s)", why, "; further ones are only counted" if self.bad_lines == 5 else "")

    def to_host(self, t_us: int) -> int | None:
        """This host's clock (ns) at an unwrapped device time; None before enough probes."""
        with self.lock:
            return self.clock.to_host(t_us)

    def take_flashes(self) -> list[tuple[int, int, int, int]]:
        with self.lock:
            out = list(self.flashes)
            self.flashes.clear()
        return out

    def close(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=1.0)
        self.port.close()
