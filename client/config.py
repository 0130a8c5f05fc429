"""Settings of the headless reference client."""
from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from cosim.config import Strict

Ms = Annotated[float, msgspec.Meta(ge=0, le=1000)]


class DisplaySettings(Strict):
    refresh_hz: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 90.0
    vsync_phase_ms: Ms = 3.0  # first vsync after session epoch
    vsync_to_photon_ms: Ms = 11.1  # scan-out and panel response, e.g. OpenVR Prop_SecondsFromVsyncToPhotons
    render_ms: Ms = 1.0  # simulated GPU/CPU cost of a frame before it can be presented


class PredictionSettings(Strict):
    enabled: bool = True  # render each frame with the newest pose predicted to the frame's photon time
    velocity: Literal["reported", "estimated"] = "reported"  # the pose's own velocities, or finite differences


class PoseUseSettings(Strict):
    enabled: bool = True  # subscribe to poses and measure motion-to-photon (docs/pose.md)
    device: Annotated[str, msgspec.Meta(max_length=128)] = "hmd"  # the device whose pose renders the view
    prediction: PredictionSettings = msgspec.field(default_factory=PredictionSettings)
    follow_openvr_display: bool = True  # re-anchor the display model on the pose bridge's OpenVR vsync timing


class ResidualSettings(Strict):
    enabled: bool = True  # apply a refiner's RESIDUALS to the asset it announces (ASSET)
    # the client's own base for that asset (a safetensors file: 'base' (frames, n, 3), metadata 'fps'),
    # checked against the announced hash; none: the announced rest pose
    base_motion: str | None = None


class FlashSettings(Strict):
    """Flash a patch on every ``every_frames``-th frame for a photodiode (docs/photodiode.md)."""

    every_frames: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 0  # 0: no flashes
    max_latency_ms: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 200.0  # a photon later than this is not the flash's
    screen_socket: str | None = None  # headless: the EMULATED board's screen socket (bridges.photodiode.emulator)


class Settings(Strict):
    display: DisplaySettings = msgspec.field(default_factory=DisplaySettings)
    pose: PoseUseSettings = msgspec.field(default_factory=PoseUseSettings)
    residuals: ResidualSettings = msgspec.field(default_factory=ResidualSettings)
    report_frames: bool = True  # publish a FRAME_REPORT per frame on the bus
    flash: FlashSettings = msgspec.field(default_factory=FlashSettings)


def check_files(settings: Settings) -> None:
    """What the runner checks before it starts any process: the base motion file exists."""
    from pathlib import Path

    from cosim.errors import InputFileError
    from cosim.process import REPO_ROOT
    if settings.residuals.enabled and settings.residuals.base_motion:
        path = REPO_ROOT / settings.residuals.base_motion  # an absolute path stays absolute
        if not Path(path).is_file():
            raise InputFileError(f"residuals.base_motion {str(path)!r} does not exist")
