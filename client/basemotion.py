"""A base motion the headless client plays on the master clock, as a renderer plays its own coarse
mesh (an engine's cloth simulation or animation cache): a safetensors file with a ``base`` tensor
(frames, n, 3) and an ``fps`` metadata entry, looped; identified by the file's SHA-256, which the
refiner's ASSET announcement names."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from cosim.errors import InputFileError
from cosim.looped import blend_looped


class BaseMotion:
    def __init__(self, path: Path, base: np.ndarray, fps: float, sha256: str) -> None:
        self.path, self.base, self.fps, self.sha256 = path, base, fps, sha256

    @property
    def vertices(self) -> int:
        return self.base.shape[1]

    @classmethod
    def load(cls, path: Path) -> BaseMotion:
        from safetensors import SafetensorError, safe_open
        where = f"base motion {str(path)!r}"
        if not path.is_file():
            raise InputFileError(f"{where} does not exist")
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                if "base" not in f.keys():
                    raise InputFileError(f"{where} has no 'base' tensor (frames, n, 3)")
                base = f.get_tensor("base").astype(np.float32)
        except (SafetensorError, OSError, ValueError) as exc:
            raise InputFileError(f"{where} is not a readable safetensors file: {exc}") from None
        try:
            fps = float(meta.get("fps", "nan"))
        except ValueError:
            fps = float("nan")
        if not (np.isfinite(fps) and fps > 0):
            raise InputFileError(f"{where}: metadata 'fps' {meta.get('fps')!r} is not a positive number")
        if base.ndim != 3 or base.shape[2] != 3 or not len(base) or not np.isfinite(base).all():
            raise InputFileError(f"{where}: 'base' has shape {base.shape} or non-finite values; expected finite (frames, n, 3)")
        return cls(path, base, fps, hashlib.sha256(path.read_bytes()).hexdigest())

    def at(self, t_ns: int, out: np.ndarray) -> np.ndarray:
        """Positions at session time ``t_ns``, looped (the refiner plays its base the same way)."""
        return blend_looped(self.base, self.fps, t_ns, out)
