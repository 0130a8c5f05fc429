"""Pictures of the scene: a top-down view at a few moments, and one frame rendered from the listener
with the depth-weighted splat compositing of seed note 002::

    colour(x, y) = Σᵢ cᵢ·e^(−wᵢ)·fᵢ(x, y) / Σᵢ e^(−wᵢ)·fᵢ(x, y)

where fᵢ is splat i's Gaussian footprint and wᵢ grows with its depth, so the nearest splat dominates
a pixel without any sorting. Vehicle positions are Unreal centimetres (X forward, Y right, Z up);
the listener is the head pose in OpenVR tracking space (metres, +Y up, −Z forward), its origin taken
as the world origin: world X = −z, Y = x, Z = y.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from recording.report.plot import figure, png

if TYPE_CHECKING:
    from recording.report.data import SessionData

MAX_SPLATS = 200
DEPTH_SCALE_M = 40.0  # e-fold of the compositing weight per this many metres of depth (at least)
BACKGROUND_FOOTPRINT = 0.005


def _palette(handles: np.ndarray) -> np.ndarray:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return np.array([cmap(int(h) % 10)[:3] for h in handles]).reshape(-1, 3)


def _listener(d: SessionData, t_ns: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(world position in metres, forward unit vector) of the head at ``t_ns``, if any pose was recorded."""
    if not d.poses:
        return None
    name = next((n for n in d.poses if "hmd" in n.lower() or "head" in n.lower()), next(iter(d.poses)))
    a = d.poses[name].arrays()
    i = int(np.clip(np.searchsorted(a["t_ns"], t_ns), 0, len(a["t_ns"]) - 1))
    x, y, z = a["x"][i], a["y"][i], a["z"][i]
    w, qx, qy, qz = a["qw"][i], a["qx"][i], a["qy"][i], a["qz"][i]
    # rotate the tracking-space forward (0, 0, -1) by the quaternion
    fx = -(2 * (qx * qz + w * qy))
    fy = -(2 * (qy * qz - w * qx))
    fz = -(1 - 2 * (qx * qx + qy * qy))
    return np.array([-z, x, y]), np.array([-fz, fx, fy])


def top_down(d: SessionData, moments: int = 4) -> tuple[str, str]:
    snaps = d.snapshots
    picks = sorted({int(round(i)) for i in np.linspace(0, len(snaps) - 1, min(moments, len(snaps)))})
    trail = np.concatenate([s.position_cm[:, :2] for s in snaps]) / 100.0
    cols = 2 if len(picks) > 1 else 1
    rows = (len(picks) + cols - 1) // cols
    fig, axes = figure(rows, cols, width=11, height=4.2 * rows, squeeze=False)
    lo, hi = trail.min(axis=0), trail.max(axis=0)
    pad = max(5.0, 0.05 * float((hi - lo).max()))
    for ax, k in zip(axes.flat, picks):
        s = snaps[k]
        ax.scatter(trail[:, 0], trail[:, 1], s=1, c="0.85", label="roads (driven)")
        xy = s.position_cm[:, :2] / 100.0
        ax.scatter(xy[:, 0], xy[:, 1], s=28, c=_palette(s.handles), edgecolors="k", linewidths=0.4,
                   label=f"vehicles ({len(xy)})", zorder=3)
        head = _listener(d, s.t_ns)
        if head is not None:
            pos, fwd = head
            ax.scatter([pos[0]], [pos[1]], marker="*", s=160, c="crimson", zorder=4, label="listener")
            ax.arrow(pos[0], pos[1], fwd[0] * pad, fwd[1] * pad, color="crimson", width=pad * 0.02, zorder=4)
        ax.set(xlim=(lo[0] - pad, hi[0] + pad), ylim=(lo[1] - pad, hi[1] + pad), aspect="equal",
               title=f"t = {s.t_ns / 1e9:.2f} s", xlabel="X (m)", ylabel="Y (m)")
        ax.legend(fontsize=7, loc="upper right")
    for ax in list(axes.flat)[len(picks):]:
        ax.axis("off")
    return (f"{len(picks)} moments of {len(snaps)} snapshots", png(fig))


