"""Settings of the pose bridge (``components.<name>.settings``); see docs/pose.md."""
from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from cosim.config import Strict

Rate = Annotated[float, msgspec.Meta(gt=0, le=1000)]
Ms = Annotated[float, msgspec.Meta(ge=0, le=1000)]


class SyntheticSettings(Strict):
    motion: Literal["still", "sine_yaw", "head", "walk"] = "head"  # walk: head motion, walking forward
    amplitude_deg: Annotated[float, msgspec.Meta(ge=0, le=180)] = 30.0  # sine_yaw
    frequency_hz: Annotated[float, msgspec.Meta(ge=0, le=20)] = 0.5  # sine_yaw
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)] = 1  # head: which random motion
    controllers: Annotated[int, msgspec.Meta(ge=0, le=8)] = 0  # extra synthetic controllers
    height_m: Annotated[float, msgspec.Meta(ge=0, le=3)] = 1.7
    walk_start_s: Annotated[float, msgspec.Meta(ge=0)] = 5.0  # walk: session time the walk starts
    walk_speed_ms: Annotated[float, msgspec.Meta(gt=0, le=10)] = 1.3  # walk: straight ahead (-Z)
    walk_distance_m: Annotated[float, msgspec.Meta(ge=0, le=1000)] = 14.0  # walk: then the participant stands


class TraceSettings(Strict):
    path: str = ""  # a pose trace (docs/pose.md); relative paths are relative to the repository root
    time_base: Literal["rebase", "session"] = "rebase"  # rebase: first sample at replay start
    loop: bool = False


class OpenVRSettings(Strict):
    application: Literal["other", "background", "scene"] = "other"
    universe: Literal["standing", "seated", "raw"] = "standing"
    predict: bool = True  # ask OpenVR for the pose at the next frame's photon time
    classes: list[Literal["hmd", "controller", "tracker"]] = msgspec.field(
        default_factory=lambda: ["hmd", "controller", "tracker"])
    frame_timing: bool = True  # read the compositor's frame timing (present, vsync, photons)
    fit_window: Annotated[int, msgspec.Meta(ge=2, le=100000)] = 256  # vsyncs in the running clock fit


class Settings(Strict):
    source: Literal["synthetic", "trace", "openvr"] = "synthetic"
    rate_hz: Rate = 1000.0  # synthetic and openvr sampling rate (trace replays at its own times)
    inject_latency_ms: Ms = 0.0  # known tracking latency added between sample and publish
    record: str | None = None  # write every published sample to this trace (relative: session folder)
    spin_us: Annotated[float, msgspec.Meta(ge=0, le=5000)] = 0.0  # busy-wait the last µs before a due time
    synthetic: SyntheticSettings = msgspec.field(default_factory=SyntheticSettings)
    trace: TraceSettings = msgspec.field(default_factory=TraceSettings)
    openvr: OpenVRSettings = msgspec.field(default_factory=OpenVRSettings)


def check_files(settings: Settings) -> None:
    """What the runner checks before it starts any process: a trace source's file exists."""
    from cosim.errors import InputFileError
    from cosim.process import REPO_ROOT
    if settings.source == "trace" and settings.trace.path:
        path = REPO_ROOT / settings.trace.path  # an absolute path stays absolute
        if not path.is_file():
            raise InputFileError(f"trace.path {str(path)!r} does not exist")
