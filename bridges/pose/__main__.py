"""``python -m bridges.pose --config FILE --name pose``: head/controller poses on the master clock.

Sources: OpenVR live (SteamVR), a recorded trace, or synthetic motion; any of them can be recorded
to a trace. Writes the ``pose`` summary section. See docs/pose.md.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Sequence

from bridges.pose.bridge import PoseBridge
from bridges.pose.config import Settings
from bridges.pose.source import PoseSource, open_source
from bridges.pose.trace import TraceWriter
from syncserver.component import REPO_ROOT, ComponentContext, start_component
from syncserver.errors import CosimError
from syncserver.node import Node
from syncserver.protocol import TOPIC_POSE

log = logging.getLogger("bridges.pose")


def record_path(ctx: ComponentContext, settings: Settings) -> Path | None:
    return ctx.output_path(settings.record) if settings.record else None


def main(argv: Sequence[str] | None = None) -> int:
    ctx = start_component("bridges.pose", "Pose bridge: OpenVR, trace replay or synthetic poses.", argv,
                          default_name="pose")
    settings: Settings = ctx.settings or Settings()
    recorder: TraceWriter | None = None
    source: PoseSource | None = None
    try:
        source = open_source(settings, f"components.{ctx.name}.settings", root=REPO_ROOT)
        if (path := record_path(ctx, settings)) is not None:
            recorder = TraceWriter(path)
    except CosimError as exc:
        log.error("%s", exc)
        if source is not None:
            source.close()
        ctx.write_sections({"pose": {"source": settings.source, "error": str(exc)}})
        return 2
    status = 0
    direct = [TOPIC_POSE] if ctx.config.network.direct_streams else []
    with Node(ctx.name, ctx.endpoints, role="bridge", required=ctx.required, publish=True,
              direct_topics=direct) as node:
        node.install_signal_handlers()
        bridge = PoseBridge(node, source, spin_ns=round(settings.spin_us * 1e3), recorder=recorder)
        try:
            node.connect()
            node.ready()
            reason = bridge.run()
            log.info("session ended (%s) after %d samples", reason, sum(bridge.per_device.values()))
        except CosimError as exc:
            log.error("%s", exc)
            status = 1
        finally:
            source.close()
            if recorder is not None:
                recorder.close()
            rate = None if settings.source == "trace" else settings.rate_hz
            ctx.write_sections({"pose": bridge.section(rate, settings.inject_latency_ms)})
    return status


if __name__ == "__main__":
    sys.exit(main())
