"""The on-disk cache of parsed FCD traces: ``<cache_dir>/<sha256 of the trace>.npz``.

One uncompressed .npz per trace content (numpy arrays only, loaded with ``allow_pickle=False``):
the :class:`~bridges.sumo.fcd.FcdColumns` arrays plus ``meta``, a JSON document (format version,
the source's path, size, mtime and sha256). Keyed by content, so an edited trace gets a new entry and
a copy of a trace reuses the old one. A cache file that cannot be read, has another format version,
describes another source or fails the consistency checks is rebuilt from the trace (with a warning
naming it); a cache directory that cannot be written only costs the parse on every start.

``python -m bridges.sumo.fcdcache TRACE [--cache-dir DIR]`` converts ahead of a session.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from bridges.sumo.fcd import FcdColumns, parse_fcd
from bridges.sumo.scenario import check_file
from cosim.errors import InputFileError

log = logging.getLogger("sumo.fcdcache")

FORMAT = 2  # 2: signals and persons
ARRAYS = ("times_ns", "offsets", "vid", "vtype", "values", "has_accel", "ids", "types", "signals", "persons")
DEFAULT_DIR = "~/.cache/cosim/sumo-fcd"


@dataclass
class LoadInfo:
    state: str  # "hit", "built", "rebuilt" (the cache file was bad), "uncached" (no usable cache dir)
    file: str | None
    load_ms: float


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise InputFileError(f"FCD trace {str(path)!r} cannot be read: {exc}") from None
    return h.hexdigest()


def cache_file(cache_dir: Path, digest: str) -> Path:
    return cache_dir / f"{digest}.npz"


def read_cache(file: Path, digest: str) -> FcdColumns:
    """Load and check one cache file; raises ValueError saying what is wrong with it."""
    try:
        with np.load(file, allow_pickle=False) as z:
            missing = [k for k in (*ARRAYS, "meta") if k not in z.files]
            if missing:
                raise ValueError(f"lacks {missing}")
            meta = json.loads(z["meta"].tobytes().decode())
            arrays = {k: z[k] for k in ARRAYS}
    except Exception as exc:  # whatever a damaged or hostile file makes zipfile/numpy/json raise
        raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else meta!r}, expected {FORMAT}")
    if meta.get("sha256") != digest:
        raise ValueError("made from another trace (sha256 differs)")
    cols = FcdColumns(**arrays)
    problem = cols.check()
    if problem:
        raise ValueError(problem)
    return cols


def write_cache(file: Path, cols: FcdColumns, source: Path, digest: str) -> None:
    """Atomically (temporary file + rename), so a concurrent reader never sees half a file."""
    st = source.stat()
    meta = {"format": FORMAT, "source": str(source), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256": digest, "timesteps": len(cols), "rows": cols.rows}
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                     **{k: getattr(cols, k) for k in ARRAYS})
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_columns(source: Path, cache_dir: Path | None) -> tuple[FcdColumns, LoadInfo]:
    """The trace's columns: from the cache when it holds a good copy, else parsed (and cached)."""
    t0 = time.perf_counter()
    check_file(source, "FCD trace")
    if cache_dir is None:
        return parse_fcd(source), LoadInfo("uncached", None, (time.perf_counter() - t0) * 1e3)
    digest = sha256_of(source)
    file = cache_file(cache_dir.expanduser(), digest)
    state = "built"
    if file.exists():
        try:
            cols = read_cache(file, digest)
            return cols, LoadInfo("hit", str(file), (time.perf_counter() - t0) * 1e3)
        except ValueError as exc:
            log.warning("FCD cache %r for %r is bad (%s); rebuilding it from the trace", str(file), str(source), exc)
            state = "rebuilt"
    cols = parse_fcd(source)
    try:
        write_cache(file, cols, source, digest)
    except OSError as exc:
        log.warning("cannot write the FCD cache %r (%s); the trace will be parsed again next time", str(file), exc)
        return cols, LoadInfo("uncached", None, (time.perf_counter() - t0) * 1e3)
    return cols, LoadInfo(state, str(file), (time.perf_counter() - t0) * 1e3)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bridges.sumo.fcdcache",
                                 description="Convert FCD traces to the SUMO bridge's binary cache ahead of a session.")
    ap.add_argument("traces", nargs="+", type=Path)
    ap.add_argument("--cache-dir", default=DEFAULT_DIR, help=f"cache directory (default {DEFAULT_DIR})")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    code = 0
    for trace in args.traces:
        try:
            cols, info = load_columns(trace, Path(args.cache_dir))
        except InputFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = 1
            continue
        print(f"{trace}: {info.state} {info.file} ({len(cols)} timesteps, {cols.rows} rows, {info.load_ms:.0f} ms)")
    return code


if __name__ == "__main__":
    sys.exit(main())
