"""FCD traces (SUMO's ``--fcd-output``, .xml or .xml.gz): parsed once into columns, replayed from them.

Read per <timestep>: ``vehicle`` and ``person`` elements with x, y, angle, speed (required), z,
slope, type, acceleration, signals (optional; SUMO writes signals with ``--fcd-output.signals``).
A timestep's persons follow its vehicles. Containers are ignored. A malformed trace fails with the file,
the timestep and the vehicle named. Parsing XML in Python costs ~20 us per vehicle, far too slow for
a 10 Hz trace of thousands of vehicles, so a trace is converted once to :class:`FcdColumns` (numpy
columns with a time index), which ``bridges.sumo.fcdcache`` keeps on disk; a step or a seek is then
an array slice. Parsed into a folder (the cache's), the row columns go to disk a timestep at a time
and come back memory-mapped (bridges.sumo.rows): bounded memory for a trace of any size. A parse
logs its progress every tenth of the file.
"""
from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from bridges.sumo import rows as rowfiles
from bridges.sumo.scenario import check_file, open_maybe_gz
from bridges.sumo.snapshot import PERSON_KEY, Snapshot
from cosim.protocol import PERSON_CLASS
from cosim.errors import InputFileError

log = logging.getLogger("sumo.fcd")

VALUES = ("x", "y", "z", "angle", "speed", "slope", "acceleration")  # columns of FcdColumns.values
ROW_ARRAYS = {"vid": ("<i4", 0), "vtype": ("<i4", 0), "values": ("<f8", len(VALUES)), "signals": ("<i4", 0)}


@dataclass
class FcdColumns:
    """A whole trace: row r is one vehicle at one timestep; timestep k is rows offsets[k]:offsets[k+1]."""

    times_ns: np.ndarray  # (T,) int64, strictly increasing
    offsets: np.ndarray  # (T+1,) int64
    vid: np.ndarray  # (N,) int32 index into ids
    vtype: np.ndarray  # (N,) int32 index into types
    values: np.ndarray  # (N, 7) float64, VALUES; acceleration 0 where the timestep lacks it
    has_accel: np.ndarray  # (T,) bool: every vehicle of the timestep has an acceleration
    ids: np.ndarray  # (I,) str
    types: np.ndarray  # (Y,) str
    signals: np.ndarray  # (N,) int32, 0 where the trace has none
    persons: np.ndarray  # (T,) int32: the timestep's last rows that are persons

    def __len__(self) -> int:
        return len(self.times_ns)

    @property
    def rows(self) -> int:
        return len(self.vid)

    def snapshot(self, k: int) -> Snapshot:
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        v = self.values[a:b]
        persons = int(self.persons[k])
        return Snapshot(int(self.times_ns[k]), self.ids[self.vid[a:b]].tolist(), self.types[self.vtype[a:b]].tolist(),
                        v[:, 0], v[:, 1], v[:, 2], v[:, 3], v[:, 4], v[:, 5], v[:, 6] if self.has_accel[k] else None,
                        persons=persons, signals=self.signals[a:b],
                        classes=None if not persons else [""] * (b - a - persons) + [PERSON_CLASS] * persons)

    def release_before(self, k: int) -> None:
        """The rows of timesteps before ``k`` are not needed now (memory-mapped columns let them go)."""
        rows = int(self.offsets[max(min(k, len(self)), 0)])
        for name in ROW_ARRAYS:
            rowfiles.release(getattr(self, name), rows)

    def index_at(self, sim_ns: int) -> int:
        """The last timestep at or before ``sim_ns`` (the first one if ``sim_ns`` is earlier)."""
        return max(int(np.searchsorted(self.times_ns, sim_ns, side="right")) - 1, 0)

    def check(self) -> str | None:
        """What is inconsistent (for data read back from a cache file), or None."""
        t, n = len(self.times_ns), len(self.vid)
        expect = {"times_ns": (np.int64, 1), "offsets": (np.int64, 1), "vid": (np.int32, 1), "vtype": (np.int32, 1),
                  "values": (np.float64, 2), "has_accel": (np.bool_, 1), "signals": (np.int32, 1),
                  "persons": (np.int32, 1)}
        for name, (dtype, ndim) in expect.items():
            arr = getattr(self, name)
            if arr.dtype != dtype or arr.ndim != ndim:
                return f"{name} has dtype {arr.dtype} and {arr.ndim} dimension(s), expected {np.dtype(dtype)}/{ndim}"
        for name in ("ids", "types"):
            arr = getattr(self, name)
            if arr.dtype.kind != "U" or arr.ndim != 1:
                return f"{name} is not a 1-d string array"
        if t == 0:
            return "no timestep"
        if self.offsets.shape != (t + 1,) or self.has_accel.shape != (t,) or self.vtype.shape != (n,) \
                or self.values.shape != (n, len(VALUES)) or self.signals.shape != (n,) or self.persons.shape != (t,):
            return "column lengths disagree"
        if np.any(self.persons < 0) or np.any(self.persons > np.diff(self.offsets)):
            return "more persons than rows in a timestep"
        if self.offsets[0] != 0 or self.offsets[-1] != n or np.any(np.diff(self.offsets) < 0):
            return "time index (offsets) is not a partition of the rows"
        if t > 1 and np.any(np.diff(self.times_ns) <= 0):
            return "times do not increase"
        for a in rowfiles.chunks(n):  # a chunk at a time, let go of after: a mapped trace stays unread
            b = min(a + rowfiles.CHUNK_ROWS, n)
            vid, vtype = self.vid[a:b], self.vtype[a:b]
            if vid.min() < 0 or vid.max() >= len(self.ids) or vtype.min() < 0 or vtype.max() >= len(self.types):
                return "vehicle id or type index out of range"
            if not np.isfinite(self.values[a:b]).all():
                return "non-finite values"
            if self.signals[a:b].min() < 0 or self.signals[a:b].max() >= 1 << 16:
                return "signals out of range"
            for name in ROW_ARRAYS:
                rowfiles.release(getattr(self, name), b)
        return None


