"""Stable u32 handles for SUMO vehicle ids, and the versioned id/type table of the active set."""
from __future__ import annotations

import numpy as np


class HandleTable:
    """A vehicle keeps its handle for the whole session (also after it leaves and re-enters).
    Handles are assigned in order of first appearance, and among vehicles first seen in the same
    step in id order, so every source (libsumo, traci, FCD) of one run gives the same handles."""

    def __init__(self) -> None:
        self._handles: dict[str, int] = {}
        self.version = 0
        self._active: np.ndarray | None = None

    def handles(self, ids: list[str]) -> np.ndarray:
        table = self._handles
        for vid in sorted(v for v in ids if v not in table):
            table[vid] = len(table)
        return np.fromiter(map(table.__getitem__, ids), dtype=np.uint32, count=len(ids))

    def forget_active(self) -> None:
        """After a seek: the next active set gets a table (and a version) whatever it is."""
        self._active = None

    def activate(self, sorted_handles: np.ndarray) -> bool:
        """Make ``sorted_handles`` the active set; True (and a new version) when it changed."""
        if self._active is not None and np.array_equal(self._active, sorted_handles):
            return False
        self._active = sorted_handles
        self.version += 1
        return True
