"""``python -m recording.export SESSION [--format parquet|csv] [--out DIR]``: the recording as tables.

One table per stream, written in bounded memory (batches of BATCH rows): ``ticks``, ``poses``,
``vehicles`` (one row per vehicle or person per frame, its SUMO id, type and class joined from the
id table, its signal bits), ``traffic_lights`` (one row per light per TRAFFIC_LIGHTS table), ``events``, ``frames`` (what clients displayed), ``audio`` (onsets), ``residuals`` (headers),
``session`` (START, STATUS, CLIENT, END). Every row has ``frame``, ``session_time_ns`` (the time
the row is about, session time), ``sim_time_ns`` (SUMO's time of that frame, where a vehicle table
of the frame was recorded; empty otherwise) and ``recorded_ns`` (when the recorder received it);
units are in the column names. ``export.json`` lists each table's rows and the messages they came
from (rows equal messages for every table but ``vehicles`` and ``traffic_lights``, whose
``messages`` are the tables they came from).

Examples:
  python -m recording.export sessions/demo-20261205-101500
  python -m recording.export sessions/demo-20261205-101500 --format csv --out /tmp/tables
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cosim import protocol as p
from recording.vehicles import VehicleNames
from cosim.errors import ProtocolError
from recording.errors import RecordingError
from recording.reader import Decoded, Recording

BATCH = 20_000

I64, F64, STR, BOOL = pa.int64(), pa.float64(), pa.string(), pa.bool_()
COMMON = [("frame", I64), ("session_time_ns", I64), ("sim_time_ns", I64), ("recorded_ns", I64), ("src", STR)]
TABLES: dict[str, list[tuple[str, pa.DataType]]] = {
    "ticks": [("sent_ns", I64), ("lateness_us", F64)],
    "poses": [("device", STR), ("device_class", STR), ("x_m", F64), ("y_m", F64), ("z_m", F64), ("qw", F64),
              ("qx", F64), ("qy", F64), ("qz", F64), ("vx_m_s", F64), ("vy_m_s", F64), ("vz_m_s", F64),
              ("photon_ns", I64)],
    "vehicles": [("handle", I64), ("vehicle_id", STR), ("vehicle_type", STR), ("vehicle_class", STR), ("x_cm", F64),
                 ("y_cm", F64), ("z_cm", F64), ("yaw_deg", F64), ("pitch_deg", F64), ("speed_cm_s", F64),
                 ("signals", I64)],
    "traffic_lights": [("lights_version", I64), ("tls_id", STR), ("state", STR)],
    "events": [("kind", STR), ("subject", STR), ("data_json", STR)],
    "frames": [("recv_ns", I64), ("present_ns", I64), ("photon_ns", I64), ("pose_sample_ns", I64),
               ("residual_frame", I64), ("motion_to_photon_ms", F64)],
    "audio": [("event_kind", STR), ("scheduled_ns", I64), ("actual_ns", I64), ("onset_error_us", F64), ("late", BOOL)],
    "residuals": [("asset", STR), ("base_frame", I64)],
    "session": [("type", STR), ("json", STR)],
}


def schema(table: str) -> pa.Schema:
    return pa.schema(COMMON + TABLES[table])


class Sink:
    """One table's file, fed in batches."""

    def __init__(self, path: Path, table: str, fmt: str) -> None:
        self.path, self.schema, self.fmt = path, schema(table), fmt
        self.rows = self.messages = 0
        self._cols: dict[str, list] = {name: [] for name in self.schema.names}
        self._writer: Any = None

    def add(self, row: dict[str, Any]) -> None:
        for name, col in self._cols.items():
            col.append(row.get(name))
        if len(self._cols["frame"]) >= BATCH:
            self.flush()

    def flush(self) -> None:
        n = len(self._cols["frame"])
        if not n and self._writer is not None:
            return
        batch = pa.record_batch([pa.array(self._cols[f.name], type=f.type) for f in self.schema], schema=self.schema)
        if self._writer is None:
            self._writer = (pq.ParquetWriter(self.path, self.schema) if self.fmt == "parquet"
                            else pacsv.CSVWriter(self.path, self.schema))
        self._writer.write_batch(batch)
        self.rows += n
        self._cols = {name: [] for name in self.schema.names}

    def close(self) -> None:
        self.flush()
        self._writer.close()


def _sim_times(rec: Recording) -> dict[int, int]:
    """frame -> SUMO time of the vehicle table shown at that frame (one int per frame)."""
    out: dict[int, int] = {}
    for d in rec.messages([p.TOPIC_VEHICLES]):
        out.setdefault(d.msg.frame, d.msg.sim_ns)
    return out


