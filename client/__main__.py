"""``python -m client --config FILE --name client``: the headless reference client.

Stands in for the Unreal plugin, with the same contract: follows the ticks, "renders" each frame
against the display model, applies the refiner's residuals to the asset it announces, and reports
each frame's present and photon times back (in its ACK and as a FRAME_REPORT).
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Any

from client.basemotion import BaseMotion
from client.config import Settings
from client.display import DisplayModel
from client.mtp import MotionToPhoton
from client.photons import Photons
from client.residuals import ResidualApplier
from client.shassets import ShApplier
from cosim import protocol as p
from cosim.node import DataEvent, EndEvent, TickEvent
from cosim.process import REPO_ROOT
from cosim.runtime import Component, Context, Presented, run
from cosim.stats import Samples, percentile_block

log = logging.getLogger("client")
ASK_EVERY_S = 1.0  # how often to ask again for an asset that residuals name but nobody announced


class HeadlessClient(Component):
    """Headless reference client (stands in for Unreal)."""

    name = "client"
    role = "client"
    Settings = Settings

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        s: Settings = self.settings
        self.display = DisplayModel(s.display)
        self.mtp = MotionToPhoton(s.pose, self.display)
        self.residuals: ResidualApplier | None = None
        self.sh: ShApplier | None = None
        self.photons = Photons(s.flash)
        self.subscribe = (([p.TOPIC_POSE, p.TOPIC_OPENVR] if s.pose.enabled else [])
                          + ([p.TOPIC_RESIDUALS, p.TOPIC_ASSET, p.TOPIC_SH] if s.residuals.enabled else [])
                          + ([p.TOPIC_PHOTODIODE] if self.photons.enabled else []))
        self.publishes = s.report_frames or s.residuals.enabled or self.photons.enabled
        self.frames = 0
        self.present_ns = Samples()
        self.photon_ns = Samples()
        self._asked = 0.0
        self._report: p.FrameReport | None = None

    def setup(self) -> None:
        r = self.settings.residuals
        if r.enabled:
            motion = BaseMotion.load(REPO_ROOT / r.base_motion) if r.base_motion else None  # absolute stays absolute
            self.residuals = ResidualApplier(motion)
            self.sh = ShApplier()

    def on_tick(self, ev: TickEvent) -> Presented:
        render_start = self.ctx.session_ns()
        ready = render_start + self.display.render_ns
        shown = self.display.present(ready)
        used = self.mtp.on_frame(ready, shown)
        flash = self.photons.on_frame(ev.frame, render_start, used.sample_ns if used else None, shown.photon_ns)
        residual_frame = self.residuals.on_tick(ev.frame, ev.tick.t_ns) if self.residuals else None
        if self.sh is not None:
            self.sh.on_tick(ev.frame)
        self.frames += 1
        self.present_ns.append(shown.present_ns - ev.tick.t_ns)
        self.photon_ns.append(shown.photon_ns - ev.tick.t_ns)
        if self.settings.report_frames:
            self._report = p.FrameReport(
                frame=ev.frame, t_ns=ev.tick.t_ns, recv_ns=ev.recv_ns, present_ns=shown.present_ns,
                photon_ns=shown.photon_ns, pose_sample_ns=used.sample_ns if used else None,
                data={**(used.data() if used else {}), **({"flash": True} if flash else {})},
                residual_frame=residual_frame)
        return Presented(shown.present_ns, shown.photon_ns)

    def after_ack(self, ev: TickEvent) -> None:  # off the lockstep critical path of the ACK
        if self._report is not None:
            self.ctx.publish(p.TOPIC_FRAMES, self._report)
            self._report = None

    def on_message(self, ev: DataEvent) -> None:
        msg = ev.msg
        if isinstance(msg, p.Pose):
            self.mtp.on_pose(msg, ev.recv_ns, ev.direct)
        elif ev.topic == p.TOPIC_OPENVR and isinstance(msg, p.Event):
            self.mtp.on_openvr_event(msg)
        elif ev.topic == p.TOPIC_PHOTODIODE and isinstance(msg, p.Event) and msg.kind == "photon" and msg.at_ns is not None:
            matched = self.photons.on_photon(msg.at_ns)
            if matched is not None:
                flash, data = matched
                self.ctx.publish(p.TOPIC_PHOTONS, p.Event(kind="photon.frame", frame=flash.frame, at_ns=msg.at_ns,
                                                          subject=self.ctx.name, data=data))
        elif self.residuals is not None and isinstance(msg, p.Asset):
            self.residuals.on_asset(msg, ev.arrays)
        elif self.residuals is not None and isinstance(msg, p.Residuals):
            if not self.residuals.on_residuals(msg, ev.arrays):
                self._ask_for_asset()
        elif self.sh is not None and isinstance(msg, p.ShAsset):
            self.sh.on_asset(msg, ev.arrays)
        elif self.sh is not None and isinstance(msg, p.ShFrame):
            if not self.sh.on_frame(msg, ev.arrays):
                self._ask_for_asset()

    def _ask_for_asset(self) -> None:
        if time.monotonic() - self._asked > ASK_EVERY_S:
            self._asked = time.monotonic()  # joined after the announcement: ask for it
            self.ctx.publish(p.TOPIC_REQUEST, p.Request(what="refine.asset"))

    def on_end(self, ev: EndEvent) -> None:
        log.info("session ended (%s) after %d frames", ev.reason, self.frames)

    def close(self) -> None:
        self.photons.close()

    def sections(self) -> dict[str, Any]:
        node = self.ctx.node
        stats = node.stats if node else None
        return {"clients": {self.ctx.name: {"display": {
            "frames": self.frames,
            "tick_to_present_us": percentile_block(self.present_ns, 1e-3),
            "tick_to_photon_us": percentile_block(self.photon_ns, 1e-3),
            "missed_vsyncs": self.display.missed_vsyncs,
            "replaced_frames": self.display.replaced,
            "tick_gaps": stats.gaps if stats else 0,
            "decode_errors": stats.decode_errors if stats else 0,
            "direct_streams": node.direct_topics_taken() if node else {},
            "duplicates_dropped": node.direct_in.duplicates if node else 0,
            **({"error": self.ctx.error} if self.ctx.error else {}),
        }}}, **self._mtp_sections(), **(self.residuals.section() if self.residuals else {}),
                **(self.sh.section() if self.sh and self.sh.assets else {})}

    def _mtp_sections(self) -> dict[str, Any]:
        out = self.mtp.sections()
        if "mtp" in out or self.photons.enabled:  # the per-frame figures come from the display model
            mtp = out.setdefault("mtp", {})
            mtp["photon_times"] = "modelled"
            if self.photons.enabled:  # a photodiode measures (without poses: the model's error only)
                mtp["measured"] = self.photons.section()
        return out


if __name__ == "__main__":
    sys.exit(run(HeadlessClient))
