"""Pose traces: a documented text format (docs/pose.md), its strict reader and writer, and replay.

A trace is UTF-8 CSV::

    # cosim pose trace v1
    sample_ns,photon_ns,device,device_class,serial,px,py,pz,qw,qx,qy,qz,vx,vy,vz,wx,wy,wz
    1000000,,hmd,hmd,LHR-1234,0.0,1.7,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0

Times are int64 ns of session time; floats are written in Python's shortest round-trip form, so
writing what was read reproduces the file byte for byte.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

from cosim import quat
from bridges.pose.config import TraceSettings
from cosim import protocol as p
from cosim.errors import InputFileError

MAGIC = "# cosim pose trace v1"
COLUMNS = ("sample_ns", "photon_ns", "device", "device_class", "serial",
           "px", "py", "pz", "qw", "qx", "qy", "qz", "vx", "vy", "vz", "wx", "wy", "wz")
MAX_NAME = 128
QUAT_TOLERANCE = 1e-3
INT64 = (-(2**63), 2**63 - 1)


def _int(text: str, what: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputFileError(f"{where}: {what} must be an integer number of ns (got {text!r})") from None
    if not INT64[0] <= value <= INT64[1]:
        raise InputFileError(f"{where}: {what} is outside int64 (got {text!r})")
    return value


def _float(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputFileError(f"{where}: {what} must be a number (got {text!r})") from None
    if not math.isfinite(value):
        raise InputFileError(f"{where}: {what} must be finite (got {text!r})")
    return value


def _name(text: str, what: str, where: str, required: bool = False) -> str:
    if required and not text:
        raise InputFileError(f"{where}: {what} must not be empty")
    if len(text) > MAX_NAME:
        raise InputFileError(f"{where}: {what} is longer than {MAX_NAME} characters (got {text[:40]!r}...)")
    return text


def parse_row(row: list[str], where: str) -> p.Pose:
    if len(row) != len(COLUMNS):
        raise InputFileError(f"{where}: expected {len(COLUMNS)} columns ({','.join(COLUMNS)}), got {len(row)}")
    f = [_float(row[i], COLUMNS[i], where) for i in range(5, len(COLUMNS))]
    q = (f[3], f[4], f[5], f[6])
    n = quat.norm(q)
    if abs(n - 1.0) > QUAT_TOLERANCE:
        raise InputFileError(f"{where}: quaternion (qw,qx,qy,qz) must have unit length (got norm {n:.6g})")
    return p.Pose(sample_ns=_int(row[0], "sample_ns", where),
                  photon_ns=None if row[1] == "" else _int(row[1], "photon_ns", where),
                  device=_name(row[2], "device", where, required=True),
                  device_class=_name(row[3], "device_class", where),
                  serial=_name(row[4], "serial", where),
                  position=(f[0], f[1], f[2]), orientation=q,
                  velocity=(f[7], f[8], f[9]), angular_velocity=(f[10], f[11], f[12]))


def iter_trace(path: Path) -> Iterator[p.Pose]:
    """Yield the samples of a trace; raises InputFileError naming file and line on any bad input."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"pose trace {str(path)!r} does not exist")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            first = fh.readline().rstrip("\r\n")
            if first != MAGIC:
                raise InputFileError(f"{path}:1: not a pose trace: the first line must be {MAGIC!r} (got {first[:60]!r})")
            reader = csv.reader(fh, strict=True)
            header = next(reader, None)
            if header is None or tuple(header) != COLUMNS:
                raise InputFileError(f"{path}:2: the header must be {','.join(COLUMNS)!r} (got {header!r})")
            last = INT64[0]
            for row in reader:
                where = f"{path}:{reader.line_num + 1}"
                if not row or row[0].startswith("#"):
                    continue
                pose = parse_row(row, where)
                if pose.sample_ns < last:
                    raise InputFileError(f"{where}: sample_ns goes backwards ({pose.sample_ns} after {last}); "
                                         f"a trace is sorted by sample time")
                last = pose.sample_ns
                yield pose
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text ({exc})") from None
    except csv.Error as exc:
        raise InputFileError(f"{path}: malformed CSV ({exc})") from None
    except OSError as exc:
        raise InputFileError(f"pose trace {str(path)!r} cannot be read: {exc}") from None