def composite(colors: np.ndarray, weights: np.ndarray, centers: np.ndarray, sigmas: np.ndarray,
              background: np.ndarray, background_footprint: float = BACKGROUND_FOOTPRINT) -> np.ndarray:
    """Depth-weighted compositing of axis-aligned Gaussian splats: colors (n, 3), weights (n,), pixel
    centres (n, 2) as (x, y), pixel sigmas (n, 2); background (H, W, 3) has weight 0 and a constant
    footprint. Each splat touches only its 3-sigma box (its footprint is separable). Returns (H, W, 3)."""
    h, w = background.shape[:2]
    num = background * background_footprint
    den = np.full((h, w), background_footprint)
    for color, weight, (cx, cy), (sx, sy) in zip(colors, weights, centers, sigmas):
        x0, x1 = max(0, int(cx - 3 * sx)), min(w, int(cx + 3 * sx) + 2)
        y0, y1 = max(0, int(cy - 3 * sy)), min(h, int(cy + 3 * sy) + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        gx = np.exp(-0.5 * ((np.arange(x0, x1) - cx) / sx) ** 2)
        gy = np.exp(-0.5 * ((np.arange(y0, y1) - cy) / sy) ** 2)
        a = np.exp(-weight) * np.outer(gy, gx)
        num[y0:y1, x0:x1] += a[..., None] * color
        den[y0:y1, x0:x1] += a
    return num / den[..., None]


def _project(rel: np.ndarray, depth: np.ndarray, right: np.ndarray, up: np.ndarray, focal: float,
             width: int, height: int, size_x_m: float, size_y_m: float) -> tuple[np.ndarray, np.ndarray]:
    centers = np.column_stack([width / 2 + focal * (rel @ right) / depth, height / 2 - focal * (rel @ up) / depth])
    sigmas = np.column_stack([focal * size_x_m / depth, focal * size_y_m / depth])
    return centers, sigmas


def _road_points(d: SessionData, max_points: int = 400) -> np.ndarray:
    pts = np.unique(np.round(np.concatenate([s.position_cm[:, :2] for s in d.snapshots]) / 100.0, 0), axis=0)
    if len(pts) > max_points:
        pts = pts[np.linspace(0, len(pts) - 1, max_points).astype(int)]
    return np.column_stack([pts, np.zeros(len(pts))])


def render_splats(d: SessionData, width: int = 480, height: int = 270, fov_deg: float = 90.0) -> tuple[str, str]:
    s = d.snapshots[len(d.snapshots) // 2]
    pts = s.position_cm / 100.0
    if pts.shape[1] == 2:
        pts = np.column_stack([pts, np.zeros(len(pts))])
    centroid = pts.mean(axis=0)
    head = _listener(d, s.t_ns)
    if head is not None:
        cam, fwd = head
        cam = cam + np.array([0.0, 0.0, 0.0 if cam[2] > 0.5 else 1.7])
        where = "the listener's head pose"
    else:
        span = max(10.0, float(np.ptp(pts[:, :2], axis=0).max()))
        cam = centroid + np.array([-0.6 * span, 0.0, 0.0])
        cam[2] = 1.7 + 0.03 * span
        fwd = centroid - cam
        where = "a camera behind the scene (no head pose in this session)"
    fwd = np.array([fwd[0], fwd[1], min(fwd[2], 0.0)], dtype=np.float64)
    if np.linalg.norm(fwd[:2]) < 1e-6:
        fwd = np.array([1.0, 0.0, 0.0])
    fwd /= np.linalg.norm(fwd)
    up = np.array([0.0, 0.0, 1.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    cup = np.cross(right, fwd)
    focal = (width / 2) / np.tan(np.radians(fov_deg) / 2)
    centers = pts + np.array([0.0, 0.0, 0.75])  # a car's body centre above its ground point
    rel = centers - cam
    depth = rel @ fwd
    keep = np.argsort(depth)
    keep = keep[depth[keep] > 0.5][:MAX_SPLATS]
    yy = np.mgrid[0:height, 0:width][0].astype(np.float64)
    horizon = height / 2 + focal * (fwd[2] / max(np.hypot(fwd[0], fwd[1]), 1e-6))  # fwd[2] < 0: above centre
    sky = np.array([0.62, 0.76, 0.92]) * (1 - 0.3 * np.clip(yy / height, 0, 1))[..., None]
    ground = np.array([0.35, 0.36, 0.33]) * (0.7 + 0.3 * np.clip((yy - horizon) / height, 0, 1))[..., None]
    background = np.where((yy < horizon)[..., None], sky, ground)
    colors, weights, centers, sigmas = [], [], [], []
    z_near = float(depth[keep].min()) if len(keep) else 0.0
    scale = max(DEPTH_SCALE_M, float(np.ptp(depth[keep])) / 3 if len(keep) else 0.0)
    if len(keep):  # vehicles
        z = depth[keep]
        colors.append(_palette(s.handles[keep] if len(s.handles) == len(pts) else keep))
        weights.append((z - z_near) / scale)
        c, sg = _project(rel[keep], z, right, cup, focal, width, height, 1.6, 0.7)
        centers.append(c)
        sigmas.append(sg)
    road = _road_points(d) - cam
    rz = road @ fwd
    near = rz > 1.0
    if near.any():  # the driven roads as flat grey splats, always behind a vehicle at the same depth
        rz = rz[near]
        colors.append(np.full((len(rz), 3), 0.52))
        weights.append(np.maximum(rz - z_near, 0.0) / scale + 1.5)
        c, sg = _project(road[near], rz, right, cup, focal, width, height, 1.2, 0.25)
        centers.append(c)
        sigmas.append(sg)
    if colors:
        image = composite(np.concatenate(colors), np.concatenate(weights), np.concatenate(centers),
                          np.concatenate(sigmas), background)
    else:
        image = background
    fig, ax = figure(width=8, height=4.5)
    ax.imshow(np.clip(image, 0, 1), interpolation="bilinear")
    ax.set_axis_off()
    ax.set_title(f"t = {s.t_ns / 1e9:.2f} s, {len(keep)} vehicles in view, from {where}")
    return (f"{width}×{height} splat rendering", png(fig))
