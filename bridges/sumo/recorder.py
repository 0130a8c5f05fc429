"""Records a run as an FCD trace in SUMO's format (readable by bridges.sumo.fcd and SUMO's tools)."""
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
        accel = snap.accel
        for i, vid in enumerate(snap.ids):
            extra = f' acceleration="{accel[i]:.{p}f}"' if accel is not None else ""
            lines.append(
                f'        <vehicle id={quoteattr(vid)} x="{snap.x[i]:.{p}f}" y="{snap.y[i]:.{p}f}" '
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
