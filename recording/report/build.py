"""``report.html`` for one session folder (``python -m recording.report SESSION_DIR``)."""
from __future__ import annotations

import os
from pathlib import Path

from recording.report.data import load
from recording.report.page import document, section_body
from recording.report.sections import build_sections


def build_report(session_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` (atomically) next to summary.json; returns its path."""
    d = load(session_dir)
    sections = build_sections(d)
    s = d.summary.get("session", {})
    subtitle = (f"{d.summary.get('status', '?')} · {s.get('mode', '?')} at {s.get('rate_hz', '?')} Hz · "
                f"{s.get('frames', '?')} frames · folder {Path(session_dir).resolve()}")
    text = document(f"Session report: {d.name}", subtitle, [(x.key, x.title, section_body(x)) for x in sections])
    path = Path(out) if out else Path(session_dir) / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
