"""Everything a report needs from one session folder, loaded in one pass over its recording.

Streams that a session did not have are simply empty; the report shows them as absent.
"""
from __future__ import annotations

import json
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recording import container
from recording.errors import RecordingError
from recording.reader import Recording, decode
from cosim import protocol as p
from cosim.errors import ProtocolError

SNAPSHOT_EVERY_NS = 100_000_000  # keep vehicle positions at most every 0.1 s of session time
MAX_EVENTS = 100_000


MAX_ROWS = 20_000  # rows kept per stream for plots; a longer session is thinned evenly (every 2nd, 4th, ...)
MAX_SNAPSHOTS = 600


class _Thinning:
    """Keeps every ``stride``-th item offered; the stride doubles (and the kept items are halved)
    each time more than the maximum are kept, so what is kept stays evenly spread over the session."""

    stride = 1
    offered = 0

    def wants(self) -> bool:
        """Whether the next item offered will be kept (decode it only then)."""
        return self.offered % self.stride == 0

    def skip(self) -> None:
        """An item offered but not wanted (it was not even decoded)."""
        self.offered += 1

    def _take(self) -> bool:
        keep = self.wants()
        self.offered += 1
        return keep


class Columns(_Thinning):
    """Rows of named scalars, one array per column, for plotting: at most MAX_ROWS kept, so an
    hour-long session costs what a few minutes do."""

    def __init__(self, *names: str, max_rows: int = MAX_ROWS) -> None:
        self.names = names
        self.max_rows = max_rows
        self.cols = [array("d") for _ in names]

    def add(self, *values: Any) -> None:
        if not self._take():
            return
        for col, v in zip(self.cols, values):
            col.append(float(v))
        if len(self.cols[0]) > self.max_rows:
            self.cols = [array("d", c[::2]) for c in self.cols]
            self.stride *= 2

    def __len__(self) -> int:
        return len(self.cols[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {n: np.frombuffer(c, dtype=np.float64).copy() if c else np.zeros(0) for n, c in zip(self.names, self.cols)}


class Thinned(_Thinning, list):
    """A list that keeps at most ``max_items``, thinned like Columns."""

    def __init__(self, max_items: int) -> None:
        super().__init__()
        self.max_items = max_items

    def offer(self, item: Any) -> None:
        if self._take():
            self.append(item)
            if len(self) > self.max_items:
                self[:] = self[::2]
                self.stride *= 2


@dataclass
class Snapshot:
    t_ns: int
    handles: np.ndarray
    position_cm: np.ndarray  # (n, 3)


@dataclass
class SessionData:
    folder: Path
    summary: dict[str, Any]
    config_text: str | None
    recording: Recording | None = None
    recording_problem: str | None = None
    by_topic: dict[str, int] = field(default_factory=dict)
    ticks: Columns = field(default_factory=lambda: Columns("frame", "t_ns", "sent_ns", "log_ns"))
    status: Thinned = field(default_factory=lambda: Thinned(MAX_ROWS))  # (log_ns, Status)
    client_events: list[p.ClientEvent] = field(default_factory=list)
    frames: dict[str, Columns] = field(default_factory=dict)
    vehicles: Columns = field(default_factory=lambda: Columns("t_ns", "sim_ns", "count"))
    snapshots: Thinned = field(default_factory=lambda: Thinned(MAX_SNAPSHOTS))
    vehicle_ids: dict[int, tuple[str, str]] = field(default_factory=dict)
    poses: dict[str, Columns] = field(default_factory=dict)
    audio: Columns = field(default_factory=lambda: Columns("t_ns", "scheduled_ns", "actual_ns", "late"))
    residuals: Columns = field(default_factory=lambda: Columns("t_ns", "frame", "base_frame", "log_ns"))
    events: list[p.Event] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.summary.get("session", {}).get("name") or self.folder.name)

    @property
    def rate_hz(self) -> float:
        return float(self.summary.get("session", {}).get("rate_hz") or 90.0)


def load(folder: str | Path) -> SessionData:
    folder = Path(folder)
    summary_path = folder / "summary.json"
    try:
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{str(summary_path)!r}: unreadable summary ({exc})") from None
    if not isinstance(summary, dict):
        raise RecordingError(f"{str(summary_path)!r}: not a JSON object")
    cfg = folder / "config.yaml"
    data = SessionData(folder, summary, cfg.read_text(errors="replace") if cfg.is_file() else None)
    rec_path = _recording_path(folder, summary)
    if rec_path is None:
        data.recording_problem = "no recording in this session (no recorder component)"
        return data
    try:
        data.recording = Recording.open(rec_path)
    except RecordingError as exc:
        data.recording_problem = str(exc)
        return data
    _read_streams(data)
    return data


def _recording_path(folder: Path, summary: dict[str, Any]) -> Path | None:
    rel = (summary.get("recording") or {}).get("path") if isinstance(summary.get("recording"), dict) else None
    for cand in ([folder / rel] if isinstance(rel, str) else []) + [folder / "session.mcap"]:
        if cand.is_file():
            return cand
    found = sorted(folder.glob("*.mcap"))
    return found[0] if found else None


def _read_streams(d: SessionData) -> None:
    """One pass over the recording; a record is decoded only if the stream it feeds keeps it."""
    assert d.recording is not None
    bus, broadcast = p.bus_decoder(), p.broadcast_decoder()
    last_snapshot = -SNAPSHOT_EVERY_NS
    pose_gate = Columns("kept")  # poses are thinned before decoding, whatever their device
    for r in d.recording.records():
        topic = r.topic.decode(errors="replace")
        d.by_topic[topic] = d.by_topic.get(topic, 0) + 1
        gate = pose_gate if r.topic == p.TOPIC_POSE else d.ticks if r.topic == p.TOPIC_TICK else None
        if gate is not None and not gate.wants():
            gate.skip()
            continue
        if r.topic == p.TOPIC_POSE:
            pose_gate.add(0.0)
        try:
            m = decode(r, broadcast if r.topic in container.BROADCAST_TOPICS else bus)
        except ProtocolError:
            d.recording.bad_records += 1
            continue
        msg = m.msg
        if isinstance(msg, p.Tick):
            d.ticks.add(msg.frame, msg.t_ns, msg.sent_ns, m.log_ns)
        elif isinstance(msg, p.Status):
            d.status.offer((m.log_ns, msg))
        elif isinstance(msg, p.ClientEvent):
            d.client_events.append(msg)
        elif isinstance(msg, p.FrameReport):
            cols = d.frames.setdefault(msg.src, Columns("frame", "t_ns", "recv_ns", "present_ns", "photon_ns",
                                                        "pose_sample_ns", "residual_frame"))
            cols.add(msg.frame, msg.t_ns, msg.recv_ns, msg.present_ns, msg.photon_ns,
                     np.nan if msg.pose_sample_ns is None else msg.pose_sample_ns,
                     np.nan if msg.residual_frame is None else msg.residual_frame)
        elif isinstance(msg, p.Vehicles):
            pos = m.arrays.get("position_cm")
            d.vehicles.add(msg.t_ns, msg.sim_ns, 0 if pos is None else len(pos))
            if pos is not None and msg.t_ns - last_snapshot >= SNAPSHOT_EVERY_NS and pos.ndim == 2 and pos.shape[1] >= 2:
                last_snapshot = msg.t_ns
                if d.snapshots.wants():
                    handles = m.arrays.get("handle", np.arange(len(pos)))
                    d.snapshots.offer(Snapshot(msg.t_ns, np.array(handles), np.array(pos, dtype=np.float64)))
                else:
                    d.snapshots.skip()
        elif isinstance(msg, p.VehicleIds):
            try:
                table = p.vehicle_id_table(msg, m.arrays)
            except ProtocolError:
                continue  # recorded without its arrays (omit_payloads): the previous table stays
            d.vehicle_ids = dict(zip(table.handles, zip(table.ids, table.types)))
        elif isinstance(msg, p.Pose):
            cols = d.poses.setdefault(msg.device, Columns("t_ns", "sample_ns", "x", "y", "z", "qw", "qx", "qy", "qz"))
            cols.add(msg.t_ns, msg.sample_ns, *msg.position, *msg.orientation)
        elif isinstance(msg, p.AudioOnset):
            d.audio.add(msg.t_ns, msg.scheduled_ns, msg.actual_ns, msg.late)
        elif isinstance(msg, p.Residuals):
            d.residuals.add(msg.t_ns, msg.frame, msg.base_frame, m.log_ns)
        elif isinstance(msg, p.Event) and len(d.events) < MAX_EVENTS:
            d.events.append(msg)
