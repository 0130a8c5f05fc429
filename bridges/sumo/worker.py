"""The stepping process: ``python -m bridges.sumo.worker --connect ENDPOINT --settings JSON``.

Runs the source (libsumo, traci or FCD) in its own process, so that a slow SUMO step, which holds
the GIL inside libsumo, never stalls the bridge's frame output. Keeps the source ahead of the
horizon the bridge asks for, turns each new state into a Segment and sends it; records FCD.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Sequence

import msgspec
import zmq

from bridges.sumo import pipe
from bridges.sumo.config import Settings
from bridges.sumo.coords import CoordinateFrame
from bridges.sumo.events import EventDetector
from bridges.sumo.fcdsource import FcdSource
from bridges.sumo.recorder import FcdRecorder
from bridges.sumo.scenario import resolve
from bridges.sumo.segment import SegmentBuilder
from bridges.sumo.snapshot import Snapshot
from cosim.process import die_with_parent, setup_logging
from cosim.errors import CosimError, ProtocolError

log = logging.getLogger("sumo.worker")


def make_source(settings: Settings) -> FcdSource:
    if settings.backend == "fcd":
        cache = Path(settings.fcd_cache_dir).expanduser() if settings.fcd_cache_dir else None
        return FcdSource(resolve(settings.scenario), cache)
    from bridges.sumo.backends import SumoSource
    return SumoSource(settings)  # type: ignore[return-value]


class Worker:
    def __init__(self, settings: Settings, sock: zmq.Socket) -> None:
        self.s = settings
        self.sock = sock
        self.source = make_source(settings)
        self.builder = SegmentBuilder(CoordinateFrame(settings.origin_m),
                                      EventDetector(settings.events, settings.emergency_decel_ms2))
        self.recorder: FcdRecorder | None = None
        self.horizon: int | None = None
        self.epoch = 0
        self.last: Snapshot | None = None
        self.ended = False
        self.stop = False
        self.open_loop_said = False

    def _record(self, snap: Snapshot) -> None:
        if self.recorder is not None:
            self.recorder.write(snap)

    def start(self) -> None:
        snap = self.source.start()
        if self.s.start_s is not None and self.s.start_s * 1e9 > snap.sim_ns:
            snap = self.source.seek(int(round(self.s.start_s * 1e9)))
        if self.s.record_fcd:
            self.recorder = FcdRecorder(resolve(self.s.record_fcd), self.s.fcd_precision)
        self._begin(snap)
        step_ns = int(getattr(self.source, "step_ns", 0))
        self.sock.send_multipart(pipe.encode(pipe.Hello(first_ns=snap.sim_ns, step_ns=step_ns, info=self.source.info)))

    def _begin(self, snap: Snapshot) -> None:
        self.builder.reset()
        self.builder.first(snap)
        self.last = snap
        self._record(snap)

    def _command(self, frames: list[bytes]) -> None:
        try:
            cmd = pipe.decode_to_worker(frames)
        except ProtocolError as exc:
            log.warning("%s", exc)
            return
        if isinstance(cmd, pipe.Horizon):
            self.horizon = cmd.sim_ns
        elif isinstance(cmd, pipe.Seek):
            self.epoch = cmd.epoch
            self.ended = False
            try:
                snap = self.source.seek(cmd.sim_ns)
            except CosimError as exc:
                log.error("seek: %s", exc)
                return
            if self.recorder is not None and self.last is not None and snap.sim_ns <= self.last.sim_ns:
                log.warning("seek went backwards: FCD recording stops at %.3f s", self.last.sim_ns / 1e9)
                self.recorder.close()
                self.recorder = None
            self._begin(snap)
        elif isinstance(cmd, pipe.Stop):
            self.stop = True
        elif isinstance(cmd, pipe.Place):
            place = getattr(self.source, "place", None)
            if place is not None:
                place(cmd.x, cmd.y, cmd.heading_deg)
            elif not self.open_loop_said:
                self.open_loop_said = True
                log.warning("an FCD replay cannot react to the participant: it stays open-loop")

    def run(self) -> None:
        while not self.stop:
            behind = not self.ended and self.horizon is not None and self.last is not None \
                and self.last.sim_ns < self.horizon
            if self.sock.poll(0 if behind else 200):
                while self.sock.poll(0):
                    self._command(self.sock.recv_multipart())
                continue
            if behind:
                self._advance()

    def _advance(self) -> None:
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        snap = self.source.step()
        seg = self.builder.next(snap)
        seg.step_ms = (time.perf_counter_ns() - t0) / 1e6
        seg.step_cpu_ms = (time.thread_time_ns() - c0) / 1e6
        wall, cpu = getattr(self.source, "sumo_step_ns", (0, 0))
        seg.sumo_step_ms, seg.sumo_step_cpu_ms = wall / 1e6, cpu / 1e6
        seg.epoch = self.epoch
        if snap is None:
            self.ended = True
            log.info("source ended at %.3f s", self.last.sim_ns / 1e9 if self.last else 0.0)
        else:
            self.last = snap
            self._record(snap)
        self.sock.send_multipart(pipe.encode_segment(seg), copy=False)

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        self.source.close()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bridges.sumo.worker")
    ap.add_argument("--connect", required=True)
    ap.add_argument("--settings", required=True, help="the bridge's settings as JSON")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    setup_logging("sumo.worker", args.log_level)
    die_with_parent()
    sock = zmq.Context.instance().socket(zmq.PAIR)
    sock.setsockopt(zmq.LINGER, 2000)
    sock.connect(args.connect)
    worker: Worker | None = None

    def on_signal(signum: int, _frame: object) -> None:
        if worker is None or not running:  # loading or fast-forwarding (start_s): no loop to look at a flag
            raise SystemExit(128 + signum)
        worker.stop = True
    running = False
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        settings = msgspec.json.decode(args.settings.encode(), type=Settings)
        worker = Worker(settings, sock)
        worker.start()
        running = True
        worker.run()
    except (CosimError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        log.error("%s", exc)
        sock.send_multipart(pipe.encode(pipe.Failed(reason=str(exc))))
        return 1
    finally:
        if worker is not None:
            worker.close()
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