class _Builder:
    """Collects parsed timesteps: the row columns in memory (a numpy block per timestep), or, with a
    ``folder``, on disk a timestep at a time (bounded memory)."""

    def __init__(self, name: str, folder: Path | None = None) -> None:
        self.name = name
        self.folder = folder
        self.times: list[int] = []
        self.counts: list[int] = []
        self.columns: dict[str, list[np.ndarray] | rowfiles.RowWriter] = {
            k: rowfiles.RowWriter(folder, k, dtype, width) if folder is not None else []
            for k, (dtype, width) in ROW_ARRAYS.items()}
        self.persons: list[int] = []
        self.has_accel: list[bool] = []
        self.ids: dict[str, int] = {}
        self.types: dict[str, int] = {}

    def timestep(self, el: ET.Element) -> None:
        name = self.name
        t = el.get("time")
        try:
            sim_ns = int(round(float(t) * 1e9))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputFileError(f"FCD trace {name!r}: <timestep> has time={t!r}, expected seconds") from None
        if self.times and sim_ns <= self.times[-1]:
            raise InputFileError(f"FCD trace {name!r}: timestep {sim_ns / 1e9:.3f} s does not "
                                 f"come after {self.times[-1] / 1e9:.3f} s")
        ids, types = self.ids, self.types
        rows: list[tuple[float, ...]] = []
        vid: list[int] = []
        vtype: list[int] = []
        signals: list[int] = []
        all_accel = True
        persons = [v for v in el if v.tag == "person"]
        for v in [*(v for v in el if v.tag == "vehicle"), *persons]:
            a = v.attrib
            get = a.get
            key = get("id")
            if not key:
                raise InputFileError(f"FCD trace {name!r}: timestep {t}: a <{v.tag}> has no id")
            acc = get("acceleration")
            try:
                rows.append((float(a["x"]), float(a["y"]), float(get("z", 0.0)), float(a["angle"]),
                             float(a["speed"]), float(get("slope", 0.0)), 0.0 if acc is None else float(acc)))
                signals.append(int(get("signals", 0)))
            except KeyError as exc:
                raise InputFileError(f"FCD trace {name!r}: timestep {t}: {v.tag} {key!r} lacks attribute "
                                     f"{exc.args[0]!r}") from None
            except ValueError as exc:
                raise InputFileError(f"FCD trace {name!r}: timestep {t}: {v.tag} {key!r}: {exc}") from None
            if not 0 <= signals[-1] < 1 << 16:
                raise InputFileError(f"FCD trace {name!r}: timestep {t}: {v.tag} {key!r}: signals "
                                     f"{signals[-1]} outside [0, 65535]")
            all_accel = all_accel and (acc is not None or v.tag == "person")
            if v.tag == "person":
                key = PERSON_KEY + key
            i = ids.get(key)
            if i is None:
                i = ids[key] = len(ids)
            vid.append(i)
            typ = get("type", "")
            j = types.get(typ)
            if j is None:
                j = types[typ] = len(types)
            vtype.append(j)
        block = np.array(rows, dtype=np.float64).reshape(-1, len(VALUES))
        if not np.isfinite(block).all():
            raise InputFileError(f"FCD trace {name!r}: timestep {t}: non-finite coordinate or speed")
        self.times.append(sim_ns)
        self.counts.append(len(block))
        for k, col in (("values", block), ("vid", np.array(vid, dtype=np.int32)),
                       ("vtype", np.array(vtype, dtype=np.int32)), ("signals", np.array(signals, dtype=np.int32))):
            self.columns[k].append(col)
        self.persons.append(len(persons))
        self.has_accel.append(all_accel and bool(rows))

    def result(self) -> FcdColumns:
        if not self.times:
            raise InputFileError(f"FCD trace {self.name!r} has no <timestep>")
        offsets = np.zeros(len(self.counts) + 1, dtype=np.int64)
        np.cumsum(self.counts, out=offsets[1:])
        rows: dict[str, np.ndarray] = {}
        for k, col in self.columns.items():
            if isinstance(col, rowfiles.RowWriter):
                col.finish()
                rows[k] = rowfiles.load(col.path, mapped=True)
            else:
                dtype, width = ROW_ARRAYS[k]
                rows[k] = np.concatenate(col).astype(dtype, copy=False) if col else \
                    np.zeros((0, width) if width else 0, dtype=dtype)
        return FcdColumns(np.array(self.times, dtype=np.int64), offsets, rows["vid"], rows["vtype"], rows["values"],
                          np.array(self.has_accel, dtype=bool),
                          _strings([k.removeprefix(PERSON_KEY) for k in self.ids]), _strings(list(self.types)),
                          rows["signals"], np.array(self.persons, dtype=np.int32))


