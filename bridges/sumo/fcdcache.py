"""The on-disk cache of parsed FCD traces: ``<cache_dir>/<sha256 of the trace>.fcd/``.

One folder per trace content: a ``.npy`` per :class:`~bridges.sumo.fcd.FcdColumns` array (loaded
with ``allow_pickle=False``; the row columns memory-mapped, so a trace of any size loads at once and
replays in bounded memory) and ``meta.json`` (format version, the source's path, size, mtime and
sha256). The parse writes straight into a scratch folder beside it, renamed into place when done. Keyed by content, so an edited trace gets a new entry and
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
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from bridges.sumo import rows as rowfiles
from bridges.sumo.fcd import ROW_ARRAYS, FcdColumns, parse_fcd
from bridges.sumo.scenario import check_file
from cosim.errors import InputFileError

log = logging.getLogger("sumo.fcdcache")

FORMAT = 3  # 2: signals and persons; 3: a folder of .npy, row columns memory-mapped
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
    return cache_dir / f"{digest}.fcd"


def read_cache(folder: Path, digest: str) -> FcdColumns:
    """Load and check one cache folder; raises ValueError saying what is wrong with it."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        missing = [k for k in ARRAYS if not (folder / f"{k}.npy").is_file()]
        if missing:
            raise ValueError(f"lacks {missing}")
        arrays = {k: rowfiles.load(folder / f"{k}.npy", mapped=k in ROW_ARRAYS) for k in ARRAYS}
    except Exception as exc:  # whatever a damaged or hostile folder makes numpy/json raise
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


def build_cache(folder: Path, source: Path, digest: str) -> FcdColumns:
    """Parse ``source`` into a scratch folder beside ``folder``, then rename it into place (a reader
    never sees half a cache; an old or bad one is replaced)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.stem}.", suffix=".tmp"))
    try:
        cols = parse_fcd(source, scratch)
        st = source.stat()
        for k in ARRAYS:
            if k not in ROW_ARRAYS:  # the row columns are written already
                np.save(scratch / f"{k}.npy", getattr(cols, k), allow_pickle=False)
        (scratch / "meta.json").write_text(json.dumps({
            "format": FORMAT, "source": str(source), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256": digest, "timesteps": len(cols), "rows": cols.rows}))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(scratch, folder)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return read_cache(folder, digest)


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
    try:
        cols = build_cache(file, source, digest)
    except (OSError, ValueError) as exc:
        log.warning("cannot write the FCD cache %r (%s); the trace is parsed into memory, and again next time",
                    str(file), exc)
        return parse_fcd(source), LoadInfo("uncached", None, (time.perf_counter() - t0) * 1e3)
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