def rows(d: Decoded, names: VehicleNames) -> Iterator[tuple[str, dict[str, Any]]]:
    """The (table, row) pairs of one recorded message (without the common columns' sim time)."""
    m = d.msg
    base = {"frame": m.frame, "session_time_ns": m.t_ns, "recorded_ns": d.log_ns, "src": m.src}
    if isinstance(m, p.Tick):
        yield "ticks", {**base, "sent_ns": m.sent_ns, "lateness_us": (m.sent_ns - m.t_ns) / 1e3}
    elif isinstance(m, p.Pose):
        (x, y, z), (qw, qx, qy, qz), (vx, vy, vz) = m.position, m.orientation, m.velocity
        yield "poses", {**base, "session_time_ns": m.sample_ns, "device": m.device, "device_class": m.device_class,
                        "x_m": x, "y_m": y, "z_m": z, "qw": qw, "qx": qx, "qy": qy, "qz": qz,
                        "vx_m_s": vx, "vy_m_s": vy, "vz_m_s": vz, "photon_ns": m.photon_ns}
    elif isinstance(m, p.VehicleIds):
        names.on_ids(m, d.arrays)
    elif isinstance(m, p.Vehicles):
        a = d.arrays
        n = len(a.get("handle", ()))
        pos = a.get("position_cm", np.zeros((n, 3)))
        yaw, pitch, speed = (a.get(k, np.full(n, np.nan)) for k in ("yaw_deg", "pitch_deg", "speed_cms"))
        signals = a.get("signals")
        for i, h in enumerate(a.get("handle", np.zeros(0, "<u4")).tolist()):
            info = names.get(m.ids_version, h)
            yield "vehicles", {**base, "sim_time_ns": m.sim_ns, "handle": h, "vehicle_id": info and info.id,
                               "vehicle_type": info and info.type, "vehicle_class": info and info.vclass,
                               "x_cm": float(pos[i, 0]), "y_cm": float(pos[i, 1]), "z_cm": float(pos[i, 2]),
                               "yaw_deg": float(yaw[i]), "pitch_deg": float(pitch[i]), "speed_cm_s": float(speed[i]),
                               "signals": None if signals is None else int(signals[i])}
    elif isinstance(m, p.TrafficLights):
        try:
            lights = p.traffic_light_table(m, d.arrays)
        except ProtocolError:
            lights = {}  # recorded without its arrays
        for tls, state in lights.items():
            yield "traffic_lights", {**base, "sim_time_ns": m.sim_ns, "lights_version": m.lights_version,
                                     "tls_id": tls, "state": state}
    elif isinstance(m, p.Event):
        yield "events", {**base, "session_time_ns": m.at_ns if m.at_ns is not None else m.t_ns,
                         **({"sim_time_ns": m.sim_ns} if m.sim_ns is not None else {}), "kind": m.kind,
                         "subject": m.subject, "data_json": json.dumps(m.data, sort_keys=True)}
    elif isinstance(m, p.FrameReport):
        yield "frames", {**base, "recv_ns": m.recv_ns, "present_ns": m.present_ns, "photon_ns": m.photon_ns,
                         "pose_sample_ns": m.pose_sample_ns, "residual_frame": m.residual_frame,
                         "motion_to_photon_ms": None if m.pose_sample_ns is None else (m.photon_ns - m.pose_sample_ns) / 1e6}
    elif isinstance(m, p.AudioOnset):
        yield "audio", {**base, "session_time_ns": m.actual_ns, "event_kind": m.event_kind, "scheduled_ns": m.scheduled_ns,
                        "actual_ns": m.actual_ns, "onset_error_us": (m.actual_ns - m.scheduled_ns) / 1e3, "late": m.late}
    elif isinstance(m, p.Residuals):
        yield "residuals", {**base, "asset": m.asset, "base_frame": m.base_frame}
    elif isinstance(m, (p.Start, p.Status, p.ClientEvent, p.End)):
        yield "session", {**base, "type": type(m).__name__.upper(), "json": msgspec.json.encode(m).decode()}


def export(source: str | Path, out: Path, fmt: str = "parquet", progress: Callable[[int], None] | None = None) -> dict:
    """Write the tables; returns the manifest (also written as ``out/export.json``)."""
    rec = Recording.open(source)
    out.mkdir(parents=True, exist_ok=True)
    sim = _sim_times(rec)
    sinks = {t: Sink(out / f"{t}.{fmt}", t, fmt) for t in TABLES}
    names = VehicleNames()
    count = 0
    for d in rec.messages():
        seen: set[str] = set()
        for table, row in rows(d, names):
            row.setdefault("sim_time_ns", sim.get(row["frame"]))
            sinks[table].add(row)
            seen.add(table)
        for table in seen:
            sinks[table].messages += 1
        count += 1
        if progress and count % 50_000 == 0:
            progress(count)
    for s in sinks.values():
        s.close()
    manifest = {"source": str(rec.path), "format": fmt, "complete": rec.complete, "bad_records": rec.bad_records,
                "tables": {t: {"file": s.path.name, "rows": s.rows, "messages": s.messages} for t, s in sinks.items()}}
    (out / "export.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recording.export", description=__doc__.splitlines()[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("session", help="a session folder (its session.mcap) or a .mcap file")
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="default: parquet")
    ap.add_argument("--out", default=None, help="folder for the tables (default: SESSION/export)")
    args = ap.parse_args(argv)
    src = Path(args.session)
    out = Path(args.out) if args.out else (src if src.is_dir() else src.parent) / "export"
    try:
        manifest = export(src, out, args.format,
                          progress=lambda n: print(f"export: {n} messages ...", file=sys.stderr, flush=True))
    except RecordingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the tables into {out}: {exc}", file=sys.stderr)
        return 2
    for table, t in manifest["tables"].items():
        print(f"{out / t['file']}: {t['rows']} rows from {t['messages']} messages")
    if not manifest["complete"]:
        print("note: the recording has no footer (a killed recorder): exported up to its last whole record",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
