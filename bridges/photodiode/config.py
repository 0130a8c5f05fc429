"""Settings of the photodiode bridge (``components.<name>.settings``); see docs/photodiode.md."""
from __future__ import annotations

from typing import Annotated

import msgspec

from cosim.config import Strict


class Settings(Strict):
    port: str = ""  # the board's serial port: /dev/ttyACM0, COM3, or an emulator's pty link
    baud: Annotated[int, msgspec.Meta(ge=300, le=4_000_000)] = 115200
    probe_interval_ms: Annotated[float, msgspec.Meta(ge=5, le=10_000)] = 50.0  # clock probes over the link
    fit_window: Annotated[int, msgspec.Meta(ge=8, le=100_000)] = 128  # probes in the running clock fit
    best_fraction: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.25  # of those, the shortest round trips fitted
    # a photon is timed once this many probes came back after it (the fit then brackets it): its
    # event reaches the bus that much later (8 x 50 ms), its time is not delayed
    settle_probes: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 8


def check_files(settings: Settings) -> None:
    """What the runner checks before it starts any process: the port exists."""
    from pathlib import Path

    from cosim.errors import InputFileError
    if not settings.port:
        raise InputFileError("photodiode: settings.port is empty (the board's serial port, e.g. /dev/ttyACM0)")
    if settings.port.upper().startswith("COM"):
        return
    if not Path(settings.port).exists():
        raise InputFileError(f"photodiode: serial port {settings.port!r} does not exist (board plugged in? "
                             "for the emulator: python -m bridges.photodiode.emulator --link PATH)")
    import stat
    if not stat.S_ISCHR(Path(settings.port).stat().st_mode):
        raise InputFileError(f"photodiode: {settings.port!r} is not a serial port (not a character device)")
