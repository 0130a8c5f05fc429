"""One frame clock (docs/architecture.md): TICK, VEHICLES and EVENTS of the same frame carry the same
``t_ns``, in realtime and in lockstep at pace 0.5. A real session (syncserver, SUMO on the demo
scenario, headless client, recorder), read back with the standard MCAP reader and the msgpack
package, not our own reader."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest
import yaml
from mcap.reader import make_reader

from cosim.frameclock import FrameClock
from tests.conftest import REPO

pytestmark = pytest.mark.timeout(240)


def run(tmp_path: Path, mode: str, pace: float, duration: float) -> Path:
    cfg = {"session": {"name": "frames", "mode": mode, "pace": pace, "rate_hz": 90, "duration_s": duration},
           "network": {"base_port": 0},
           "components": {"client": {"module": "client", "required": True},
                          "sumo": {"module": "bridges.sumo", "required": True,
                                   "settings": {"scenario": "scenarios/demo/demo.sumocfg", "start_s": 40}},
                          "recorder": {"module": "recording"}}}
    path = tmp_path / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / mode
    res = subprocess.run([sys.executable, "run_session.py", "--config", str(path), "--out", str(out), "--quiet"],
                         cwd=REPO, capture_output=True, text=True, timeout=200)
    assert res.returncode == 0, res.stdout + res.stderr
    return out


def by_topic(mcap_file: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    with open(mcap_file, "rb") as f:
        for _, channel, message in make_reader(f).iter_messages():
            if channel.message_encoding == "msgpack":
                header = msgpack.unpackb(message.data, raw=False)[0]  # [header, *payloads]
                out.setdefault(channel.topic, []).append(header)
    return out


@pytest.mark.parametrize("mode,pace,duration", [("realtime", 1.0, 4.0), ("lockstep", 0.5, 2.0)])
def test_frame_data_carries_its_ticks_time(tmp_path, mode, pace, duration):
    out = run(tmp_path, mode, pace, duration)
    streams = by_topic(out / "session.mcap")
    clock = FrameClock(90, mode, pace)
    ticks = {h["frame"]: h["t_ns"] for h in streams["tick"]}
    assert len(ticks) == round(duration * 90)
    assert all(t == clock.t_ns(k) for k, t in ticks.items())  # the exact-fraction schedule, pace included
    vehicles = streams["sumo.vehicles"]
    assert len(vehicles) >= len(ticks) - 2
    assert [h["t_ns"] for h in vehicles] == [ticks[h["frame"]] for h in vehicles]
    events = [h for h in streams.get("events", []) if h["src"] == "sumo"]
    assert len(events) >= 5, "the scenario should have departures and arrivals within the session"
    for h in events:
        assert h["t_ns"] == clock.t_ns(h["frame"]), h  # also for frames beyond the last tick
        if h["frame"] in ticks:
            assert h["t_ns"] == ticks[h["frame"]]
        # its own time lies within the frame it belongs to
        assert clock.t_ns(h["frame"] - 1) < h["at_ns"] <= h["t_ns"], h
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok"
