"""The one interface every pose source implements, and the factory that picks one from the settings.

A source is driven by the bridge's loop: ``start(now)`` once the session has started, then
``read(now)`` whenever ``next_due_ns()`` has come; ``read`` returns the samples that are available at
``now`` (session time), each a ``protocol.Pose`` with its ``sample_ns`` (and ``photon_ns`` when the
source predicts) already in session time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from bridges.pose.config import Settings
from syncserver import protocol as p
from syncserver.errors import ConfigError, CosimError


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


def open_source(settings: Settings, where: str = "settings", *, root: Path | None = None,
                openvr_module: Any = None) -> PoseSource:
    """Build the configured source; raises ConfigError / PoseSourceError / InputFileError early."""
    latency_ns = round(settings.inject_latency_ms * 1e6)
    if settings.source == "synthetic":
        from bridges.pose.synthetic import SyntheticSource
        return SyntheticSource(settings.synthetic, settings.rate_hz, latency_ns)
    if settings.source == "trace":
        from bridges.pose.trace import TraceSource
        if not settings.trace.path:
            raise ConfigError(f"{where}.trace.path: source 'trace' needs a trace file (got {settings.trace.path!r})")
        path = Path(settings.trace.path)
        if not path.is_absolute() and root is not None:
            path = root / path
        return TraceSource(path, settings.trace, latency_ns)
    if settings.inject_latency_ms:
        raise ConfigError(f"{where}.inject_latency_ms: only the synthetic and trace sources take an injected "
                          f"latency (got {settings.inject_latency_ms!r} with source 'openvr')")
    from bridges.pose.openvr_source import OpenVRSource
    return OpenVRSource(settings.openvr, settings.rate_hz, vr=openvr_module)
