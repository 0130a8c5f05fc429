"""What a node hands out: one event per tick, bus message or session broadcast, and END last."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim import protocol as p


@dataclass
class TickEvent:
    tick: p.Tick
    recv_local_ns: int
    recv_ns: int  # session time estimate at receipt

    @property
    def frame(self) -> int:
        return self.tick.frame


@dataclass
class DataEvent:
    topic: bytes
    msg: p.Message
    arrays: dict[str, np.ndarray]
    recv_ns: int  # session time at receipt; before START (``timed`` False) the local monotonic clock
    direct: bool = False  # came straight from its producer (a direct stream), not through the bus proxy
    timed: bool = True  # the epoch was known when it arrived, so recv_ns is session time


@dataclass
class SessionEvent:
    msg: p.Message  # START, STATUS or CLIENT
    recv_ns: int
    timed: bool = True


@dataclass
class EndEvent:
    reason: str
    frames: int | None = None  # the syncserver's frame count; None when a signal ended us
    master_lost: bool = False  # the syncserver went silent: the session did not end, it was lost


Event = TickEvent | DataEvent | SessionEvent | EndEvent


@dataclass
class NodeStats:
    ticks: int = 0
    gaps: int = 0  # frames missing from the received tick sequence
    decode_errors: int = 0
    server_errors: int = 0
    unsent: int = 0  # control messages that could not be sent (no connection)
