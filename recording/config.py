"""Settings of the recorder (``components.recorder.settings``) and of the replay component."""
from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from cosim.config import Strict

TopicName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class LslSettings(Strict):
    enabled: bool = False  # off by default: LSL outlets announce themselves on the LAN
    ticks: bool = True
    poses: bool = True
    events: bool = True
    source_id: Annotated[str, msgspec.Meta(max_length=64)] = "cosim"


class FoxgloveSettings(Strict):
    """Viewing channels in Foxglove's well-known types (recording/foxglove.py)."""

    channels: bool = True  # write them into session.mcap beside the wire channels
    scene_hz: Annotated[float, msgspec.Meta(ge=0, le=1000)] = 10.0  # vehicle boxes per second of session time (0: all)
    head_hz: Annotated[float, msgspec.Meta(ge=0, le=10000)] = 30.0  # head poses per second (0: all)
    live: bool = False  # a Foxglove WebSocket server during the run (off by default)
    host: Annotated[str, msgspec.Meta(pattern=r"^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1)$")] = "127.0.0.1"  # loopback only: it has no authentication
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8765  # 0: any free port (logged)


class Settings(Strict):
    path: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] = "session.mcap"  # relative to --out
    flush_interval_s: Annotated[float, msgspec.Meta(gt=0, le=1.0)] = 0.5  # a crash loses at most this much
    chunk_bytes: Annotated[int, msgspec.Meta(ge=4096, le=64 * 1024 * 1024)] = 1024 * 1024
    compression: Literal["zstd", "lz4", "none"] = "zstd"
    omit_payloads: list[TopicName] = msgspec.field(default_factory=lambda: ["refine.residuals"])  # keep headers, drop bulk arrays (full residuals: [])
    foxglove: FoxgloveSettings = msgspec.field(default_factory=FoxgloveSettings)
    linger_s: Annotated[float, msgspec.Meta(ge=0, le=10)] = 0.3  # keep draining the bus after END
    lsl: LslSettings = msgspec.field(default_factory=LslSettings)

