"""Settings of the replay component (``module: recording.replay``)."""
from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from recording.config import TopicName
from cosim.config import Strict

DEFAULT_TOPICS = ["pose", "sumo.vehicles", "sumo.ids", "sumo.tls", "events"]


class Settings(Strict):
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]  # a session folder or .mcap file
    topics: list[TopicName] = msgspec.field(default_factory=lambda: list(DEFAULT_TOPICS))
    # frames: each message goes out after the tick it followed in the recording (exact in lockstep);
    # time: at its recorded receive time in session time (realtime)
    timing: Literal["frames", "time"] = "frames"
