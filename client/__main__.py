"""``python -m client --config FILE --name client``: the headless reference client.

Stands in for the Unreal plugin: follows the ticks, "renders" each frame against the display model,
and reports each frame's present and photon times back (in its ACK and as a FRAME_REPORT).
"""
from __future__ import annotations

import logging
import sys
from typing import Sequence

from bridges.pose import TOPIC_OPENVR
from client.display import DisplayModel
from client.mtp import MotionToPhoton
from client.residuals import ResidualApplier
from syncserver import protocol as p
from syncserver.component import ComponentContext, start_component
from syncserver.errors import HandshakeError
from syncserver.node import DataEvent, EndEvent, Node, TickEvent
from syncserver.stats import percentile_block

log = logging.getLogger("client")


class HeadlessClient:
    def __init__(self, ctx: ComponentContext, node: Node, residuals: ResidualApplier | None) -> None:
        self.ctx = ctx
        self.node = node
        self.display = DisplayModel(ctx.settings.display)
        self.mtp = MotionToPhoton(ctx.settings.pose, self.display)
        self.residuals = residuals
        self.frames = 0
        self.present_ns: list[int] = []
        self.photon_ns: list[int] = []

    def on_tick(self, ev: TickEvent) -> None:
        render_start = self.node.session_ns()
        ready = render_start + self.display.render_ns
        shown = self.display.present(ready)
        used = self.mtp.on_frame(ready, shown)
        residual_frame = self.residuals.on_tick(ev.frame, ev.tick.t_ns) if self.residuals else None
        self.frames += 1
        self.present_ns.append(shown.present_ns - ev.tick.t_ns)
        self.photon_ns.append(shown.photon_ns - ev.tick.t_ns)
        self.node.ack(ev, present_ns=shown.present_ns, photon_ns=shown.photon_ns)
        if self.ctx.settings.report_frames:
            self.node.publish(p.TOPIC_FRAMES, p.FrameReport(
                frame=ev.frame, t_ns=ev.tick.t_ns, recv_ns=ev.recv_ns, present_ns=shown.present_ns,
                photon_ns=shown.photon_ns, pose_sample_ns=used.sample_ns if used else None,
                data=used.data() if used else {}, residual_frame=residual_frame))

    def on_data(self, ev: DataEvent) -> None:
        if isinstance(ev.msg, p.Pose):
            self.mtp.on_pose(ev.msg, ev.recv_ns, ev.direct)
        elif ev.topic == TOPIC_OPENVR and isinstance(ev.msg, p.Event):
            self.mtp.on_openvr_event(ev.msg)
        elif isinstance(ev.msg, p.Residuals) and self.residuals:
            self.residuals.on_residuals(ev.msg, ev.arrays)

    def sections(self) -> dict:
        stats = self.node.stats
        return {"clients": {self.ctx.name: {"display": {
            "frames": self.frames,
            "tick_to_present_us": percentile_block(self.present_ns, 1e-3),
            "tick_to_photon_us": percentile_block(self.photon_ns, 1e-3),
            "missed_vsyncs": self.display.missed_vsyncs,
            "replaced_frames": self.display.replaced,
            "tick_gaps": stats.gaps,
            "decode_errors": stats.decode_errors,
            "direct_streams": self.node.direct_topics_taken(),
            "duplicates_dropped": stats.duplicates,
        }}}, **self.mtp.sections(), **(self.residuals.section() if self.residuals else {})}


def main(argv: Sequence[str] | None = None) -> int:
    ctx = start_component("client", "Headless reference client (stands in for Unreal).", argv)
    residuals = ResidualApplier.from_config(ctx.config)
    topics = ([p.TOPIC_POSE, TOPIC_OPENVR] if ctx.settings.pose.enabled else []) + ([p.TOPIC_RESIDUALS] if residuals else [])
    with Node(ctx.name, ctx.endpoints, role="client", required=ctx.required,
              publish=ctx.settings.report_frames, data_topics=topics) as node:
        node.install_signal_handlers()
        client = HeadlessClient(ctx, node, residuals)
        try:
            node.connect()
            node.ready()
            for ev in node.events():
                if isinstance(ev, TickEvent):
                    client.on_tick(ev)
                elif isinstance(ev, DataEvent):
                    client.on_data(ev)
                elif isinstance(ev, EndEvent):
                    log.info("session ended (%s) after %d frames", ev.reason, client.frames)
        except HandshakeError as exc:
            log.error("%s", exc)
            return 1
        finally:
            ctx.write_sections(client.sections())
    return 0


if __name__ == "__main__":
    sys.exit(main())
