"""``python -m audio --config FILE --name audio [--out SESSION_DIR]``: event sounds on the master clock.

Plays (or renders to WAV) a sound for every event on the bus at the session time it belongs to,
engine sounds that follow each vehicle's distance to the listener, and optional test clicks;
publishes an AUDIO_ONSET per placed onset and writes the ``audio`` summary section.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Sequence

from audio.app import AudioComponent
from audio.backends.base import Backend
from audio.backends.device import DeviceBackend
from audio.backends.file import FileBackend
from audio.config import Settings
from audio.errors import AudioBackendError
from audio.mixer import Mixer
from audio.sounds import SoundBank
from syncserver import protocol as p
from syncserver.component import ComponentContext, start_component
from syncserver.errors import HandshakeError
from syncserver.node import DataEvent, EndEvent, Node, TickEvent

log = logging.getLogger("audio")

DATA_TOPICS = [p.TOPIC_EVENTS, p.TOPIC_POSE, p.TOPIC_VEHICLES, p.TOPIC_VEHICLE_IDS]


def out_path(ctx: ComponentContext, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() or ctx.out is None else ctx.out / path


def make_backend(ctx: ComponentContext, settings: Settings, mixer: Mixer, node: Node) -> Backend:
    if settings.backend == "file":
        return FileBackend(out_path(ctx, settings.file.path), mixer, subtype=settings.file.subtype,
                           render_lag_ns=round(settings.file.render_lag_ms * 1e6))
    return DeviceBackend(settings.device, mixer, node.session_ns, jack=settings.backend == "jack")


def run(ctx: ComponentContext, node: Node) -> int:
    settings: Settings = ctx.settings or Settings()
    bank = SoundBank.build(settings.sounds, settings.sample_rate, settings.channels)
    mixer = Mixer(settings.sample_rate, settings.channels, settings.gain, settings.vehicles.ramp_ms)
    backend = make_backend(ctx, settings, mixer, node)
    app = AudioComponent(settings, backend, bank, publish=lambda msg: node.publish(p.TOPIC_AUDIO, msg), mixer=mixer)
    error: str | None = None
    last_tick: TickEvent | None = None
    try:
        backend.start()  # before joining: starting jackd can take longer than a heartbeat timeout
        epoch = node.epoch_ns
        node.connect()
        node.ready()
        for ev in node.events(poll_ms=20):
            if node.epoch_ns != epoch:
                epoch = node.epoch_ns
                backend.reset_clock()
            if isinstance(ev, DataEvent):
                app.on_message(ev.msg, ev.arrays)
            elif isinstance(ev, TickEvent):
                last_tick = ev
                node.ack(ev)
            elif isinstance(ev, EndEvent):
                log.info("session ended (%s)", ev.reason)
                break
            if epoch is not None:
                # the file backend follows the master's frame times (also faster than real time
                # in lockstep); a device follows the clock its samples are played on
                now = last_tick.tick.t_ns if settings.backend == "file" and last_tick else node.session_ns()
                app.advance(now)
    except (HandshakeError, AudioBackendError) as exc:
        error = str(exc)
        log.error("%s", exc)
    finally:
        end_ns = last_tick.tick.t_ns + last_tick.tick.dt_ns if last_tick else None
        try:
            backend.close(end_ns)
        except AudioBackendError as exc:
            error = error or str(exc)
            log.error("%s", exc)
        app.collect(flush=True)
        section = app.section()
        if error:
            section["error"] = error
        if ctx.out is not None:
            app.write_onset_log(ctx.out / f"{ctx.name}_onsets.csv")
            if isinstance(backend, DeviceBackend):
                backend.write_clock_log(ctx.out / f"{ctx.name}_clock.csv")
        ctx.write_sections({"audio": section})
        log.info("%d onsets, |error| p99 %s ms, %d late, %d xruns", section["events"],
                 section["onset_error_ms"]["p99"], section["late"], section["xruns"])
    return 1 if error else 0


def main(argv: Sequence[str] | None = None) -> int:
    ctx = start_component("audio", "Event sounds on the master clock (device, JACK or WAV file).", argv)
    with Node(ctx.name, ctx.endpoints, role="audio", required=ctx.required, data_topics=DATA_TOPICS,
              publish=True) as node:
        node.install_signal_handlers()
        return run(ctx, node)


if __name__ == "__main__":
    sys.exit(main())
