"""Sewing-pattern prior -> 3D garment: 2D panels and a stitching graph (JSON) assembled into a mesh.

A panel is a quad in 2D pattern space (metres; corners waist-left, waist-right, hem-right, hem-left,
y pointing down the garment). It is meshed as a ``cols x rows`` grid; its normalised 2D coordinates
are the vertex UVs and the panel index is the chart, so the chart/UV index comes for free. Panels
are placed around a cone (``placement.angle_deg``, ``span_deg``); stitches join panel edges
(``left``/``right``/``top``/``bottom``) vertex by vertex. Vertices are duplicated along seams (one
per panel); the stitch pairs say which of them must coincide.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import numpy as np

from refine_runtime.errors import AssetError
from cosim.config import Strict, convert
from cosim.errors import ConfigError

EdgeName = Literal["top", "right", "bottom", "left"]
Point2 = tuple[float, float]


class Placement(Strict):
    angle_deg: float  # where the panel's left edge sits around the body (0 = front, +x to the left)
    span_deg: Annotated[float, msgspec.Meta(gt=0, le=360)]


class Panel(Strict):
    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
    corners: Annotated[list[Point2], msgspec.Meta(min_length=4, max_length=4)]
    placement: Placement


class EdgeRef(Strict):
    panel: str
    edge: EdgeName


class Stitch(Strict):
    a: EdgeRef
    b: EdgeRef


class Material(Strict):
    density_kg_m2: Annotated[float, msgspec.Meta(gt=0)] = 0.15
    stretch_compliance: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    bend_compliance: Annotated[float, msgspec.Meta(ge=0)] = 1e-3


class SewingPattern(Strict, kw_only=True):
    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    waist_height_m: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    panels: Annotated[list[Panel], msgspec.Meta(min_length=1, max_length=64)]
    stitches: list[Stitch] = []
    material: Material = msgspec.field(default_factory=Material)


def load_pattern(path: str | Path) -> SewingPattern:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise AssetError(f"sewing pattern {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AssetError(f"sewing pattern {str(path)!r} is not readable JSON: {exc}") from None
    return parse_pattern(raw, str(path))


def parse_pattern(raw: object, where: str = "<pattern>") -> SewingPattern:
    if not isinstance(raw, dict):
        raise AssetError(f"sewing pattern {where!r}: top level must be an object")
    try:
        pattern = convert(raw, SewingPattern)
    except ConfigError as exc:
        raise AssetError(f"sewing pattern {where!r}: {exc}") from None
    names = [p.name for p in pattern.panels]
    if len(set(names)) != len(names):
        raise AssetError(f"sewing pattern {where!r}: panel names must be unique (got {names})")
    for k, s in enumerate(pattern.stitches):
        for side in (s.a, s.b):
            if side.panel not in names:
                raise AssetError(f"sewing pattern {where!r}: stitches[{k}] names unknown panel {side.panel!r}")
        if s.a.edge in ("top", "bottom") or s.b.edge in ("top", "bottom"):
            raise AssetError(f"sewing pattern {where!r}: stitches[{k}]: only left/right edges can be stitched")
    return pattern


@dataclass(frozen=True)
class Garment:
    """A meshed garment at rest: duplicated seam vertices, one chart per panel."""

    name: str
    rest: np.ndarray  # (n, 3) float64
    faces: np.ndarray  # (f, 3) int64
    chart: np.ndarray  # (n,) int64
    uv: np.ndarray  # (n, 2) float32 in [0, 1]
    stitches: np.ndarray  # (m, 2) int64 vertex pairs that must coincide
    pinned: np.ndarray  # (n,) bool: the waistband, attached to the body
    grid: tuple[int, int]  # (cols, rows) per panel
    material: Material

    @property
    def n(self) -> int:
        return len(self.rest)


def _grid_faces(cols: int, rows: int, offset: int) -> np.ndarray:
    i, j = np.meshgrid(np.arange(cols - 1), np.arange(rows - 1), indexing="xy")
    a = offset + j * cols + i
    b, c, d = a + 1, a + cols, a + cols + 1
    return np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])


def _edge_vertices(edge: str, cols: int, rows: int, offset: int) -> np.ndarray:
    r, c = np.arange(rows), np.arange(cols)
    return offset + {"left": r * cols, "right": r * cols + cols - 1, "top": c, "bottom": (rows - 1) * cols + c}[edge]


def build_garment(pattern: SewingPattern, cols: int, rows: int) -> Garment:
    """Mesh every panel as a cols x rows grid and place it on a cone around the body's vertical axis."""
    if cols < 3 or rows < 3:
        raise AssetError(f"garment resolution must be at least 3 x 3 per panel (got {cols} x {rows})")
    scale = max(np.ptp(np.asarray(p.corners, dtype=np.float64), axis=0).max() for p in pattern.panels)
    rests, faces, charts, uvs, pins, offsets = [], [], [], [], [], {}
    s, r = np.meshgrid(np.linspace(0, 1, cols), np.linspace(0, 1, rows), indexing="xy")
    s, r = s.ravel(), r.ravel()
    for k, panel in enumerate(pattern.panels):
        c0, c1, c2, c3 = (np.asarray(c, dtype=np.float64) for c in panel.corners)
        top_w, hem_w = np.linalg.norm(c1 - c0), np.linalg.norm(c2 - c3)
        length = 0.5 * (np.linalg.norm(c3 - c0) + np.linalg.norm(c2 - c1))
        span = np.radians(panel.placement.span_deg)
        r_top, r_hem = top_w / span, hem_w / span
        drop = np.sqrt(max(length**2 - (r_hem - r_top) ** 2, 1e-12))
        angle = np.radians(panel.placement.angle_deg) + s * span
        radius = r_top + r * (r_hem - r_top)
        rest = np.stack([radius * np.sin(angle), pattern.waist_height_m - r * drop, radius * np.cos(angle)], -1)
        p2 = ((1 - s) * (1 - r))[:, None] * c0 + (s * (1 - r))[:, None] * c1 + (s * r)[:, None] * c2 + ((1 - s) * r)[:, None] * c3
        lo = np.asarray(panel.corners).min(axis=0)
        offsets[panel.name] = sum(len(x) for x in rests)
        rests.append(rest)
        faces.append(_grid_faces(cols, rows, offsets[panel.name]))
        charts.append(np.full(len(s), k))
        uvs.append((p2 - lo) / scale)
        pins.append(r == 0)
    rest = np.concatenate(rests)
    pairs = []
    for k, st in enumerate(pattern.stitches):
        va = _edge_vertices(st.a.edge, cols, rows, offsets[st.a.panel])
        vb = _edge_vertices(st.b.edge, cols, rows, offsets[st.b.panel])
        gap = np.linalg.norm(rest[va] - rest[vb], axis=-1).max()
        if gap > 0.01 * scale:
            raise AssetError(f"sewing pattern {pattern.name!r}: stitches[{k}] {st.a.panel}.{st.a.edge} and "
                             f"{st.b.panel}.{st.b.edge} do not meet once placed (gap {gap:.3f} m); check placement")
        rest[vb] = rest[va]
        pairs.append(np.stack([va, vb], -1))
    return Garment(name=pattern.name, rest=rest, faces=np.concatenate(faces).astype(np.int64),
                   chart=np.concatenate(charts).astype(np.int64), uv=np.concatenate(uvs).astype(np.float32),
                   stitches=np.concatenate(pairs).astype(np.int64) if pairs else np.zeros((0, 2), np.int64),
                   pinned=np.concatenate(pins), grid=(cols, rows), material=pattern.material)


