"""A garment sequence: static topology + chart/UV index, the base (coarse) positions per frame and,
for training and evaluation, the ground-truth residuals. Stored as safetensors (tensors + a string
metadata map, never pickle) and validated on load. Also loads OBJ/PLY sequences through trimesh.

Kept free of torch so that the headless client can load the same base mesh the runtime refines.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cosim.looped import blend_looped
from refine_runtime.errors import AssetError
from refine_runtime.safetensors_io import read_safetensors

FORMAT = "refine-sequence/1"
_STATIC = {"faces": (2, "int64"), "chart": (1, "int64"), "uv": (2, "float32"), "stitches": (2, "int64"),
           "rest": (2, "float32")}


@dataclass(frozen=True)
class Sequence:
    name: str
    fps: float
    rest: np.ndarray  # (n, 3) float32: rest / reference shape
    faces: np.ndarray  # (f, 3) int64
    chart: np.ndarray  # (n,) int64
    uv: np.ndarray  # (n, 2) float32
    stitches: np.ndarray  # (m, 2) int64
    base: np.ndarray  # (F, n, 3) float32 (stored float16)
    residual: np.ndarray | None = None  # (F, n, 3) float32 ground truth minus base (stored float16)

    @property
    def n(self) -> int:
        return len(self.rest)

    @property
    def frames(self) -> int:
        return len(self.base)

    @property
    def gt(self) -> np.ndarray:
        if self.residual is None:
            raise AssetError(f"sequence {self.name!r} carries no ground truth")
        return self.base + self.residual

    def base_at(self, t_ns: int, out: np.ndarray | None = None) -> np.ndarray:
        """Base positions at session time ``t_ns``: linear blend of the recorded frames, on the loop."""
        return blend_looped(self.base, self.fps, t_ns, out)

    def static_only(self) -> Sequence:
        return replace(self, residual=None)

    def topology_key(self) -> str:
        """A short fingerprint of what a checkpoint depends on: vertex count, faces, charts."""
        import hashlib
        h = hashlib.sha256()
        for arr in (np.int64(self.n), self.faces.astype(np.int64), self.chart.astype(np.int64)):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]


def save_sequence(seq: Sequence, path: str | Path, with_residual: bool = True) -> Path:
    from safetensors.numpy import save_file
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(getattr(seq, k).astype(dt)) for k, (_, dt) in _STATIC.items()}
    tensors["base"] = np.ascontiguousarray(seq.base, dtype=np.float16)
    if with_residual and seq.residual is not None:
        tensors["residual"] = np.ascontiguousarray(seq.residual, dtype=np.float16)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"format": FORMAT, "name": seq.name, "fps": repr(float(seq.fps))})
    tmp.replace(path)
    return path


def load_sequence(path: str | Path) -> Sequence:
    path = Path(path)
    where = f"sequence file {str(path)!r}"
    meta, tensors = read_safetensors(path, "numpy", FORMAT, AssetError, where, "is not a readable safetensors file")
    try:
        fps = float(meta.get("fps", "nan"))
    except ValueError:
        fps = float("nan")
    if not np.isfinite(fps) or fps <= 0:
        raise AssetError(f"{where}: metadata fps {meta.get('fps')!r} is not a positive number")
    return validate(Sequence(
        name=meta.get("name", path.stem), fps=fps,
        **{k: _need(tensors, k, path) for k in _STATIC},
        base=_need(tensors, "base", path).astype(np.float32),
        residual=tensors["residual"].astype(np.float32) if "residual" in tensors else None), str(path))


def _need(tensors: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    if key not in tensors:
        raise AssetError(f"sequence file {str(path)!r} lacks tensor {key!r}")
    return tensors[key]


def validate(seq: Sequence, where: str) -> Sequence:
    n = len(seq.rest)

    def bad(what: str) -> AssetError:
        return AssetError(f"sequence {where!r}: {what}")

    if seq.rest.ndim != 2 or seq.rest.shape[1] != 3 or n == 0:
        raise bad(f"rest has shape {seq.rest.shape}, expected (n, 3)")
    if seq.faces.ndim != 2 or seq.faces.shape[1] != 3 or len(seq.faces) == 0:
        raise bad(f"faces has shape {seq.faces.shape}, expected (f, 3)")
    if seq.faces.min() < 0 or seq.faces.max() >= n:
        raise bad(f"faces index vertices outside [0, {n})")
    if seq.chart.shape != (n,) or seq.chart.min() < 0:
        raise bad(f"chart has shape {seq.chart.shape} (expected ({n},)) or negative ids")
    if seq.uv.shape != (n, 2) or not np.isfinite(seq.uv).all() or seq.uv.min() < -1e-4 or seq.uv.max() > 1 + 1e-4:
        raise bad(f"uv must be ({n}, 2) finite values in [0, 1] (got shape {seq.uv.shape})")
    if seq.stitches.size and (seq.stitches.ndim != 2 or seq.stitches.shape[1] != 2
                              or seq.stitches.min() < 0 or seq.stitches.max() >= n):
        raise bad(f"stitches must be (m, 2) vertex pairs in [0, {n})")
    if seq.base.ndim != 3 or seq.base.shape[1:] != (n, 3) or len(seq.base) == 0:
        raise bad(f"base has shape {seq.base.shape}, expected (frames, {n}, 3)")
    if not np.isfinite(seq.base).all():
        raise bad("base holds non-finite positions")
    if seq.residual is not None and (seq.residual.shape != seq.base.shape or not np.isfinite(seq.residual).all()):
        raise bad(f"residual has shape {seq.residual.shape} (expected {seq.base.shape}) or non-finite values")
    return seq


_FRAME_FILE = re.compile(r"(\d+)\.(obj|ply)$", re.IGNORECASE)


def _mesh_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise AssetError(f"mesh folder {str(folder)!r} does not exist")
    files = sorted((p for p in folder.iterdir() if _FRAME_FILE.search(p.name)),
                   key=lambda p: int(_FRAME_FILE.search(p.name).group(1)))
    if not files:
        raise AssetError(f"mesh folder {str(folder)!r} has no numbered .obj/.ply files (e.g. frame_0001.obj)")
    return files


def _load_mesh(path: Path):
    import trimesh
    try:
        mesh = trimesh.load(str(path), force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for malformed files
        raise AssetError(f"mesh {str(path)!r} could not be read: {exc}") from None
    if not hasattr(mesh, "faces") or len(mesh.faces) == 0:
        raise AssetError(f"mesh {str(path)!r} has no triangles")
    return mesh


def load_mesh_sequence(base_dir: str | Path, gt_dir: str | Path | None, fps: float, name: str = "mesh") -> tuple[
        np.ndarray, np.ndarray, np.ndarray | None]:
    """Numbered OBJ/PLY frames (same topology) -> faces (f,3), base (F,n,3), gt (F,n,3) or None."""
    base_files = _mesh_files(Path(base_dir))
    gt_files = _mesh_files(Path(gt_dir)) if gt_dir is not None else None
    if gt_files is not None and len(gt_files) != len(base_files):
        raise AssetError(f"{str(gt_dir)!r} has {len(gt_files)} frames but {str(base_dir)!r} has {len(base_files)}")
    first = _load_mesh(base_files[0])
    faces = np.asarray(first.faces, dtype=np.int64)

    def frames(files: list[Path]) -> np.ndarray:
        out = []
        for p in files:
            m = _load_mesh(p)
            if len(m.vertices) != len(first.vertices) or not np.array_equal(np.asarray(m.faces), faces):
                raise AssetError(f"mesh {str(p)!r}: topology differs from {str(base_files[0])!r} "
                                 f"({len(m.vertices)} vs {len(first.vertices)} vertices)")
            out.append(np.asarray(m.vertices, dtype=np.float32))
        return np.stack(out)

    return faces, frames(base_files), frames(gt_files) if gt_files is not None else None
