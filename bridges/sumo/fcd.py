"""FCD traces (SUMO's ``--fcd-output``, .xml or .xml.gz): a streaming reader and a seekable source.

Read per <timestep>: ``vehicle`` elements with x, y, angle, speed (required), z, slope, type,
acceleration (optional). Persons and containers are ignored. A malformed trace fails with the file,
the timestep and the vehicle named.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from bridges.sumo.scenario import check_file, open_maybe_gz
from bridges.sumo.snapshot import Snapshot
from syncserver.errors import InputFileError

REQUIRED = ("x", "y", "angle", "speed")


def read_fcd(path: Path) -> Iterator[Snapshot]:
    """Yield one Snapshot per <timestep>, in file order (times must increase)."""
    check_file(path, "FCD trace")
    name = str(path)
    last_ns: int | None = None
    with open_maybe_gz(path) as fh:
        it = ET.iterparse(fh, events=("start", "end"))
        try:
            _, root = next(it)
            if root.tag != "fcd-export":
                raise InputFileError(f"FCD trace {name!r}: root element is <{root.tag}>, expected <fcd-export>")
            for ev, el in it:
                if ev != "end" or el.tag != "timestep":
                    continue
                snap = _timestep(name, el)
                if last_ns is not None and snap.sim_ns <= last_ns:
                    raise InputFileError(f"FCD trace {name!r}: timestep {snap.sim_ns / 1e9:.3f} s does not "
                                         f"come after {last_ns / 1e9:.3f} s")
                last_ns = snap.sim_ns
                root.clear()
                yield snap
        except ET.ParseError as exc:
            raise InputFileError(f"FCD trace {name!r} is not well-formed XML: {exc}") from None
        except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt .gz
            raise InputFileError(f"FCD trace {name!r} cannot be read: {exc}") from None
        except StopIteration:
            pass
    if last_ns is None:
        raise InputFileError(f"FCD trace {name!r} has no <timestep>")


def _timestep(name: str, el: ET.Element) -> Snapshot:
    t = el.get("time")
    try:
        sim_ns = int(round(float(t) * 1e9))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputFileError(f"FCD trace {name!r}: <timestep> has time={t!r}, expected seconds") from None
    vehicles = [v for v in el if v.tag == "vehicle"]
    ids, types = [], []
    rows = np.zeros((len(vehicles), 7))
    have_accel = bool(vehicles) and all(v.get("acceleration") is not None for v in vehicles)
    for i, v in enumerate(vehicles):
        a = v.attrib
        vid = a.get("id")
        if not vid:
            raise InputFileError(f"FCD trace {name!r}: timestep {t}: a <vehicle> has no id")
        try:
            rows[i, 0] = float(a["x"])
            rows[i, 1] = float(a["y"])
            rows[i, 2] = float(a.get("z", 0.0))
            rows[i, 3] = float(a["angle"])
            rows[i, 4] = float(a["speed"])
            rows[i, 5] = float(a.get("slope", 0.0))
            if have_accel:
                rows[i, 6] = float(a["acceleration"])
        except KeyError as exc:
            raise InputFileError(f"FCD trace {name!r}: timestep {t}: vehicle {vid!r} lacks attribute {exc.args[0]!r}") from None
        except ValueError as exc:
            raise InputFileError(f"FCD trace {name!r}: timestep {t}: vehicle {vid!r}: {exc}") from None
        ids.append(vid)
        types.append(a.get("type", ""))
    if not np.isfinite(rows).all():
        raise InputFileError(f"FCD trace {name!r}: timestep {t}: non-finite coordinate or speed")
    return Snapshot(sim_ns, ids, types, rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5],
                    rows[:, 6] if have_accel else None)


class FcdSource:
    """Replays a trace without SUMO. Seeking backwards re-reads the file from the start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._it: Iterator[Snapshot] | None = None
        self._last: Snapshot | None = None
        self.info: dict = {}

    def start(self) -> Snapshot:
        self._it = read_fcd(self.path)
        self._last = next(self._it)
        self.info = {"backend": "fcd", "scenario": str(self.path)}
        return self._last

    def step(self) -> Snapshot | None:
        assert self._it is not None
        nxt = next(self._it, None)
        if nxt is not None:
            self._last = nxt
        return nxt

    def seek(self, sim_ns: int) -> Snapshot:
        """The last timestep at or before ``sim_ns`` (the first one if ``sim_ns`` is earlier)."""
        if self._last is None or sim_ns < self._last.sim_ns:
            self.start()
        assert self._it is not None and self._last is not None
        while True:
            nxt = next(self._it, None)
            if nxt is None:
                break
            if nxt.sim_ns > sim_ns:
                break
            self._last = nxt
        snap = self._last
        if nxt is not None:
            self._it = _chain(nxt, self._it)
        return snap

    def close(self) -> None:
        self._it = None


def _chain(first: Snapshot, rest: Iterator[Snapshot]) -> Iterator[Snapshot]:
    yield first
    yield from rest