def _strings(names: list[str]) -> np.ndarray:
    return np.array(names, dtype=str) if names else np.zeros(0, dtype="<U1")


def parse_fcd(path: Path, folder: Path | None = None) -> FcdColumns:
    """Parse a whole trace (times must increase); with ``folder``, its row columns go there, a
    timestep at a time, and come back memory-mapped. Raises InputFileError naming the file and the
    problem."""
    check_file(path, "FCD trace")
    name = str(path)
    builder = _Builder(name, folder)
    size = max(path.stat().st_size, 1)
    with open_maybe_gz(path) as fh:
        raw = getattr(fh, "fileobj", None) or fh  # progress: how far into the (compressed) file
        it = ET.iterparse(fh, events=("start", "end"))
        t0, next_report = time.monotonic(), 0.1
        try:
            _, root = next(it)
            if root.tag != "fcd-export":
                raise InputFileError(f"FCD trace {name!r}: root element is <{root.tag}>, expected <fcd-export>")
            for ev, el in it:
                if ev == "end" and el.tag == "timestep":
                    builder.timestep(el)
                    root.clear()
                    if len(builder.times) % 64 == 0 and raw.tell() / size >= next_report:
                        log.info("FCD trace %s: %.0f%% read, %d timesteps, %d rows, %.0f s", path.name,
                                 100 * raw.tell() / size, len(builder.times), sum(builder.counts), time.monotonic() - t0)
                        next_report = raw.tell() / size + 0.1
        except ET.ParseError as exc:
            raise InputFileError(f"FCD trace {name!r} is not well-formed XML: {exc}") from None
        except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt .gz
            raise InputFileError(f"FCD trace {name!r} cannot be read: {exc}") from None
        except StopIteration:
            pass
    return builder.result()


def read_fcd(path: Path) -> Iterator[Snapshot]:
    """One Snapshot per <timestep>, in file order."""
    cols = parse_fcd(path)
    return (cols.snapshot(k) for k in range(len(cols)))
