"""Settings of the headless reference client."""
from __future__ import annotations

from typing import Annotated

import msgspec

from session.config import Strict

Ms = Annotated[float, msgspec.Meta(ge=0, le=1000)]


class DisplaySettings(Strict):
    refresh_hz: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 90.0
    vsync_phase_ms: Ms = 3.0  # first vsync after session epoch
    vsync_to_photon_ms: Ms = 11.1  # scan-out and panel response, e.g. OpenVR Prop_SecondsFromVsyncToPhotons
    render_ms: Ms = 1.0  # simulated GPU/CPU cost of a frame before it can be presented


class Settings(Strict):
    display: DisplaySettings = msgspec.field(default_factory=DisplaySettings)
    report_frames: bool = True  # publish a FRAME_REPORT per frame on the bus
