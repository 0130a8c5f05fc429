"""What the runner shows a person: one status line that fits the terminal, and a short summary.

The status line says what an experimenter watches during a run (time, simulation time, traffic,
motion-to-photon so far, warnings), most important first, cut at whole parts to the terminal's
width, so a carriage return redraws it in place at any width. ``--verbose`` adds the full summary.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO, Any, Sequence

from cosim import protocol as p
from cosim.stats import Samples, percentile_block, plain as number

BEHIND_WARNING = 3  # frames behind the master that a client may lag before the line warns


class LiveFigures:
    """Figures of the running session, from the broadcasts and a few bus topics."""

    TOPICS = (p.TOPIC_VEHICLES, p.TOPIC_FRAMES, p.TOPIC_EVENTS)

    def __init__(self) -> None:
        self.status: p.Status | None = None
        self.sim_ns: int | None = None
        self.vehicles: int | None = None
        self.mtp_ns = Samples()
        self.markers = 0

    def on_message(self, msg: p.Message) -> None:
        if isinstance(msg, p.Status):
            self.status = msg
        elif isinstance(msg, p.Vehicles):
            self.sim_ns = msg.sim_ns
            self.vehicles = next((spec.shape[0] for spec in msg.arrays if spec.name == "handle"), None)
        elif isinstance(msg, p.FrameReport) and msg.pose_sample_ns is not None:
            self.mtp_ns.append(msg.photon_ns - msg.pose_sample_ns)
        elif isinstance(msg, p.Event) and msg.kind == "marker":
            self.markers += 1

    def line(self, total_frames: int, rate_hz: float, expected: Sequence[str], width: int | None = None) -> str:
        st = self.status
        if st is None:
            return fit(["starting ..."], width)
        if not st.started:
            waiting = sorted(set(expected) - {c.name for c in st.clients if c.ready})
            return fit([f"waiting for READY: {', '.join(waiting) or '-'}"], width)
        parts = [f"t {st.frames / rate_hz:.1f}/{total_frames / rate_hz:.0f} s"]
        warn = [f"{c.name} gone" for c in st.clients if not c.connected]
        warn += [f"{c.name} {c.frames_behind} behind" for c in st.clients
                 if c.connected and c.frames_behind > BEHIND_WARNING]
        if st.late:
            warn.append(f"{st.late} late ticks")
        if warn:
            parts.append("! " + ", ".join(warn))
        if self.sim_ns is not None:
            parts.append(f"sim {self.sim_ns / 1e9:.1f} s")
        if self.vehicles is not None:
            parts.append(f"{self.vehicles} vehicles")
        mtp = percentile_block(self.mtp_ns, 1e-6)["p99"]
        if mtp is not None:
            parts.append(f"MTP p99 {mtp:.1f} ms")
        if self.markers:
            parts.append(f"{self.markers} markers")
        parts.append(f"{st.fps:.0f} fps")
        return fit(parts, width)


def fit(parts: Sequence[str], width: int | None = None, sep: str = " | ") -> str:
    """The parts that fit in ``width - 1`` columns (the cursor must not wrap), whole, in order."""
    cols = (width or shutil.get_terminal_size((80, 24)).columns) - 1
    out = ""
    for part in parts:
        candidate = part if not out else out + sep + part
        if len(candidate) > cols:
            break
        out = candidate
    return out or parts[0][:cols]


def short_summary(summary: dict[str, Any], folder: Path) -> str:
    """The verdict, five key figures and where the files are."""
    s, t = summary.get("session", {}), summary.get("ticks", {})
    study = summary.get("study") or {}
    who = " ".join(f"{k} {v}" for k, v in study.items() if k in ("participant", "condition", "trial") and v)
    lines = [f"{summary.get('status', '?').upper()}: {s.get('name', 'session')}{' (' + who + ')' if who else ''} — "
             f"{number(s.get('frames'))} frames in {number(s.get('duration_s'), 's')}, "
             f"end: {s.get('end_reason') or 'unknown'}"]
    mtp = (summary.get("mtp") or {}).get("total_ms") or {}
    clients = [c for c in summary.get("clients", {}).values() if isinstance(c, dict)]
    shown = [c for c in clients if c.get("role") == "client"] or clients  # the display clients: what the headset gets
    delivery = [c.get("delivery_us", {}).get("p99") for c in shown if c.get("delivery_us", {}).get("p99") is not None]
    errors = [c.get("clock_offset_error_us", {}).get("p99") for c in clients
              if c.get("clock_offset_error_us", {}).get("p99") is not None]
    safety = summary.get("safety") or {}
    figures = [
        ("motion-to-photon p99", number(mtp.get("p99"), "ms")),
        ("tick lateness p99", number((t.get("lateness_us") or {}).get("p99"), "µs") + f", {number(t.get('late'))} late"),
        ("tick delivery p99 (display clients)", number(max(delivery) if delivery else None, "µs")),
        ("clock error p99 (worst client)", number(max(errors) if errors else None, "µs")),
        ("closest approach", number(safety.get("closest_approach_m"), "m") if safety else "n/a (no participant)"),
    ]
    lines += [f"  {name}: {value}" for name, value in figures]
    lines += [f"! {w}" for w in summary.get("warnings", [])]
    for name, comp in summary.get("runner", {}).get("components", {}).items():
        if comp.get("status") == "ready timeout":
            lines.append(f"! {s.get('end_reason') or 'ready timeout'} (session.ready_timeout_s; logs/ of those "
                         f"components say why)")
        elif comp.get("status") not in ("external", None) and comp.get("exit_code") != 0:
            lines.append(f"! {name}: {comp.get('status')} (exit {comp.get('exit_code')}), log {comp.get('log')}")
    files = [f for f in ("summary.json", "report.html", "session.mcap") if (folder / f).exists()]
    lines.append(f"files: {folder}/{{{', '.join(files)}}}  (--verbose: every figure)")
    return "\n".join(lines)


class KeyReader:
    """Single key presses from a terminal (cbreak mode: no Enter needed, Ctrl-C still a signal);
    the terminal's mode is restored by ``close``."""

    def __init__(self, stream: IO[str]) -> None:
        import termios
        import tty
        self.fd = stream.fileno()
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)

    def read(self) -> str:
        try:
            return os.read(self.fd, 64).decode(errors="replace").lower()
        except OSError:
            return ""

    def close(self) -> None:
        import termios
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
