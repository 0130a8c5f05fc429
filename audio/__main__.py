"""``python -m audio --config FILE --name audio [--out SESSION_DIR]``: event sounds on the master clock.

Plays (or renders to WAV) a sound for every event on the bus at the session time it belongs to,
engine sounds that follow each vehicle's distance to the listener, and optional test clicks;
publishes an AUDIO_ONSET per placed onset and writes the ``audio`` summary section.
"""
from __future__ import annotations

import logging
import sys
from typing import Any

from audio.app import AudioComponent
from audio.backends.base import Backend
from audio.backends.device import DeviceBackend
from audio.backends.file import FileBackend
from audio.config import Settings
from audio.errors import AudioBackendError
from audio.mixer import Mixer
from audio.sounds import SoundBank
from cosim import protocol as p
from cosim.node import DataEvent, EndEvent, TickEvent
from cosim.runtime import Component, Context, run

log = logging.getLogger("audio")


class Audio(Component):
    """Event sounds on the master clock (device, JACK or WAV file)."""

    name = "audio"
    role = "audio"
    Settings = Settings
    subscribe = (p.TOPIC_EVENTS, p.TOPIC_POSE, p.TOPIC_VEHICLES, p.TOPIC_VEHICLE_IDS)
    publishes = True
    poll_ms = 20

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.backend: Backend | None = None
        self.app: AudioComponent | None = None
        self.last_tick: TickEvent | None = None
        self.epoch: int | None = None

    def setup(self) -> None:
        s: Settings = self.settings
        bank = SoundBank.build(s.sounds, s.sample_rate, s.channels)
        mixer = Mixer(s.sample_rate, s.channels, s.gain, s.vehicles.ramp_ms)
        if s.backend == "file":
            self.backend = FileBackend(self.ctx.output_path(s.file.path), mixer, subtype=s.file.subtype,
                                       render_lag_ns=round(s.file.render_lag_ms * 1e6))
        else:
            self.backend = DeviceBackend(s.device, mixer, self.ctx.session_ns, jack=s.backend == "jack")
        self.app = AudioComponent(s, self.backend, bank, publish=lambda msg: self.ctx.publish(p.TOPIC_AUDIO, msg),
                                  mixer=mixer)
        self.backend.start()  # before joining: starting jackd can take longer than a heartbeat timeout

    def on_tick(self, ev: TickEvent) -> None:
        self.last_tick = ev

    def on_message(self, ev: DataEvent) -> None:
        assert self.app is not None
        self.app.on_message(ev.msg, ev.arrays)

    def on_idle(self) -> None:
        assert self.app is not None and self.backend is not None and self.ctx.node is not None
        epoch = self.ctx.node.epoch_ns
        if epoch is None:
            return
        if epoch != self.epoch:
            self.epoch = epoch
            self.backend.reset_clock()
        # the file backend follows the master's frame times (also faster than real time in
        # lockstep); a device follows the clock its samples are played on
        if self.settings.backend == "file":
            if self.last_tick is not None:
                self.app.advance(self.last_tick.tick.t_ns)
        else:
            self.app.advance(self.ctx.session_ns())

    def on_end(self, ev: EndEvent) -> None:
        log.info("session ended (%s)", ev.reason)

    def close(self) -> None:
        if self.backend is None or self.app is None:
            return
        t = self.last_tick
        try:
            self.backend.close(t.tick.t_ns + t.tick.dt_ns if t else None)
        except AudioBackendError as exc:
            self.ctx.error = self.ctx.error or str(exc)
            log.error("%s", exc)
        self.app.collect(flush=True)
        out = self.ctx.out
        if out is not None:
            self.app.write_onset_log(out / f"{self.ctx.name}_onsets.csv")
            if isinstance(self.backend, DeviceBackend):
                self.backend.write_clock_log(out / f"{self.ctx.name}_clock.csv")

    def sections(self) -> dict[str, Any]:
        if self.app is None:
            return {"audio": {"error": self.ctx.error}}
        section = self.app.section()
        if self.ctx.error:
            section["error"] = self.ctx.error
        log.info("%d onsets, |error| p99 %s ms, %d late, %d xruns", section["events"],
                 section["onset_error_ms"]["p99"], section["late"], section["xruns"])
        return {"audio": section}


if __name__ == "__main__":
    sys.exit(run(Audio))
