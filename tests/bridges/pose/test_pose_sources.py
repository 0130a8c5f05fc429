"""Synthetic motion, the trace format (exact round trip, hostile input) and trace replay."""
from __future__ import annotations

import math
from pathlib import Path

import msgspec
import pytest

from cosim import quat
from bridges.pose.config import Settings, SyntheticSettings, TraceSettings
from bridges.pose.sources import open_source
from bridges.pose.synthetic import SyntheticSource
from bridges.pose.trace import COLUMNS, MAGIC, TraceSource, TraceWriter, check_trace, iter_trace
from cosim.config import convert
from cosim.errors import ConfigError, InputFileError

MS = 1_000_000


def _drive(source, start_ns: int, end_ns: int) -> list:
    source.start(start_ns)
    out = []
    while (due := source.next_due_ns()) is not None and due <= end_ns:
        out.extend(source.read(due))
    return out


def test_quaternion_helpers_round_trip() -> None:
    q = quat.normalize((0.8, 0.1, -0.5, 0.3))
    assert quat.from_matrix(quat.to_matrix(q)) == pytest.approx(q, abs=1e-12)
    r = (0.3, -0.2, 0.9)
    assert quat.to_rotvec(quat.from_rotvec(r)) == pytest.approx(r, abs=1e-12)
    a, b = quat.IDENTITY, quat.axis_angle((0, 1, 0), 1.0)
    assert quat.slerp(a, b, 0.25) == pytest.approx(quat.axis_angle((0, 1, 0), 0.25), abs=1e-12)
    assert quat.angle_between(a, b) == pytest.approx(1.0)


def test_still_and_sine_yaw() -> None:
    still = _drive(SyntheticSource(SyntheticSettings(motion="still"), 1000.0), 0, 50 * MS)
    assert len(still) == 51 and {s.orientation for s in still} == {quat.IDENTITY}
    st = SyntheticSettings(motion="sine_yaw", amplitude_deg=30, frequency_hz=0.5)
    src = SyntheticSource(st, 1000.0)
    (pose,) = src.read(500 * MS)  # 1/4 period: yaw at its peak, yaw rate zero
    assert math.degrees(quat.angle_between(quat.IDENTITY, pose.orientation)) == pytest.approx(30.0)
    (pose,) = src.read(1000 * MS)  # zero crossing: yaw rate = A·2πf, about +Y (downward)
    assert pose.angular_velocity == pytest.approx((0.0, -math.radians(30) * math.pi, 0.0), abs=1e-6)


def test_head_motion_velocities_are_consistent_with_the_motion() -> None:
    src = SyntheticSource(SyntheticSettings(motion="head", seed=3, controllers=2), 1000.0)
    assert [d[0] for d in src.devices] == ["hmd", "controller0", "controller1"]
    a = src.read(1000 * MS)[0]
    b = src.read(1001 * MS)[0]
    r = quat.to_rotvec(quat.mul(b.orientation, quat.conj(a.orientation)))
    assert tuple(x / 1e-3 for x in r) == pytest.approx(a.angular_velocity, abs=0.01)
    v = tuple((pb - pa) / 1e-3 for pa, pb in zip(a.position, b.position))
    assert v == pytest.approx(a.velocity, abs=1e-3)
    speeds = [math.degrees(math.sqrt(sum(w * w for w in src.read(t * MS)[0].angular_velocity)))
              for t in range(0, 20_000, 50)]
    assert 20 < max(speeds) < 600  # a viewer looking around, not a spinning top


def test_injected_latency_makes_samples_stale() -> None:
    src = SyntheticSource(SyntheticSettings(), 1000.0, latency_ns=7 * MS)
    (pose,) = src.read(100 * MS)
    assert pose.sample_ns == 93 * MS
    assert pose.position == src.truth(0, 93 * MS)[0]


def test_rate_is_limited_to_1khz() -> None:
    with pytest.raises(ConfigError, match=r"pose.settings.rate_hz.*1001"):
        convert({"rate_hz": 1001}, Settings, "pose.settings")
    assert len(_drive(SyntheticSource(SyntheticSettings(), 1000.0), 0, 1000 * MS)) == 1001


def _record(path: Path, poses) -> None:
    with TraceWriter(path) as w:
        for pose in poses:
            w.write(pose)


