"""Records a run as an FCD trace in SUMO's format (readable by bridges.sumo.fcd and SUMO's tools):
vehicles (with ``signals`` where the source has them, as ``--fcd-output.signals`` writes it), then persons."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO
from xml.sax.saxutils import quoteattr

from bridges.sumo.snapshot import Snapshot
from cosim.errors import InputFileError


class FcdRecorder:
    def __init__(self, path: Path, precision: int = 3) -> None:
        self.path = path
        self.precision = precision
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = path.open("wb")
        except OSError as exc:
            raise InputFileError(f"cannot write FCD recording {str(path)!r}: {exc}") from None
        self._fh: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3) if path.suffix == ".gz" else raw
        self._raw = raw
        self._fh.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<fcd-export>\n')
        self.steps = 0

    def write(self, snap: Snapshot) -> None:
        p = self.precision
        lines = [f'    <timestep time="{snap.sim_ns / 1e9:.3f}">']
        accel, signals = snap.accel, snap.signals
        first_person = len(snap) - snap.persons
        for i, vid in enumerate(snap.ids):
            tag = "vehicle" if i < first_person else "person"
            extra = f' acceleration="{accel[i]:.{p}f}"' if accel is not None and tag == "vehicle" else ""
            if signals is not None and tag == "vehicle":
                extra += f' signals="{int(signals[i])}"'
            lines.append(
                f'        <{tag} id={quoteattr(vid)} x="{snap.x[i]:.{p}f}" y="{snap.y[i]:.{p}f}" '
                f'z="{snap.z[i]:.{p}f}" angle="{snap.angle[i]:.{p}f}" type={quoteattr(snap.types[i])} '
                f'speed="{snap.speed[i]:.{p}f}" slope="{snap.slope[i]:.{p}f}"{extra}/>')
        lines.append("    </timestep>\n")
        self._fh.write("\n".join(lines).encode())
        self.steps += 1

    def close(self) -> None:
        if self._raw.closed:
            return
        self._fh.write(b"</fcd-export>\n")
        self._fh.close()
        self._raw.close()
