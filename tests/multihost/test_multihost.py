"""A session over three emulated hosts (network, host-name and time namespaces on this kernel),
each with a CLOCK_MONOTONIC hours apart, joined over TCP with CURVE through a relay that adds
0.5 ms +- 0.1 ms each way. The truth about each clock comes from the kernel, not from our code:
the syncserver reads /proc/PID/timens_offsets (session.clock_truth: kernel). Skipped, with the
reason, where namespaces cannot be made (not root, no ip/unshare, no time namespaces)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.hosts import SUBNET, SWITCH_IP, unavailable
from bench.multihost import HOSTS, PLACES, PORT, clock_figures, rig_config, run_rig
from recording.reader import Recording

WHY = unavailable()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"emulated hosts unavailable: {WHY}")

SECONDS = 8.0
TIME_FIELDS = ("t_ns", "sample_ns", "photon_ns", "scheduled_ns", "actual_ns", "recv_ns", "present_ns", "pose_sample_ns")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("multihost")
    # a host with keys of its own, which the syncserver has never seen
    stranger = folder / "stranger"
    subprocess.run([sys.executable, "-m", "cosim.curve", "--secrets", str(stranger / "secrets")], check=True,
                   capture_output=True)
    (stranger / "config.yaml").write_text(yaml.safe_dump(
        rig_config(SECONDS, f"{SUBNET}.10", stranger / "secrets", 1.0)))
    intruder = [sys.executable, "-m", "bridges.pose", "--config", str(stranger / "config.yaml"), "--name", "intruder",
                "--join", f"{SWITCH_IP}:{PORT}"]
    check = [sys.executable, "-m", "cosim.checksync", "--config", str(folder / "session" / "config.yaml"),
             "--join", f"{SWITCH_IP}:{PORT}", "--seconds", "4", "--json"]
    sections = run_rig(folder / "session", SECONDS, delay_ms=0.5, jitter_ms=0.1,
                       extra=[("vr", intruder), ("rec", check)])
    return folder / "session", sections


def test_every_host_joins_over_curve_and_the_session_completes(session):
    _, s = session
    assert {k: v for k, v in s["exit"].items() if not k.startswith("extra")} == {n: 0 for n in PLACES}
    assert s["session"]["end_reason"] == "completed" and s["session"]["frames"] == int(SECONDS * 90)
    assert s["security"]["curve"] is True
    assert set(s["clients"]) == set(PLACES) - {"syncserver"} | {"sync-check.rec"}  # the stranger never joined
    assert s["security"]["refused_handshake"] >= 1 and s["exit"]["extra0"] != 0


def test_clock_estimates_match_the_kernels_truth_hours_apart(session):
    _, s = session
    hosts = clock_figures(s)
    assert set(hosts) == {"sim", "vr", "rec"}
    for name, h in hosts.items():
        assert h["true_offset_us"] == (HOSTS["sim"] - HOSTS[name]) * 1e6  # the kernel's word, read by the syncserver
        # the goal (100 us, bench.multihost) needs a quiet machine; hours of offset mis-mapped would be 1e9 us
        assert h["offset_error_us"]["p99"] is not None and h["offset_error_us"]["p99"] < 1000, (name, h)
        assert h["measured_error_us"]["p99"] is not None and h["measured_error_us"]["p99"] < 2000, (name, h)


def test_the_sync_check_bounds_the_truth(session):
    """``python -m cosim.checksync`` on the rec host: its offset is within its own bound of the truth.
    Its verdict (ok or poor) judges the path, which on a loaded test machine may be poor; the bound
    must hold either way."""
    folder, s = session
    log = (folder / "logs" / "extra1.log").read_text()
    result = json.loads(log.strip().splitlines()[-1])
    assert s["exit"]["extra1"] == (0 if result["verdict"] == "ok" else 1), log
    assert result["host"] == "rec" and result["server_host"] == "sim" and result["curve"] is True
    assert result["bursts"] >= 3 and result["bound_us"] <= result["bound_worst_us"]
    truth_s = HOSTS["sim"] - HOSTS["rec"]
    assert abs(result["offset_s"] - truth_s) * 1e6 <= result["bound_us"], result


def test_everything_recorded_is_in_session_time(session):
    """Poses from the vr host, frame reports, audio onsets, ticks: a time that skipped the mapping
    into session time would be hours off."""
    folder, s = session
    # motion-to-photon joins poses stamped on the vr host with the client's frames: hours off if unmapped
    assert 1.0 < s["mtp"]["total_ms"]["p50"] < 200.0, s["mtp"]["total_ms"]
    rec = Recording.open(folder)
    assert rec.complete
    lo, hi = -30 * 10**9, int((SECONDS + 30) * 1e9)
    seen: dict[str, int] = {}
    for d in rec.messages():
        kind = type(d.msg).__name__
        seen[kind] = seen.get(kind, 0) + 1
        assert lo <= d.log_ns <= hi, (kind, d.log_ns)
        for f in TIME_FIELDS:
            v = getattr(d.msg, f, None)
            if isinstance(v, int) and v != 0:
                assert lo <= v <= hi, (kind, f, v)
    for kind in ("Tick", "Pose", "FrameReport", "AudioOnset", "Vehicles"):
        assert seen.get(kind, 0) > 0, (kind, seen)