def test_trace_record_replay_round_trip_is_exact(tmp_path: Path) -> None:
    poses = _drive(SyntheticSource(SyntheticSettings(controllers=1), 1000.0), 5 * MS, 300 * MS)
    poses[3].photon_ns = poses[3].sample_ns + 20 * MS
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    _record(first, poses)
    read = list(iter_trace(first))
    assert [msgspec.structs.asdict(x) for x in read] == [msgspec.structs.asdict(x) for x in poses]
    replay = TraceSource(first, TraceSettings(time_base="session"))
    _record(second, _drive(replay, 0, 10**12))
    assert second.read_bytes() == first.read_bytes()
    info = check_trace(first)
    assert info.samples == len(poses) and info.devices == ("hmd", "controller0") and info.period_ns == MS


def test_trace_replay_rebase_latency_and_loop(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _record(path, _drive(SyntheticSource(SyntheticSettings(), 100.0), 0, 90 * MS))  # 10 samples
    src = TraceSource(path, TraceSettings(loop=True), latency_ns=2 * MS)
    src.start(1000 * MS)
    assert src.next_due_ns() == 1002 * MS
    first = src.read(1002 * MS)
    assert [x.sample_ns for x in first] == [1000 * MS]
    got = src.read(1300 * MS)
    assert [x.sample_ns for x in got][:12] == [(1010 + 10 * i) * MS for i in range(12)]
    assert src.loops >= 2 and src.late > 0


def test_open_source_resolves_trace_paths(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _record(path, _drive(SyntheticSource(SyntheticSettings(), 100.0), 0, 20 * MS))
    src = open_source(Settings(source="trace", trace=TraceSettings(path=path.name)), root=tmp_path)
    assert isinstance(src, TraceSource)
    with pytest.raises(ConfigError, match=r"components.pose.settings.trace.path"):
        open_source(Settings(source="trace"), "components.pose.settings")


ROW = "1000,,hmd,hmd,S1,0.0,1.7,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0"
HEADER = ",".join(COLUMNS)


@pytest.mark.parametrize("text, message", [
    ("hello\n", r"bad.csv:1: not a pose trace"),
    (f"{MAGIC}\nsample_ns,device\n", r"bad.csv:2: the header must be"),
    (f"{MAGIC}\n{HEADER}\n", r"has no samples"),
    (f"{MAGIC}\n{HEADER}\n{ROW}\n1.5{ROW[4:]}\n", r"bad.csv:4: sample_ns must be an integer.*'1.5"),
    (f"{MAGIC}\n{HEADER}\n{ROW.replace(',1.7,', ',nan,')}\n", r"bad.csv:3: py must be finite"),
    (f"{MAGIC}\n{HEADER}\n{ROW.replace(',1.7,', ',x,')}\n", r"bad.csv:3: py must be a number \(got 'x'\)"),
    (f"{MAGIC}\n{HEADER}\n{ROW.replace(',1.0,0.0,0.0,0.0,', ',2.0,0.0,0.0,0.0,')}\n", r"unit length \(got norm 2"),
    (f"{MAGIC}\n{HEADER}\n{ROW}\n{ROW.replace('1000,', '999,', 1)}\n", r"bad.csv:4: sample_ns goes backwards"),
    (f"{MAGIC}\n{HEADER}\n{ROW},1\n", r"bad.csv:3: expected 18 columns"),
    (f"{MAGIC}\n{HEADER}\n{ROW.replace(',hmd,hmd,', ',,hmd,')}\n", r"bad.csv:3: device must not be empty"),
    (f"{MAGIC}\n{HEADER}\n{ROW.replace('1000,', '99999999999999999999,', 1)}\n", r"outside int64"),
    (f"{MAGIC}\n{HEADER}\n{ROW.replace(',S1,', ',' + 'x' * 200 + ',')}\n", r"serial is longer than 128"),
    (f'{MAGIC}\n{HEADER}\n"unterminated\n', r"malformed CSV|expected 18 columns"),
])
def test_hostile_traces_are_rejected_with_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputFileError, match=message):
        check_trace(path)


def test_unreadable_traces(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        TraceSource(tmp_path / "missing.csv", TraceSettings())
    path = tmp_path / "bin.csv"
    path.write_bytes(MAGIC.encode() + b"\n" + HEADER.encode() + b"\n\xff\xfe\x00\n")
    with pytest.raises(InputFileError, match="not UTF-8"):
        check_trace(path)
    _record(tmp_path / "x.csv", [])
    with pytest.raises(InputFileError, match="already exists"):
        TraceWriter(tmp_path / "x.csv")
