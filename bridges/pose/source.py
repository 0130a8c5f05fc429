"""The one interface every pose source implements, and the factory that picks one from the settings.

``bridges.pose.sources.open_source`` builds the configured one. A source is driven by the bridge's loop: ``start(now)`` once the session has started, then
``read(now)`` whenever ``next_due_ns()`` has come; ``read`` returns the samples that are available at
``now`` (session time), each a ``protocol.Pose`` with its ``sample_ns`` (and ``photon_ns`` when the
source predicts) already in session time.
"""
from __future__ import annotations

from typing import Any, Protocol

from cosim import protocol as p
from cosim.errors import CosimError


class PoseSourceError(CosimError):
    """A pose source that cannot start (missing runtime, unusable device)."""


class Periodic:
    """The due times ``t0 + k * period`` of a source sampled at a fixed rate (synthetic, OpenVR)."""

    def __init__(self, rate_hz: float) -> None:
        self.period_s = 1.0 / rate_hz
        self.t0_ns = 0
        self.k = 0
        self.skipped = 0  # slots that passed while a read was late

    def start(self, now_ns: int) -> None:
        self.t0_ns = now_ns
        self.k = 0

    def due_at(self, k: int) -> int:
        return self.t0_ns + round(k * self.period_s * 1e9)

    def next_due_ns(self) -> int:
        return self.due_at(self.k)

    def advance(self, now_ns: int) -> None:
        """After a read at ``now``: on to the first slot after it."""
        k = self.k + 1
        while self.due_at(k) <= now_ns:
            k += 1
        self.skipped += k - self.k - 1
        self.k = k


class PoseSource(Protocol):
    kind: str

    def start(self, now_ns: int) -> None: ...

    def next_due_ns(self) -> int | None:
        """Session time at which ``read`` has new samples; None once the source is exhausted."""

    def read(self, now_ns: int) -> list[p.Pose]: ...

    def events(self) -> list[p.Event]:
        """Bus events the source produced since the last call (OpenVR display and frame timing)."""

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
