"""Self-contained HTML: inline CSS, figures as base64 PNG, no external resources."""
from __future__ import annotations

import html
from typing import Iterable

from recording.report.sections import Section

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1320px;color:#1d2330;
 background:#fafbfc}
h1{font-size:22px;margin-bottom:4px} h2{font-size:18px;border-bottom:2px solid #d9dee7;padding-bottom:4px;margin-top:28px}
h3{font-size:14px;margin:12px 0 4px} .sub{color:#5a6375;margin-top:0}
figure{margin:10px 0;background:#fff;border:1px solid #e3e7ee;padding:6px;display:inline-block}
figure img{max-width:100%;display:block} figcaption{font-size:12px;color:#5a6375;padding-top:4px}
table{border-collapse:collapse;margin:8px 16px 8px 0;font-size:12px;display:inline-table;vertical-align:top;background:#fff}
th,td{border:1px solid #dde2ea;padding:3px 8px;text-align:left} th{background:#eef1f6}
td:not(:first-child){font-variant-numeric:tabular-nums}
.absent{color:#8a6d1f;background:#fff8e1;border-left:4px solid #f0c14b;padding:6px 10px;display:inline-block}
.note{color:#5a6375;font-size:12px;margin:4px 0} pre{font-size:11px;background:#fff;border:1px solid #e3e7ee;padding:8px;
 overflow-x:auto;max-height:420px} nav a{margin-right:12px;font-size:13px}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:12px} .cols>div{min-width:0}
tr.changed td{background:#fff3cd;font-weight:600} details summary{cursor:pointer;margin:6px 0}
"""


def section_body(sec: Section) -> str:
    parts = []
    if sec.absent:
        parts.append(f'<p class="absent">{html.escape(sec.absent)}</p>')
    for caption, data in sec.figures:
        parts.append(f'<figure><img alt="{html.escape(sec.title)}: {html.escape(caption)}" '
                     f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>')
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in sec.notes]
    parts += sec.tables
    return "\n".join(parts)


def document(title: str, subtitle: str, sections: Iterable[tuple[str, str, str]]) -> str:
    """``sections``: (anchor, heading, body HTML)."""
    sections = list(sections)
    nav = " ".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, h, _ in sections)
    body = "\n".join(f'<section id="{a}"><h2>{html.escape(h)}</h2>\n{b}\n</section>' for a, h, b in sections)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>\n<h1>{html.escape(title)}</h1><p class=\"sub\">{html.escape(subtitle)}</p>"
            f"<nav>{nav}</nav>\n{body}\n</body></html>\n")
