"""Small plotting and HTML helpers shared by the report sections (matplotlib, Agg backend)."""
from __future__ import annotations

import base64
import html
import io
from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cosim.stats import plain  # noqa: E402

BLOCK_KEYS = ("p50", "p95", "p99", "max")
plt.rcParams.update({"figure.dpi": 90, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3})


def figure(rows: int = 1, cols: int = 1, *, width: float = 7.5, height: float = 3.0, **kw: Any):
    return plt.subplots(rows, cols, figsize=(width, height), **kw)


def png(fig: Any) -> str:
    """The figure as base64 PNG (and closes it)."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def fit_ppm(t_ns: np.ndarray, y_ns: np.ndarray) -> float | None:
    """Slope of ``y`` against ``t`` (both ns) in parts per million; None without enough points."""
    t, y = np.asarray(t_ns, dtype=np.float64), np.asarray(y_ns, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    if len(t) < 3 or np.ptp(t) <= 0:
        return None
    slope = np.polyfit(t - t[0], y - y[0], 1)[0]
    return float(slope * 1e6)


def seconds(t_ns: np.ndarray) -> np.ndarray:
    return np.asarray(t_ns, dtype=np.float64) / 1e9


def is_block(value: Any) -> bool:
    return isinstance(value, dict) and set(BLOCK_KEYS) <= set(value)


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    return html.escape(plain(value))


def table(header: Iterable[str], rows: Iterable[Iterable[Any]], highlight: Any = None) -> str:
    """``highlight(row[1], row[2])`` true: the row is marked (compare: a figure that changed)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(("<tr class=\"changed\">" if highlight and highlight(row[1], row[2]) else "<tr>")
                   + "".join(f"<td>{fmt(c)}</td>" for c in row) + "</tr>" for row in (list(r) for r in rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def block_rows(data: Any, prefix: str = "") -> list[tuple[str, Any, Any, Any, Any]]:
    """Every percentile block inside ``data`` as (dotted key, p50, p95, p99, max)."""
    out: list[tuple[str, Any, Any, Any, Any]] = []
    if is_block(data):
        return [(prefix or "value", *(data.get(k) for k in BLOCK_KEYS))]
    if isinstance(data, dict):
        for key, value in data.items():
            out += block_rows(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def scalar_rows(data: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """Scalars (numbers, strings, booleans) inside ``data`` as (dotted key, value), blocks excluded."""
    out: list[tuple[str, Any]] = []
    if isinstance(data, dict) and not is_block(data) and depth < 6:
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, (int, float, str, bool)) or value is None:
                out.append((name, value))
            else:
                out += scalar_rows(value, name, depth + 1)
    return out


def hist(ax: Any, values: np.ndarray, label: str | None = None, bins: int = 60, **kw: Any) -> None:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        hi = lo + 1.0
    ax.hist(values, bins=np.linspace(lo, hi, bins + 1), label=label, alpha=0.75, **kw)
