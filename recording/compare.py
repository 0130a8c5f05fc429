"""``run_session.py --compare A B``: two sessions' figures side by side (a table, and compare.html)."""
from __future__ import annotations

import html
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from recording.report.data import SessionData, load
from recording.report.page import document, section_body
from recording.report.plot import block_rows, figure, png, scalar_rows, table
from recording.report.sections import build_sections
from cosim.errors import CosimError
from cosim.stats import plain

SKIP_PREFIXES = ("runner.", "session.id", "recording.path")
CHANGED = 0.10  # |B/A - 1| beyond this: highlighted as changed
KEY_FIGURES = ("mtp.total_ms.p99", "ticks.lateness_us.p99", "ticks.late", "participant.closest_approach_m",
               "participant.vehicles_yielded", "safety.ttc_min_s", "safety.near_misses", "session.fps")


def figures(summary: dict[str, Any]) -> dict[str, float]:
    """Every number in a summary, by dotted key (percentile blocks as key.p50 ... key.max)."""
    out: dict[str, float] = {}
    for key, *vals in block_rows(summary):
        for name, v in zip(("p50", "p95", "p99", "max"), vals):
            if isinstance(v, (int, float)):
                out[f"{key}.{name}"] = float(v)
    for key, v in scalar_rows(summary):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return {k: v for k, v in out.items() if not k.startswith(SKIP_PREFIXES)}


def compare_rows(a: SessionData, b: SessionData) -> list[tuple[str, float | None, float | None, float | None]]:
    fa, fb = figures(a.summary), figures(b.summary)
    rows = []
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key), fb.get(key)
        ratio = vb / va if va not in (None, 0.0) and vb is not None else None
        rows.append((key, va, vb, None if ratio is None else round(ratio, 4)))
    return rows


def print_table(rows: list[tuple], a: SessionData, b: SessionData, stream: TextIO) -> None:
    def f(v: float | None) -> str:
        return "-" if v is None else plain(v)
    width = max([len("figure")] + [len(r[0]) for r in rows])
    stream.write(f"A = {a.folder}\nB = {b.folder}\n")
    stream.write(f"{'figure':<{width}}  {'A':>12}  {'B':>12}  {'B/A':>8}\n")
    for key, va, vb, ratio in rows:
        mark = "  *" if changed(va, vb) else ""
        stream.write(f"{key:<{width}}  {f(va):>12}  {f(vb):>12}  {f(ratio):>8}{mark}\n")
    stream.write(f"* changed by more than {CHANGED:.0%}\n")


def changed(va: float | None, vb: float | None) -> bool:
    if va is None or vb is None:
        return va is not vb
    return abs(vb - va) > CHANGED * max(abs(va), abs(vb)) if (va or vb) else False


def overlays(a: SessionData, b: SessionData) -> list[tuple[str, str]]:
    """A and B on one axis: tick lateness and motion-to-photon distributions (as CDFs)."""
    out = []

    def mtp_ms(d: SessionData) -> np.ndarray:
        parts = [(c["photon_ns"] - c["pose_sample_ns"]) / 1e6 for c in (x.arrays() for x in d.frames.values())]
        v = np.concatenate(parts) if parts else np.zeros(0)
        return v[np.isfinite(v)]

    def lateness_us(d: SessionData) -> np.ndarray:
        t = d.ticks.arrays()
        return (t["sent_ns"] - t["t_ns"]) / 1e3 if len(d.ticks) else np.zeros(0)

    for title, unit, get in (("tick lateness", "µs", lateness_us), ("motion-to-photon", "ms", mtp_ms)):
        va, vb = get(a), get(b)
        if not len(va) and not len(vb):
            continue
        fig, ax = figure(width=6.5, height=3.0)
        for label, v in ((f"A: {a.name}", va), (f"B: {b.name}", vb)):
            if len(v):
                ax.plot(np.sort(v), np.linspace(0, 1, len(v)), label=label)
        ax.set(xlabel=f"{title} ({unit})", ylabel="fraction of frames")
        ax.legend(fontsize=8)
        out.append((f"{title}: A and B on one axis (cumulative distribution)", png(fig)))
    return out


def write_html(a: SessionData, b: SessionData, rows: list[tuple], path: Path) -> Path:
    sa, sb = build_sections(a), build_sections(b)
    keyed = {r[0]: r for r in rows}
    key_rows = [keyed[k] for k in KEY_FIGURES if k in keyed]
    moved = [r for r in rows if changed(r[1], r[2]) and r not in key_rows]
    figs = "".join(f'<figure><img alt="{html.escape(c)}" src="data:image/png;base64,{d}"><figcaption>'
                   f'{html.escape(c)}</figcaption></figure>' for c, d in overlays(a, b))
    head = [f"A: {a.name}", f"B: {b.name}", "B/A"]
    parts = [("changes", "What changed", table(["figure", *head], key_rows, highlight=changed)
              + f'<p class="note">{len(moved)} more figures moved by more than {CHANGED:.0%} (highlighted below).</p>'
              + figs),
             ("table", "Every figure", f"<details><summary>{len(rows)} figures (highlighted: changed by more than "
                                       f"{CHANGED:.0%})</summary>{table(['figure', *head], rows, highlight=changed)}"
                                       f"</details>")]
    for x, y in zip(sa, sb):
        body = (f'<div class="cols"><div><h3>A: {html.escape(a.name)}</h3>{section_body(x)}</div>'
                f'<div><h3>B: {html.escape(b.name)}</h3>{section_body(y)}</div></div>')
        parts.append((x.key, x.title, body))
    text = document(f"Compare: {a.name} vs {b.name}", f"A = {a.folder.resolve()} · B = {b.folder.resolve()}", parts)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def compare_main(a: str, b: str, out: str | None = None, stream: TextIO | None = None) -> int:
    stream = stream or sys.stdout
    try:
        for folder in (a, b):
            if not Path(folder).is_dir():
                raise CosimError(f"--compare: {folder!r} is not a session folder")
        da, db = load(a), load(b)
        rows = compare_rows(da, db)
        folder = Path(out) if out else Path.cwd()
        folder.mkdir(parents=True, exist_ok=True)
        path = write_html(da, db, rows, folder / "compare.html")
        print_table(rows, da, db, stream)
    except (CosimError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stream.write(f"compare page: {path}\n")
    return 0
