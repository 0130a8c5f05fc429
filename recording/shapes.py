"""Vehicle sizes and colours by SUMO vehicle class or type name: the wire carries neither yet, so
these are typical figures (docs/recording.md, docs/safety.md)."""
from __future__ import annotations

# (length, width, height) in metres and RGBA
SHAPES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float, float]]] = {
    "passenger": ((4.5, 1.8, 1.5), (0.25, 0.55, 0.95, 1.0)),
    "bus": ((12.0, 2.5, 3.2), (0.95, 0.75, 0.15, 1.0)),
    "truck": ((9.0, 2.5, 3.4), (0.55, 0.55, 0.6, 1.0)),
    "delivery": ((6.5, 2.1, 2.6), (0.7, 0.5, 0.3, 1.0)),
    "motorcycle": ((2.2, 0.8, 1.5), (0.9, 0.3, 0.3, 1.0)),
    "bicycle": ((1.8, 0.6, 1.7), (0.3, 0.8, 0.4, 1.0)),
}
DEFAULT_SHAPE = SHAPES["passenger"]


def shape_of(vtype: str) -> tuple[tuple[float, float, float], tuple[float, float, float, float]]:
    t = vtype.lower()
    return next((v for k, v in SHAPES.items() if k in t), DEFAULT_SHAPE)
