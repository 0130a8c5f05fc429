"""The report's sections. Each takes a SessionData and returns a Section; a section whose data the
session does not have says so ("not in this session") instead of failing."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from recording.report.data import SessionData
from recording.report.plot import (block_rows, figure, fit_ppm, hist, is_block, png, scalar_rows, seconds,
                                   table)
from recording.report.scene import render_splats, top_down
from recording.safety import analyse, participant_settings, section as section_of
from cosim.stats import percentile_block

ABSENT = "not in this session"


@dataclass
class Section:
    key: str
    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)  # (caption, base64 PNG)
    tables: list[str] = field(default_factory=list)  # HTML
    notes: list[str] = field(default_factory=list)
    absent: str | None = None  # why there is nothing to show

    def note(self, text: str) -> None:
        self.notes.append(text)


def _blocks_table(rows: list[tuple], unit: str = "") -> str:
    return table(["figure" + (f" ({unit})" if unit else ""), "p50", "p95", "p99", "max"], rows)


def _sections_named(d: SessionData, *words: str) -> dict[str, Any]:
    return {k: v for k, v in d.summary.items()
            if isinstance(v, dict) and any(w in k.lower() for w in words)}


def overview(d: SessionData) -> Section:
    sec = Section("overview", "Session")
    s = d.summary.get("session", {})
    rows = [("status", d.summary.get("status")), ("name", s.get("name")), ("id", s.get("id")),
            ("mode", s.get("mode")), ("rate (Hz)", s.get("rate_hz")), ("pace", s.get("pace")),
            ("frames", s.get("frames")), ("duration (s)", s.get("duration_s")), ("end", s.get("end_reason")),
            ("wall time (s)", d.summary.get("runner", {}).get("wall_s"))]
    rec = d.recording
    if rec is None:
        rows.append(("recording", d.recording_problem))
    else:
        state = "complete" if rec.complete else f"incomplete, read up to the last whole chunk ({rec.stopped or 'no footer'})"
        rows += [("recording", f"{rec.path.name}: {state}"), ("undecodable records", rec.bad_records)]
    sec.tables.append(table(["", "value"], rows))
    if d.by_topic:
        sec.tables.append(table(["topic", "messages"], sorted(d.by_topic.items())))
    return sec


def tick_timing(d: SessionData) -> Section:
    sec = Section("ticks", "Tick timing")
    t = d.ticks.arrays()
    block = d.summary.get("ticks", {}).get("lateness_us")
    if is_block(block) and block.get("p50") is not None:
        sec.tables.append(_blocks_table(block_rows(block, "tick lateness"), "µs")
                          + table(["late ticks", "threshold (µs)"], [(d.summary["ticks"].get("late"),
                                                                     d.summary["ticks"].get("late_threshold_us"))]))
    if len(t["frame"]) == 0:
        if not sec.tables:
            sec.absent = ABSENT
        else:
            sec.note("No TICK stream recorded: per-frame plots need the recorder.")
        return sec
    late_us = (t["sent_ns"] - t["t_ns"]) / 1e3
    if not np.any(late_us):
        sec.note("Every tick went out at its scheduled time (unpaced lockstep: lateness is not defined).")
    fig, (a, b) = figure(1, 2, width=11, height=3.2)
    hist(a, late_us, bins=80)
    a.set_yscale("log")
    a.set(xlabel="lateness: sent − scheduled (µs)", ylabel="ticks", title="Tick lateness histogram")
    b.plot(seconds(t["t_ns"]), late_us, lw=0.6)
    b.set(xlabel="session time (s)", ylabel="µs", title="Tick lateness over the session")
    sec.figures.append((f"{len(late_us)} recorded ticks", png(fig)))
    return sec


def delivery(d: SessionData) -> Section:
    sec = Section("delivery", "Delivery latency per client")
    clients = {n: c for n, c in d.summary.get("clients", {}).items() if isinstance(c, dict)}
    rows = [block_rows(c["delivery_us"], n)[0]
            for n, c in clients.items() if is_block(c.get("delivery_us")) and c["delivery_us"].get("p50") is not None]
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for src, cols in d.frames.items():
        a = cols.arrays()
        series[src] = (a["t_ns"], (a["recv_ns"] - a["t_ns"]) / 1e3)
    t = d.ticks.arrays()
    if len(t["frame"]) and np.any(t["log_ns"]):
        ok = t["log_ns"] > 0
        series["recorder (tick receive)"] = (t["t_ns"][ok], (t["log_ns"][ok] - t["t_ns"][ok]) / 1e3)
    if not rows and not series:
        sec.absent = ABSENT
        return sec
    if rows:
        fig, ax = figure(width=7.5, height=2.8)
        x = np.arange(len(rows))
        for i, key in enumerate(("p50", "p95", "p99", "max")):
            ax.bar(x + (i - 1.5) * 0.2, [max(r[i + 1], 1e-3) for r in rows], 0.2, label=key)
        ax.set_xticks(x, [r[0] for r in rows])
        ax.set_yscale("log")
        ax.set(ylabel="µs", title="Tick delivery latency (receive − tick time), from the syncserver's ACKs")
        ax.legend(ncol=4, fontsize=8)
        sec.figures.append(("per client, whole session", png(fig)))
        sec.tables.append(_blocks_table(rows, "µs"))
    if series:
        fig, ax = figure(width=11, height=3.0)
        for name, (tt, v) in series.items():
            ax.plot(seconds(tt), v, lw=0.6, label=name)
        ax.set_yscale("symlog", linthresh=100)
        ax.set(xlabel="session time (s)", ylabel="µs", title="Delivery latency per frame (FRAME_REPORT recv − tick)")
        ax.legend(fontsize=8)
        sec.figures.append(("per frame, from the recording", png(fig)))
    return sec


def mtp(d: SessionData) -> Section:
    sec = Section("mtp", "Motion-to-photon")
    if not d.frames:
        sec.absent = ABSENT + " (no FRAME_REPORT stream)"
        return sec
    rows = []
    for src, cols in d.frames.items():
        a = cols.arrays()
        t = seconds(a["t_ns"])
        has_pose = np.isfinite(a["pose_sample_ns"])
        terms = [("tick → client receive", a["recv_ns"] - a["t_ns"]),
                 ("receive → present", a["present_ns"] - a["recv_ns"]),
                 ("present → photons", a["photon_ns"] - a["present_ns"])]
        if has_pose.any():
            terms.insert(0, ("pose sample → tick", np.where(has_pose, a["t_ns"] - a["pose_sample_ns"], 0.0)))
            total = np.where(has_pose, a["photon_ns"] - a["pose_sample_ns"], np.nan)
            label = "MTP: photons − pose sample"
        else:
            total = a["photon_ns"] - a["t_ns"]
            label = "tick → photons (no pose samples in this session, so not a true MTP)"
            sec.note(f"{src}: frames carry no pose sample time; the total is tick-to-photon.")
        fig, ax = figure(width=11, height=3.2)
        ax.stackplot(t, *[v / 1e6 for _, v in terms], labels=[n for n, _ in terms], alpha=0.8)
        ax.plot(t, total / 1e6, color="k", lw=0.7, label=label)
        ax.set(xlabel="session time (s)", ylabel="ms", title=f"{src}: motion-to-photon over time, with breakdown")
        ax.legend(fontsize=7, loc="upper right", ncol=2)
        sec.figures.append((f"{src}: {len(t)} frames", png(fig)))
        for name, v in [(label.split(":")[0].split(" (")[0], total), *terms]:
            v = np.asarray(v)[np.isfinite(v)] / 1e6
            if len(v):
                rows += block_rows(percentile_block(v), f"{src}: {name}")
    sec.tables.append(_blocks_table(rows, "ms"))
    _measured_mtp(d, sec)
    return sec


def _measured_mtp(d: SessionData, sec: Section) -> None:
    """Photons a photodiode saw, matched to their flash frames (EVENT photon.frame, client/photons.py)."""
    flashes = [e for e in d.events if e.kind == "photon.frame" and e.at_ns is not None]
    if not flashes:
        sec.note("Photon times above come from the display model; no photodiode measured them in this session.")
        return
    t = seconds(np.array([e.at_ns for e in flashes], dtype=np.float64))
    col = {k: np.array([float(e.data.get(k, np.nan)) for e in flashes]) for k in
           ("measured_mtp_ms", "modelled_mtp_ms", "model_error_ms", "screen_to_photon_ms")}
    fig, ax = figure(width=11, height=3.2)
    ax.plot(t, col["measured_mtp_ms"], "o", ms=4, label="measured: photodiode photon − pose sample")
    ax.plot(t, col["modelled_mtp_ms"], "x", ms=4, label="modelled: display model's photon − pose sample")
    ax.set(xlabel="session time (s)", ylabel="ms", title="Measured motion-to-photon (photodiode), per flash")
    ax.legend(fontsize=7, loc="upper right")
    sec.figures.append((f"Measured motion-to-photon: {len(flashes)} flashes", png(fig)))
    rows = []
    for name, key in (("measured MTP", "measured_mtp_ms"), ("modelled MTP (same frames)", "modelled_mtp_ms"),
                      ("model error (measured − modelled photon)", "model_error_ms"),
                      ("flash to photon", "screen_to_photon_ms")):
        v = col[key][np.isfinite(col[key])]
        if len(v):
            rows += block_rows(percentile_block(v), f"photodiode: {name}")
    sec.tables.append(_blocks_table(rows, "ms"))


def drift(d: SessionData) -> Section:
    sec = Section("drift", "Sync drift per component")
    rows = []
    offsets: dict[str, list[tuple[int, float]]] = {}
    behind: dict[str, list[tuple[int, int]]] = {}
    for log_ns, st in d.status:
        if not st.started or log_ns <= 0:
            continue
        for c in st.clients:
            behind.setdefault(c.name, []).append((log_ns, c.frames_behind))
            if c.offset_us is not None:
                offsets.setdefault(c.name, []).append((log_ns, c.offset_us))
    foreign: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    v = d.vehicles.arrays()
    if len(v["t_ns"]) >= 3:
        foreign["SUMO: sim − session time"] = (v["t_ns"], (v["sim_ns"] - v["sim_ns"][0]) - (v["t_ns"] - v["t_ns"][0]))
    au = d.audio.arrays()
    if len(au["t_ns"]) >= 1:
        foreign["audio: actual − scheduled onset"] = (au["scheduled_ns"], au["actual_ns"] - au["scheduled_ns"])
    if not offsets and not behind and not foreign:
        sec.absent = ABSENT + " (no STATUS, vehicle or audio streams recorded)"
        return sec
    if offsets or behind:
        fig, (a, b) = figure(1, 2, width=11, height=3.2)
        for name, pts in offsets.items():
            tt, us = np.array(pts, dtype=np.float64).T
            ppm = fit_ppm(tt, us * 1e3)
            a.plot(seconds(tt), us, marker=".", lw=0.8, label=f"{name} ({'n/a' if ppm is None else f'{ppm:+.2f} ppm'})")
            rows.append((name, "clock offset estimate (master − local)", None if ppm is None else round(ppm, 3),
                         d.summary.get("clients", {}).get(name, {}).get("clock_drift_ppm")))
        a.set(xlabel="session time (s)", ylabel="µs", title="Clock offset estimate per client (fitted drift)")
        if offsets:
            a.legend(fontsize=7)
        for name, pts in behind.items():
            tt, fb = np.array(pts, dtype=np.float64).T
            b.step(seconds(tt), fb, where="post", lw=0.8, label=name)
        b.set(xlabel="session time (s)", ylabel="frames", title="Frames behind the master (STATUS)")
        if behind:
            b.legend(fontsize=7)
        sec.figures.append(("from the syncserver's STATUS broadcasts", png(fig)))
    for name, (tt, diff) in foreign.items():
        ppm = fit_ppm(tt, diff)
        fig, ax = figure(width=11, height=2.6)
        ax.plot(seconds(tt), np.asarray(diff) / 1e6, lw=0.8, marker="." if len(tt) < 200 else None)
        ax.set(xlabel="session time (s)", ylabel="ms", title=f"{name} ({'n/a' if ppm is None else f'{ppm:+.1f} ppm'})")
        sec.figures.append((name, png(fig)))
        rows.append((name.split(":")[0], name.split(": ")[1], None if ppm is None else round(ppm, 3), None))
    sec.tables.append(table(["component", "measure", "drift from the recording (ppm)", "drift in the summary (ppm)"],
                            rows))
    sec.note("A client's two drift figures are the same quantity, the trend of its clock-offset estimate "
             "(master − local; positive: its clock runs slow against the master's), fitted to different "
             "samples: the STATUS broadcasts in the recording, and every HEARTBEAT the syncserver received. "
             "On one host the true drift is 0, so both are noise of a fraction of a ppm and their signs may "
             "differ; across hosts they agree (docs/multihost.md). SUMO and audio: the foreign clock minus "
             "session time; positive: it runs ahead.")
    return sec


def sumo(d: SessionData) -> Section:
    sec = Section("sumo", "SUMO real-time factor and step cost")
    v = d.vehicles.arrays()
    blocks = block_rows(_sections_named(d, "sumo", "bridge"))
    scalars = [r for r in scalar_rows(_sections_named(d, "sumo")) if "rtf" in r[0].lower() or "real" in r[0].lower()]
    if len(v["t_ns"]) < 2 and not blocks and not scalars:
        sec.absent = ABSENT
        return sec
    if len(v["t_ns"]) >= 2:
        t, sim = v["t_ns"], v["sim_ns"]
        window_ns = float(np.clip((t[-1] - t[0]) / 10, 2e8, 1e9))
        edges = np.arange(t[0], t[-1] + 1, window_ns)
        idx = np.searchsorted(t, edges)
        idx = np.unique(np.clip(idx, 0, len(t) - 1))
        rtf = np.diff(sim[idx]) / np.maximum(np.diff(t[idx]), 1)
        total = (sim[-1] - sim[0]) / max(t[-1] - t[0], 1)
        fig, (a, b) = figure(1, 2, width=11, height=3.0)
        if len(rtf):
            a.step(seconds(t[idx][1:]), rtf, where="pre")
        a.axhline(total, color="k", lw=0.6, ls="--", label=f"session: {total:.4f}")
        a.set(xlabel="session time (s)", ylabel="sim s / session s", title=f"Real-time factor ({window_ns / 1e9:.1f} s windows)")
        a.legend(fontsize=8)
        b.plot(seconds(t), v["count"], lw=0.8)
        b.set(xlabel="session time (s)", ylabel="vehicles", title="Vehicles in the scene")
        sec.figures.append(("from the recorded VEHICLES stream", png(fig)))
        sec.tables.append(table(["", "value"], [("real-time factor (whole session)", round(float(total), 5)),
                                                ("vehicle tables", len(t))]))
    step = [r for r in blocks if any(w in r[0].lower() for w in ("step", "cost", "ms"))]
    if step:
        fig, ax = figure(width=7.5, height=0.6 + 0.35 * len(step))
        y = np.arange(len(step))
        for i, key in enumerate(("p50", "p99", "max")):
            ax.barh(y + (i - 1) * 0.25, [r[{"p50": 1, "p99": 3, "max": 4}[key]] or 0 for r in step], 0.25, label=key)
        ax.set_yticks(y, [r[0] for r in step], fontsize=7)
        ax.set(title="Step cost (from summary.json)")
        ax.legend(fontsize=7)
        sec.figures.append(("SUMO step cost", png(fig)))
    if blocks:
        sec.tables.append(_blocks_table(blocks))
    if scalars:
        sec.tables.append(table(["", "value"], scalars))
    if not step:
        sec.note("Step cost: not in this session's summary (no sumo section with step timings).")
    return sec


def audio(d: SessionData) -> Section:
    sec = Section("audio", "Audio onset alignment")
    a = d.audio.arrays()
    blocks = block_rows(_sections_named(d, "audio"))
    if len(a["t_ns"]) == 0 and not blocks:
        sec.absent = ABSENT
        return sec
    if len(a["t_ns"]):
        err_us = (a["actual_ns"] - a["scheduled_ns"]) / 1e3
        fig, (x, y) = figure(1, 2, width=11, height=3.0)
        hist(x, err_us, bins=40)
        x.set(xlabel="actual − scheduled onset (µs)", ylabel="onsets", title="Onset alignment")
        y.plot(seconds(a["scheduled_ns"]), err_us, ".", ms=4)
        y.set(xlabel="scheduled time (s)", ylabel="µs", title="Onset error over the session")
        sec.figures.append((f"{len(err_us)} onsets, {int(a['late'].sum())} late", png(fig)))
    if blocks:
        sec.tables.append(_blocks_table(blocks))
    return sec


def refine(d: SessionData) -> Section:
    sec = Section("refine", "Refine cost and residual age")
    r = d.residuals.arrays()
    blocks = block_rows(_sections_named(d, "refine"))
    shown = {src: c.arrays() for src, c in d.frames.items()}
    shown = {s: a for s, a in shown.items() if np.isfinite(a["residual_frame"]).any()}
    if len(r["t_ns"]) == 0 and not blocks and not shown:
        sec.absent = ABSENT
        return sec
    if len(r["t_ns"]) or shown:
        fig, ax = figure(width=11, height=3.0)
        if len(r["t_ns"]):
            ax.plot(seconds(r["t_ns"]), r["frame"] - r["base_frame"], lw=0.8, label="published: frame − base_frame")
        for src, a in shown.items():
            ax.plot(seconds(a["t_ns"]), a["frame"] - a["residual_frame"], lw=0.8, label=f"{src}: displayed age")
        ax.set(xlabel="session time (s)", ylabel="frames", title="Residual age")
        ax.legend(fontsize=8)
        sec.figures.append(("residual age in frames", png(fig)))
    cost = [b for b in blocks if any(w in b[0].lower() for w in ("ms", "cost", "time", "step"))]
    if cost:
        fig, ax = figure(width=7.5, height=0.6 + 0.35 * len(cost))
        y = np.arange(len(cost))
        ax.barh(y - 0.2, [b[1] or 0 for b in cost], 0.4, label="p50")
        ax.barh(y + 0.2, [b[3] or 0 for b in cost], 0.4, label="p99")
        ax.set_yticks(y, [b[0] for b in cost], fontsize=7)
        ax.set(title="Refine cost (from summary.json)")
        ax.legend(fontsize=7)
        sec.figures.append(("refine cost", png(fig)))
    else:
        sec.note("Refine cost: not in this session's summary.")
    if blocks:
        sec.tables.append(_blocks_table(blocks))
    return sec


def late_dropped(d: SessionData) -> Section:
    sec = Section("late", "Late and dropped frames")
    rows: list[tuple[str, Any]] = []
    ticks = d.summary.get("ticks", {})
    if "late" in ticks:
        rows.append(("syncserver: late ticks", ticks.get("late")))
    for name, c in d.summary.get("clients", {}).items():
        if not isinstance(c, dict):
            continue
        for key in ("missed", "dropped", "left"):
            if key in c:
                rows.append((f"{name}: {key}", c[key]))
        fb = c.get("frames_behind")
        if is_block(fb):
            rows.append((f"{name}: max frames behind", fb.get("max")))
        for sub in ("display",):
            for k, v in (c.get(sub) or {}).items():
                if k in ("missed_vsyncs", "replaced_frames", "tick_gaps", "decode_errors"):
                    rows.append((f"{name}: {k}", v))
    au = d.audio.arrays()
    if len(au["late"]):
        rows.append(("audio: late onsets", int(au["late"].sum())))
    dropped_events = [e for e in d.client_events if e.event in ("dropped", "rejected")]
    if not rows and not dropped_events:
        sec.absent = ABSENT
        return sec
    counts = [(k, v) for k, v in rows if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if counts:
        fig, ax = figure(width=7.5, height=0.6 + 0.3 * len(counts))
        ax.barh(np.arange(len(counts)), [v or 0 for _, v in counts])
        ax.set_yticks(np.arange(len(counts)), [k for k, _ in counts], fontsize=7)
        ax.invert_yaxis()
        ax.set(xlabel="count", title="Late / missed / dropped")
        sec.figures.append(("counts over the whole session", png(fig)))
    sec.tables.append(table(["", "count"], rows))
    if dropped_events:
        sec.tables.append(table(["client", "event", "reason"], [(e.name, e.event, e.reason) for e in dropped_events]))
    return sec


def scene(d: SessionData) -> Section:
    sec = Section("scene", "Scene from above")
    if not d.snapshots:
        sec.absent = ABSENT + " (no VEHICLES stream)"
        return sec
    sec.figures.append(top_down(d))
    sec.note("Roads are drawn as the paths vehicles drove; the listener is the head pose, its tracking origin "
             "taken as the world origin (Unreal axes: X = −z, Y = x).")
    return sec


def splat_frame(d: SessionData) -> Section:
    sec = Section("splat", "A frame, rendered with depth-weighted splats")
    if not d.snapshots:
        sec.absent = ABSENT + " (no VEHICLES stream)"
        return sec
    sec.figures.append(render_splats(d))
    sec.note("Each pixel is Σ cᵢ·e^(−wᵢ)·fᵢ / Σ e^(−wᵢ)·fᵢ over Gaussian splats fᵢ, with the weight wᵢ growing "
             "with depth, so nearer vehicles win without sorting (seed note 002).")
    return sec


def machine_config(d: SessionData) -> Section:
    sec = Section("machine", "Machine and config")
    runner = d.summary.get("runner", {})
    machine = runner.get("machine", {})
    if machine:
        sec.tables.append(table(["machine", ""], machine.items()))
    comps = runner.get("components", {})
    if comps:
        sec.tables.append(table(["component", "module", "status", "exit code", "log"],
                                [(n, c.get("module"), c.get("status"), c.get("exit_code"), c.get("log"))
                                 for n, c in comps.items()]))
    if d.config_text:
        sec.tables.append(f"<details open><summary>config.yaml</summary><pre>{html.escape(d.config_text)}</pre></details>")
    if not sec.tables:
        sec.absent = ABSENT
    return sec


COVERED = {"status", "session", "ticks", "runner"}


def other_figures(d: SessionData) -> Section:
    sec = Section("summary", "Every other figure in summary.json")
    for key, value in d.summary.items():
        if key in COVERED or not isinstance(value, dict):
            continue
        blocks = block_rows(value)
        scalars = scalar_rows(value)
        if blocks or scalars:
            sec.tables.append(f"<h3>{html.escape(key)}</h3>" + (_blocks_table(blocks) if blocks else "")
                              + (table(["", "value"], scalars) if scalars else ""))
    if not sec.tables:
        sec.absent = ABSENT
    return sec


def participant(d: SessionData) -> Section:
    """The participant's side first: path, encounters, distance and time-to-collision over time."""
    sec = Section("participant", "Participant and traffic")
    cfg = participant_settings(d.config_text)
    if cfg is None:
        sec.absent = f"{ABSENT}: the config has no participant: block (docs/safety.md)"
        return sec
    if d.recording is None:
        sec.absent = f"{ABSENT}: no recording"
        return sec
    a = analyse(d.recording.path, cfg)
    if len(a.path) < 2:
        sec.absent = f"{ABSENT}: no poses of device {cfg.device!r} were recorded"
        return sec
    summary = section_of(a, cfg)
    sec.tables.append(table(["", "value"], [
        ("closest approach (m)", summary["closest_approach_m"]), ("vehicle", summary["closest_vehicle"]),
        ("at (s)", summary["closest_at_s"]), ("time-to-collision min (s)", summary["ttc_min_s"]),
        ("post-encroachment time min (s)", summary["pet_min_s"]), ("near misses", summary["near_misses"]),
        ("vehicles met (within 60 m)", summary["vehicles_met"]), ("path walked (m)", summary["path_m"])]))
    fig, ax = figure(width=5.0, height=4.2)
    ax.plot(a.path[:, 1], a.path[:, 2], color="k", lw=1.5, label="participant")
    for e in sorted(a.encounters.values(), key=lambda e: e.closest_m)[:10]:
        x, y = (np.interp(e.closest_at_ns, a.path[:, 0], a.path[:, i]) for i in (1, 2))
        ax.scatter([x], [y], s=18)
        ax.annotate(f"{e.vehicle} {e.closest_m:.1f} m", (x, y), fontsize=7)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("east (m)")
    ax.set_ylabel("north (m)")
    sec.figures.append(("the participant's path on the net; dots: where each of the ten closest vehicles came closest", png(fig)))
    if a.t_ns:
        t = seconds(np.array(a.t_ns))
        fig, (ax1, ax2) = figure(2, 1, width=7.5, height=4.2, sharex=True)
        ax1.plot(t, a.nearest_m, lw=1)
        ax1.axhline(cfg.near_miss_distance_m, color="r", ls="--", lw=0.8)
        ax1.set_ylabel("nearest vehicle (m)")
        ax2.plot(t, a.ttc_s, ".", ms=3)
        ax2.axhline(cfg.near_miss_ttc_s, color="r", ls="--", lw=0.8)
        ax2.set_ylabel("TTC (s)")
        ax2.set_xlabel("session time (s)")
        for ev in d.events:
            if ev.kind == "marker":
                for ax in (ax1, ax2):
                    ax.axvline((ev.at_ns if ev.at_ns is not None else ev.t_ns) / 1e9, color="g", lw=0.8)
        sec.figures.append(("encounters over time: distance to the nearest vehicle and the smallest time-to-collision "
                            "(red: near-miss thresholds; green: experimenter markers)", png(fig)))
    rows = [(e["vehicle"], e["type"], e["closest_m"], e["closest_at_s"], e["ttc_min_s"], e["pet_s"])
            for e in summary["encounters"][:15]]
    sec.tables.append(table(["vehicle", "type", "closest (m)", "at (s)", "TTC min (s)", "PET (s)"], rows))
    return sec


BUILDERS: list[Callable[[SessionData], Section]] = [
    overview, participant, tick_timing, delivery, mtp, drift, sumo, audio, refine, late_dropped, scene, splat_frame,
    machine_config, other_figures,
]


def build_sections(d: SessionData) -> list[Section]:
    """Every section; one that fails to draw reports its error and the others still appear."""
    out = []
    for builder in BUILDERS:
        try:
            out.append(builder(d))
        except Exception as exc:  # a report must never lose the other sections
            sec = Section(builder.__name__, builder.__name__.replace("_", " ").capitalize())
            sec.absent = f"could not be drawn: {type(exc).__name__}: {exc}"
            out.append(sec)
    return out
