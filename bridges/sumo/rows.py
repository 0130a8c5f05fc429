"""Row columns kept on disk: written a block at a time while a trace is parsed, read back memory-
mapped, and let go of behind the replay, so an FCD trace of any size costs bounded memory.

A column is a ``.npy`` file. ``RowWriter`` appends raw rows to a scratch file and turns it into the
``.npy`` at the end (header, then the rows streamed through: the column is never in memory); ``load`` maps it read-only;
``release`` tells the kernel that rows before a point are not needed now (``madvise DONTNEED``: they
leave this process's resident set and come back from the page cache if a seek needs them).
"""
from __future__ import annotations

import mmap
import shutil
from pathlib import Path

import numpy as np

CHUNK_BYTES = 16 << 20


class RowWriter:
    def __init__(self, folder: Path, name: str, dtype: str, width: int = 0) -> None:
        self.path = folder / f"{name}.npy"
        self.scratch = folder / f"{name}.rows"
        self.dtype, self.width = np.dtype(dtype), width
        self.rows = 0
        self._fh = self.scratch.open("wb")

    def append(self, block: np.ndarray) -> None:
        self._fh.write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())
        self.rows += len(block)

    def finish(self) -> None:
        """The ``.npy``: its header, then the rows streamed through (never all in memory)."""
        self._fh.close()
        shape = (self.rows, self.width) if self.width else (self.rows,)
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": shape}
        with self.path.open("wb") as out, self.scratch.open("rb") as rows:
            np.lib.format.write_array_header_1_0(out, header)
            shutil.copyfileobj(rows, out, CHUNK_BYTES)
        self.scratch.unlink()


def load(path: Path, mapped: bool) -> np.ndarray:
    return np.load(path, mmap_mode="r" if mapped else None, allow_pickle=False)


def release(arr: np.ndarray, rows: int) -> None:
    """Rows ``[0, rows)`` of a memory-mapped array leave the resident set (no-op for other arrays)."""
    mm = getattr(arr, "_mmap", None)
    if mm is None or rows <= 0:
        return
    row_bytes = arr.itemsize * (arr.shape[1] if arr.ndim > 1 else 1)
    start = arr.offset % mmap.ALLOCATIONGRANULARITY  # where the data begins in the mapping
    end = start + min(rows, len(arr)) * row_bytes
    end -= end % mmap.PAGESIZE
    if end > 0:
        mm.madvise(mmap.MADV_DONTNEED, 0, end)


CHUNK_ROWS = 1 << 16


def chunks(n: int, rows: int = CHUNK_ROWS) -> range:
    return range(0, n, rows)