@dataclass(frozen=True)
class TraceInfo:
    samples: int
    devices: tuple[str, ...]
    first_ns: int
    last_ns: int
    period_ns: int  # typical spacing of distinct sample times


def check_trace(path: Path) -> TraceInfo:
    """Read a whole trace once (validating every line) and describe it."""
    n, devices, times, first, last = 0, {}, 0, None, None
    for pose in iter_trace(path):
        n += 1
        devices.setdefault(pose.device, None)
        if pose.sample_ns != last:
            times += 1
        first = pose.sample_ns if first is None else first
        last = pose.sample_ns
    if first is None or last is None:
        raise InputFileError(f"{path}: the trace has no samples")
    period = (last - first) // (times - 1) if times > 1 else 1_000_000
    return TraceInfo(n, tuple(devices), first, last, max(period, 1))


class TraceWriter:
    """Appends samples to a new trace file; ``close`` flushes. Usable as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.samples = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: IO[str] = open(self.path, "x", newline="", encoding="utf-8")
        except FileExistsError:
            raise InputFileError(f"trace {str(self.path)!r} already exists; record into a new file") from None
        except OSError as exc:
            raise InputFileError(f"trace {str(self.path)!r} cannot be created: {exc}") from None
        self._csv = csv.writer(self._fh, lineterminator="\n")
        self._fh.write(MAGIC + "\n")
        self._csv.writerow(COLUMNS)

    def write(self, pose: p.Pose) -> None:
        floats = (*pose.position, *pose.orientation, *pose.velocity, *pose.angular_velocity)
        self._csv.writerow((pose.sample_ns, "" if pose.photon_ns is None else pose.photon_ns, pose.device,
                            pose.device_class, pose.serial, *(repr(float(v)) for v in floats)))
        self.samples += 1

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TraceSource:
    """Replays a trace: each sample is published when session time reaches its (shifted) sample
    time plus the injected latency. ``time_base: rebase`` shifts the first sample to replay start;
    ``session`` keeps the recorded session times."""

    kind = "trace"

    def __init__(self, path: Path, settings: TraceSettings, latency_ns: int = 0) -> None:
        self.path = Path(path)
        self.settings = settings
        self.latency_ns = latency_ns
        self.info = check_trace(self.path)
        self.shift_ns = 0
        self.loops = 0
        self.late = 0
        self.published = 0
        self._iter: Iterator[p.Pose] | None = None
        self._next: p.Pose | None = None

    def start(self, now_ns: int) -> None:
        self.shift_ns = now_ns - self.info.first_ns if self.settings.time_base == "rebase" else 0
        self._rewind()

    def _rewind(self) -> None:
        self._iter = iter_trace(self.path)
        self._next = next(self._iter, None)

    def next_due_ns(self) -> int | None:
        if self._next is None:
            return None
        return self._next.sample_ns + self.shift_ns + self.latency_ns

    def read(self, now_ns: int) -> list[p.Pose]:
        out = []
        while (due := self.next_due_ns()) is not None and due <= now_ns:
            pose = self._next
            assert pose is not None and self._iter is not None
            if now_ns - due > 1_000_000:
                self.late += 1
            pose.sample_ns += self.shift_ns
            if pose.photon_ns is not None:
                pose.photon_ns += self.shift_ns
            out.append(pose)
            self._next = next(self._iter, None)
            if self._next is None and self.settings.loop:
                self.loops += 1
                self.shift_ns += self.info.last_ns - self.info.first_ns + self.info.period_ns
                self._rewind()
        self.published += len(out)
        return out

    def stats(self) -> dict[str, Any]:
        return {"path": str(self.path), "trace_samples": self.info.samples, "devices": list(self.info.devices),
                "replayed": self.published, "late_over_1ms": self.late, "loops": self.loops,
                "time_base": self.settings.time_base}

    def events(self) -> list[p.Event]:
        return []

    def close(self) -> None:
        if self._iter is not None:
            self._iter.close()  # type: ignore[attr-defined]
