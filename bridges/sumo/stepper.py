"""The bridge's side of the stepping process: spawns it, tells it how far ahead to run, and keeps
the segments it sends, in time order, until the frames have passed them."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections import deque
from typing import Any

import msgspec
import zmq

from bridges.sumo import pipe
from bridges.sumo.config import Settings
from bridges.sumo.scenario import REPO_ROOT
from bridges.sumo.segment import IdTable, LightTable, Segment
from cosim.process import PARENT_ENV
from cosim.errors import CosimError, InputFileError, ProtocolError

log = logging.getLogger("sumo.stepper")


class StepperError(CosimError):
    """The stepping process failed or went away."""


class Stepper:
    def __init__(self, settings: Settings, context: zmq.Context | None = None, log_level: str = "INFO") -> None:
        self.settings = settings
        self.sock = (context or zmq.Context.instance()).socket(zmq.PAIR)
        self.sock.setsockopt(zmq.LINGER, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        env = dict(os.environ, **{PARENT_ENV: str(os.getpid())})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridges.sumo.worker", "--connect", f"tcp://127.0.0.1:{port}",
             "--settings", msgspec.json.encode(settings).decode(), "--log-level", log_level],
            cwd=REPO_ROOT, env=env)
        self.segments: deque[Segment] = deque()
        self.first_ns = 0
        self.step_ns = 0
        self.info: dict[str, Any] = {}
        self.epoch = 0
        self.ended = False
        self.failed: str | None = None
        self.received = 0
        self.decode_errors = 0
        self._horizon: int | None = None
        self._table: IdTable | None = None
        self._lights: LightTable | None = None

    def start(self, timeout_s: float) -> dict[str, Any]:
        """Wait for the stepping process to load the scenario. Raises InputFileError naming the file."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.sock.poll(100):
                msg = pipe.decode_to_bridge(self.sock.recv_multipart(copy=False))
                if isinstance(msg, pipe.Failed):
                    raise InputFileError(msg.reason)
                if isinstance(msg, pipe.Hello):
                    self.first_ns, self.step_ns, self.info = msg.first_ns, msg.step_ns, msg.info
                    return msg.info
            elif self.proc.poll() is not None:
                raise StepperError(f"the SUMO stepping process exited with status {self.proc.returncode} "
                                   f"before loading {self.settings.scenario!r} (see its log)")
        raise StepperError(f"the SUMO stepping process did not load {self.settings.scenario!r} within {timeout_s:.0f} s")

    def set_horizon(self, sim_ns: int) -> None:
        """Tell the stepping process how far to run. It steps until its state is at or past the
        horizon, so a horizon that the newest segment already reaches would change nothing: it is not
        sent (one message per SUMO step instead of one per frame, each of which wakes the process)."""
        if self.segments and sim_ns <= self.segments[-1].s_b:
            return
        if self._horizon is None or sim_ns > self._horizon:
            self._horizon = sim_ns
            self._send(pipe.Horizon(sim_ns=sim_ns))

    def seek(self, sim_ns: int) -> None:
        self.epoch += 1
        self.segments.clear()
        self.ended = False
        self._horizon = None
        self._send(pipe.Seek(sim_ns=sim_ns, epoch=self.epoch))

    def place(self, x: float, y: float, heading_deg: float) -> None:
        """The participant's position for the stepping process's next SUMO step."""
        self._send(pipe.Place(x=x, y=y, heading_deg=heading_deg))

    def _send(self, msg: pipe.Horizon | pipe.Seek | pipe.Stop | pipe.Place) -> None:
        """Never blocks: a PAIR socket whose peer is gone would block forever."""
        try:
            self.sock.send_multipart(pipe.encode(msg), flags=zmq.NOBLOCK)
        except zmq.Again:
            if self.gone():
                return
            log.warning("stepping process is not listening; %s dropped", type(msg).__name__)

    def gone(self) -> bool:
        """The stepping process has exited (or failed): nothing more will come from it."""
        if self.failed is None and self.proc.poll() is not None and not (self.ended and self.proc.returncode == 0):
            self.failed = f"the SUMO stepping process exited with status {self.proc.returncode} during the session"
            self.ended = True
            log.error("%s", self.failed)
        return self.failed is not None

    def drain(self, timeout_ms: int = 0) -> list[Segment]:
        """Receive what has arrived (waiting up to ``timeout_ms`` for the first); returns new segments."""
        out: list[Segment] = []
        wait = timeout_ms
        while self.sock.poll(wait):
            wait = 0
            try:
                msg = pipe.decode_to_bridge(self.sock.recv_multipart(copy=False))
            except ProtocolError as exc:
                self.decode_errors += 1
                log.warning("%s", exc)
                continue
            if isinstance(msg, pipe.Failed):
                self.failed, self.ended = msg.reason, True
                log.error("SUMO stepping process failed: %s", msg.reason)
            elif isinstance(msg, Segment) and msg.epoch == self.epoch:
                if msg.table is not None:
                    self._table = msg.table
                msg.table = self._table
                if msg.lights is not None:
                    self._lights = msg.lights
                msg.lights = self._lights if msg.lights_version else None
                self.segments.append(msg)
                self.received += 1
                self.ended = self.ended or msg.terminal
                out.append(msg)
        if not out:
            self.gone()
        return out

    def covers(self, sim_ns: int) -> bool:
        """True when a segment containing ``sim_ns`` has arrived (or nothing more will come)."""
        return self.ended or (bool(self.segments) and self.segments[-1].s_b > sim_ns)

    def segment_for(self, sim_ns: int) -> Segment | None:
        """The segment to draw ``sim_ns`` from: the one containing it, else the latest (lagging)."""
        segs = self.segments
        while len(segs) > 1 and segs[1].s_a <= sim_ns:
            segs.popleft()
        return segs[0] if segs else None

    def close(self, timeout_s: float = 10.0) -> int | None:
        if self.proc.poll() is None:
            self._send(pipe.Stop())
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("stepping process did not stop in %.0f s; terminating it", timeout_s)
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self.sock.close()
        return self.proc.returncode
