"""summary.json: the merge of every component's result sections, and its short human form."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import msgspec

from cosim.config import Config
from cosim.process import write_json

BLOCK_KEYS = ("p50", "p95", "p99", "max")


def deep_merge(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def read_sections(session_dir: Path) -> tuple[dict[str, Any], list[str]]:
    merged: dict[str, Any] = {}
    problems = []
    folder = session_dir / "sections"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name}: unreadable ({exc})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{path.name}: not a JSON object")
            continue
        deep_merge(merged, data)
    return merged, problems


def build_summary(session_dir: Path, cfg: Config, status: str, components: dict[str, Any],
                  wall_s: float) -> dict[str, Any]:
    sections, problems = read_sections(session_dir)
    s = cfg.session
    summary: dict[str, Any] = {
        "status": status,
        "session": {"name": s.name, "mode": s.mode, "rate_hz": s.rate_hz, "pace": s.pace,
                    "duration_s": 0.0, "frames": 0},
        "ticks": {"lateness_us": dict.fromkeys(BLOCK_KEYS), "late": 0},
        "clients": {},
    }
    if cfg.study.tag() or cfg.study.notes:
        summary["study"] = {k: v for k, v in msgspec.to_builtins(cfg.study).items() if v not in ("", None)}
    deep_merge(summary, sections)
    summary["warnings"] = warnings(summary)
    if status == "ok" and summary["warnings"]:
        summary["status"] = "degraded"
    summary["runner"] = {"components": components, "wall_s": round(wall_s, 3), "section_problems": problems,
                         "machine": {"host": platform.node(), "python": platform.python_version(),
                                     "platform": platform.platform(), "cpus": os.cpu_count()}}
    return summary


def warnings(summary: dict[str, Any]) -> list[str]:
    """What makes a session that ran to its end not ``ok``: a required client dropped on the way."""
    out = []
    for name, c in summary.get("clients", {}).items():
        if isinstance(c, dict) and c.get("required") and c.get("dropped"):
            out.append(f"required client {name} was dropped: {c.get('drop_reason') or 'no reason given'}")
    return out


def write_summary(session_dir: Path, summary: dict[str, Any]) -> Path:
    return write_json(session_dir / "summary.json", summary)


def _is_block(value: Any) -> bool:
    return isinstance(value, dict) and set(BLOCK_KEYS) <= set(value)


def _fmt_block(block: dict[str, Any]) -> str:
    if block.get("p50") is None:
        return "n/a"
    return "p50 {p50:g} / p99 {p99:g} / max {max:g}".format(**block)


def _lines(prefix: str, data: dict[str, Any], depth: int = 0) -> list[str]:
    out, scalars = [], []
    for key, value in data.items():
        if _is_block(value):
            out.append(f"  {prefix}{key}: {_fmt_block(value)}")
        elif isinstance(value, dict) and depth < 2:
            out.extend(_lines(f"{prefix}{key}.", value, depth + 1))
        elif isinstance(value, (int, float, str, bool)) and value is not None:
            scalars.append(f"{key}={value}")
    if scalars:
        out.insert(0, f"  {prefix.rstrip('.') or 'values'}: " + ", ".join(scalars[:8]))
    return out


def format_summary(summary: dict[str, Any]) -> str:
    s = summary["session"]
    t = summary["ticks"]
    lines = [f"=== session {s['name']}: {summary['status']} — {s['frames']} frames in {s['duration_s']} s "
             f"({s['mode']}, {s['rate_hz']:g} Hz)",
             f"ticks: lateness {_fmt_block(t['lateness_us'])} µs, late {t['late']}"]
    for name, c in summary.get("clients", {}).items():
        flags = " DROPPED" if c.get("dropped") else ""
        lines.append(f"client {name}{flags}: delivery {_fmt_block(c.get('delivery_us', {}))} µs, "
                     f"clock error {_fmt_block(c.get('clock_offset_error_us', {}))} µs, "
                     f"acks {c.get('acks')}, missed {c.get('missed')}")
    skip = {"status", "session", "ticks", "clients", "runner", "control"}
    for key, value in summary.items():
        if key not in skip and isinstance(value, dict):
            lines.append(f"{key}:")
            lines.extend(_lines("", value))
    lines.extend(f"! {w}" for w in summary.get("warnings", []))
    for name, comp in summary.get("runner", {}).get("components", {}).items():
        if comp.get("status") != "external" and comp.get("exit_code") != 0:
            lines.append(f"! {name}: {comp.get('status')} (exit {comp.get('exit_code')}), log {comp.get('log')}")
    return "\n".join(lines)
