"""The factory that picks the configured pose source (the interface is bridges.pose.source)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bridges.pose.config import Settings
from bridges.pose.openvr_source import OpenVRSource
from bridges.pose.source import PoseSource
from bridges.pose.synthetic import SyntheticSource
from bridges.pose.trace import TraceSource
from cosim.errors import ConfigError


def open_source(settings: Settings, where: str = "settings", *, root: Path | None = None,
                openvr_module: Any = None) -> PoseSource:
    """Build the configured source; raises ConfigError / PoseSourceError / InputFileError early."""
    latency_ns = round(settings.inject_latency_ms * 1e6)
    if settings.source == "synthetic":
        return SyntheticSource(settings.synthetic, settings.rate_hz, latency_ns)
    if settings.source == "trace":
        if not settings.trace.path:
            raise ConfigError(f"{where}.trace.path: source 'trace' needs a trace file (got {settings.trace.path!r})")
        path = Path(settings.trace.path)
        if not path.is_absolute() and root is not None:
            path = root / path
        return TraceSource(path, settings.trace, latency_ns)
    if settings.inject_latency_ms:
        raise ConfigError(f"{where}.inject_latency_ms: only the synthetic and trace sources take an injected "
                          f"latency (got {settings.inject_latency_ms!r} with source 'openvr')")
    return OpenVRSource(settings.openvr, settings.rate_hz, vr=openvr_module)
