"""The component's logic without sockets: bus messages in, onsets placed, hostile input survived."""
from pathlib import Path

import numpy as np
import soundfile as sf

from audio.app import AudioComponent
from audio.backends.file import FileBackend, sample_of
from audio.config import Settings
from audio.mixer import Mixer
from audio.sounds import SoundBank
from cosim.config import convert
from cosim import protocol as p

SR = 48000


def make(tmp_path: Path, **settings) -> tuple[AudioComponent, FileBackend, list]:
    s = convert(settings, Settings)
    mixer = Mixer(SR, s.channels)
    be = FileBackend(tmp_path / "a.wav", mixer, render_lag_ns=0)
    published: list = []
    app = AudioComponent(s, be, SoundBank.build(s.sounds, SR, s.channels), published.append, mixer)
    be.start()
    return app, be, published


def test_events_clicks_and_vehicles(tmp_path: Path) -> None:
    app, be, published = make(tmp_path, test_clicks={"period_s": 0.5, "start_s": 0.25, "lead_ms": 100},
                              event_delay_ms=10, channels=2)
    app.on_message(p.VehicleIds(ids_version=1), p.vehicle_ids_arrays([3], ["car0"], ["passenger"]))
    app.on_message(p.Vehicles(t_ns=0, sim_ns=0, ids_version=1),
                   {"handle": np.array([3], np.uint32), "position_cm": np.array([[0, 500, 170]], np.float32)})
    app.on_message(p.Event(kind="horn", t_ns=300_000_000, subject="car0"), {})
    app.on_message(p.Event(kind="unknown_kind", t_ns=300_000_000), {})
    for t in range(0, 1_100_000_000, 11_111_111):
        app.advance(t)
    be.close(1_100_000_000)
    app.collect(flush=True)
    kinds = [(m.kind, m.scheduled_ns) for m in app.measured]
    assert kinds == [("click", 250_000_000), ("horn", 310_000_000), ("click", 750_000_000)]
    assert [type(m) for m in published] == [p.AudioOnset] * 3 and published[1].event_kind == "horn"
    sec = app.section()
    assert sec["events"] == 3 and sec["late"] == 0 and sec["backend"] == "file"
    assert sec["unknown_kinds"] == {"unknown_kind": 1}
    assert sec["onset_error_ms"]["max"] <= 0.011
    data, _ = sf.read(tmp_path / "a.wav")
    n = sample_of(310_000_000, SR)
    assert np.abs(data[n:n + 100, 1]).max() > 2 * np.abs(data[n:n + 100, 0]).max()  # the horn is to the right


def test_bad_vehicle_tables_are_ignored(tmp_path: Path) -> None:
    app, be, _ = make(tmp_path)
    app.on_message(p.Vehicles(t_ns=0, sim_ns=0, ids_version=1), {"handle": np.array([1], np.uint32)})
    app.on_message(p.Vehicles(t_ns=0, sim_ns=0, ids_version=1),
                   {"handle": np.array([1, 2], np.uint32), "position_cm": np.zeros((3, 3), np.float32)})
    app.on_message(p.Vehicles(t_ns=0, sim_ns=0, ids_version=1),
                   {"handle": np.array([1], np.float32), "position_cm": np.zeros((1, 3), np.float32)})
    app.on_message(p.VehicleIds(ids_version=1), {"handles": np.array([1, 2], np.uint32), "ids": np.array([b"a"]),
                                                  "types": np.array([b"car", b"bus"])})
    app.on_message(p.VehicleIds(ids_version=1), {})  # recorded without its payload
    assert app.handle_of == {}
    app.on_message(p.Vehicles(t_ns=0, sim_ns=0, ids_version=1),  # extra columns are fine
                   {"handle": np.array([1], np.uint32), "position_cm": np.full((1, 3), np.nan, np.float32),
                    "yaw_deg": np.zeros(1, np.float32)})
    be.close(100_000_000)
    sec = app.section()
    assert sec["vehicles"] == {"messages": 4, "ignored": 3, "max_voices": 0}


def test_clicks_are_not_repeated(tmp_path: Path) -> None:
    app, be, _ = make(tmp_path, test_clicks={"period_s": 0.1})  # from 0.5 s, queued 300 ms ahead
    for _ in range(3):
        app.advance(1_000_000_000)
    be.close(1_100_000_000)
    app.collect(flush=True)
    assert [m.scheduled_ns for m in app.measured] == [500_000_000 + k * 100_000_000 for k in range(6)]
    assert app.section()["pending"] == 3  # 1.1, 1.2, 1.3 s: queued, past the end of the session
