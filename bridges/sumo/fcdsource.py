"""An FCD trace as the SUMO bridge's source: replayed from its columns, without SUMO, in bounded
memory (the cached columns are memory-mapped and let go of behind the replay)."""
from __future__ import annotations

from pathlib import Path

from bridges.sumo.fcd import FcdColumns
from bridges.sumo.fcdcache import load_columns
from bridges.sumo.snapshot import Snapshot


RELEASE_EVERY = 64  # timesteps


class FcdSource:
    """Replays a trace without SUMO, from its columns (cached on disk in ``cache_dir`` unless None)."""

    def __init__(self, path: Path, cache_dir: Path | None = None) -> None:
        self.path = path
        self.cache_dir = cache_dir
        self.cols: FcdColumns | None = None
        self.k = 0
        self.info: dict = {}

    def start(self) -> Snapshot:
        if self.cols is None:
            self.cols, how = load_columns(self.path, self.cache_dir)
            self.info = {"backend": "fcd", "scenario": str(self.path), "fcd_cache": how.state,
                         "fcd_cache_file": how.file, "fcd_load_ms": round(how.load_ms, 1),
                         "fcd_timesteps": len(self.cols), "fcd_rows": self.cols.rows}
        self.k = 0
        return self.cols.snapshot(0)

    def step(self) -> Snapshot | None:
        assert self.cols is not None
        if self.k + 1 >= len(self.cols):
            self.k = len(self.cols)
            return None
        self.k += 1
        if self.k % RELEASE_EVERY == 0:  # memory-mapped columns: what has been played leaves the resident set
            self.cols.release_before(self.k - RELEASE_EVERY)
        return self.cols.snapshot(self.k)

    def seek(self, sim_ns: int) -> Snapshot:
        """The last timestep at or before ``sim_ns`` (the first one if ``sim_ns`` is earlier); both ways."""
        assert self.cols is not None
        self.k = self.cols.index_at(sim_ns)
        return self.cols.snapshot(self.k)

    def close(self) -> None:
        self.cols = None