def gored_pattern(name: str, panels: int, top_m: float, hem_m: float, length_m: float, top_height_m: float,
                  bend_compliance: float = 2e-3) -> dict:
    """A garment of ``panels`` flared gores hanging from a band at ``top_height_m`` (top and hem
    circumferences, gore length in metres), as sewing-pattern JSON."""
    top, hem = top_m / panels, hem_m / panels
    span = 360.0 / panels
    out = {"name": name, "waist_height_m": top_height_m, "panels": [], "stitches": [],
           "material": {"density_kg_m2": 0.15, "stretch_compliance": 0.0, "bend_compliance": bend_compliance}}
    for k in range(panels):
        x0 = (hem - top) / 2
        out["panels"].append({"name": f"gore{k}", "corners": [[x0, 0.0], [x0 + top, 0.0], [hem, length_m], [0.0, length_m]],
                              "placement": {"angle_deg": -span / 2 + k * span, "span_deg": span}})
        out["stitches"].append({"a": {"panel": f"gore{k}", "edge": "right"},
                                "b": {"panel": f"gore{(k + 1) % panels}", "edge": "left"}})
    return out


def skirt_pattern(name: str = "skirt4", panels: int = 4, waist_m: float = 0.72, hem_m: float = 1.9,
                  length_m: float = 0.55) -> dict:
    """A flared skirt of ``panels`` gores at the waist, as sewing-pattern JSON (what assets/refine/ ships)."""
    return gored_pattern(name, panels, waist_m, hem_m, length_m, 1.0)


def dress_pattern(name: str = "dress6") -> dict:
    """A six-gore dress hanging from the chest (1.32 m) to below the knee: fitted above the hips,
    flared below; the second garment of the refinement study (assets/refine/dress_pattern.json)."""
    return gored_pattern(name, 6, 0.92, 2.4, 0.95, 1.32, bend_compliance=1e-3)
