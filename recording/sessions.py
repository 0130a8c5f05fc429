"""``python -m recording.sessions``: the sessions of a study.

  list [FOLDER ...]              one line per session folder (default: sessions/): status, duration,
                                 participant, condition, trial, motion-to-photon p99, closest approach
  report FOLDER ... [--out F]    a study report over those sessions (folders, or parents of session
                                 folders): per condition, the sessions' motion-to-photon, clock error,
                                 closest approach and time-to-collision, on one axis per figure

Examples:
  python -m recording.sessions list
  python -m recording.sessions report sessions/ --out study.html
"""
from __future__ import annotations

import argparse
import html
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from cosim.stats import plain
from recording.report.plot import figure, png, table

FIGURES = (  # (title, unit, how to get one value per session from its summary)
    ("motion-to-photon p99", "ms", lambda s: ((s.get("mtp") or {}).get("total_ms") or {}).get("p99")),
    ("tick lateness p99", "µs", lambda s: ((s.get("ticks") or {}).get("lateness_us") or {}).get("p99")),
    ("clock error p99 (worst client)", "µs", lambda s: max(
        (c.get("clock_offset_error_us", {}).get("p99") for c in (s.get("clients") or {}).values()
         if isinstance(c, dict) and c.get("clock_offset_error_us", {}).get("p99") is not None), default=None)),
    ("closest approach", "m", lambda s: (s.get("safety") or {}).get("closest_approach_m")),
    ("time-to-collision min", "s", lambda s: (s.get("safety") or {}).get("ttc_min_s")),
)


@dataclass
class Session:
    folder: Path
    summary: dict[str, Any]

    @property
    def study(self) -> dict[str, Any]:
        return self.summary.get("study") or {}

    @property
    def condition(self) -> str:
        return str(self.study.get("condition") or "(none)")


def find(paths: Sequence[Path]) -> list[Session]:
    """Session folders (with a summary.json) among ``paths`` and their children, oldest first."""
    found: list[Session] = []
    for path in paths:
        candidates = [path] if (path / "summary.json").is_file() else sorted(path.glob("*/summary.json"))
        for c in candidates:
            f = c if c.name == "summary.json" else c / "summary.json"
            try:
                found.append(Session(f.parent, json.loads(f.read_text())))
            except (OSError, ValueError) as exc:
                print(f"skipped {f.parent}: {exc}", file=sys.stderr)
    return found


def listing(sessions: list[Session]) -> str:
    head = f"{'session':42} {'status':10} {'dur s':>6} {'participant':11} {'cond':6} {'trial':>5} {'MTP p99':>9} {'closest':>8}"
    lines = [head]
    for s in sessions:
        st = s.study
        mtp, closest = FIGURES[0][2](s.summary), FIGURES[3][2](s.summary)
        lines.append(f"{s.folder.name[:42]:42} {s.summary.get('status', '?')[:10]:10} "
                     f"{plain((s.summary.get('session') or {}).get('duration_s')):>6} {str(st.get('participant', '-'))[:11]:11} "
                     f"{str(st.get('condition', '-'))[:6]:6} {str(st.get('trial', '-')):>5} "
                     f"{plain(mtp, 'ms'):>9} {plain(closest, 'm'):>8}")
    return "\n".join(lines)


def study_report(sessions: list[Session]) -> str:
    by_condition: dict[str, list[Session]] = {}
    for s in sessions:
        by_condition.setdefault(s.condition, []).append(s)
    conditions = sorted(by_condition)
    parts = [f"<p>{len(sessions)} sessions, {len(conditions)} conditions: "
             + ", ".join(f"{html.escape(c)} ({len(by_condition[c])})" for c in conditions) + "</p>"]
    rows = [(s.folder.name, s.summary.get("status"), s.study.get("participant"), s.condition, s.study.get("trial"),
             *(get(s.summary) for _, _, get in FIGURES)) for s in sessions]
    parts.append(table(["session", "status", "participant", "condition", "trial", *(f"{t} ({u})" for t, u, _ in FIGURES)],
                       rows))
    for title, unit, get in FIGURES:
        values = {c: [v for s in by_condition[c] if (v := get(s.summary)) is not None] for c in conditions}
        if not any(values.values()):
            parts.append(f'<p class="note">{html.escape(title)}: not in these sessions</p>')
            continue
        fig, ax = figure(width=6.0, height=3.0)
        for i, c in enumerate(conditions):  # every session a point, the conditions side by side on one axis
            ax.scatter([i] * len(values[c]), values[c], alpha=0.8)
            if values[c]:
                ax.hlines(sorted(values[c])[len(values[c]) // 2], i - 0.25, i + 0.25, color="k")
        ax.set_xticks(range(len(conditions)), conditions)
        ax.set_xlim(-0.5, len(conditions) - 0.5)
        ax.set_ylabel(f"{title} ({unit})")
        parts.append(f'<figure><img alt="{html.escape(title)} by condition" src="data:image/png;base64,{png(fig)}">'
                     f"<figcaption>{html.escape(title)} per session by condition (line: median)</figcaption></figure>")
    from recording.report.page import CSS
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Study report</title>"
            f"<style>{CSS}</style></head><body><h1>Study report</h1>\n" + "\n".join(parts) + "\n</body></html>\n")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recording.sessions", description=__doc__.splitlines()[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="one line per session")
    ls.add_argument("folders", nargs="*", default=["sessions"])
    rp = sub.add_parser("report", help="a study report over sessions, per condition")
    rp.add_argument("folders", nargs="+")
    rp.add_argument("--out", default="study.html", help="the HTML file to write (default: study.html)")
    args = ap.parse_args(argv)
    sessions = find([Path(f) for f in args.folders])
    if not sessions:
        print(f"error: no session folders (with a summary.json) in {', '.join(args.folders)}", file=sys.stderr)
        return 2
    if args.command == "list":
        print(listing(sessions))
        return 0
    out = Path(args.out)
    try:
        out.write_text(study_report(sessions))
    except OSError as exc:
        print(f"error: cannot write {out}: {exc}", file=sys.stderr)
        return 2
    print(f"{out}: {len(sessions)} sessions, conditions {', '.join(sorted({s.condition for s in sessions}))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
