"""The C++ command-line client (built from the core) against a live syncserver in lockstep."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from session.config import _free_ports

ROOT = Path(__file__).resolve().parents[2]
OFFSET_ERROR_P99_US = 50.0  # the bound the Python headless client is held to


def _config(tmp: Path, frames: int, rate_hz: float = 90.0) -> tuple[Path, dict[str, str]]:
    ports = _free_ports("127.0.0.1", 4)
    eps = {k: f"tcp://127.0.0.1:{p}" for k, p in zip(("control", "ticks", "bus_in", "bus_out"), ports)}
    cfg = {
        "session": {"name": "cpp", "mode": "lockstep", "pace": 0, "rate_hz": rate_hz,
                    "duration_s": frames / rate_hz, "start_delay_s": 0.05, "ready_timeout_s": 30,
                    "heartbeat_interval_s": 0.05, "probe_interval_s": 0.2},
        "network": {"base_port": 0, **eps},
        "components": {"cpp": {"module": "unreal_plugin", "required": True}},
    }
    path = tmp / "session.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, eps


def _run_session(cpp_build: Path, tmp: Path, frames: int, *extra: str) -> tuple[dict, dict]:
    cfg, eps = _config(tmp, frames)
    out = tmp / "session"
    server = subprocess.Popen([sys.executable, "-m", "syncserver", "--config", str(cfg), "--out", str(out)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = subprocess.run(
            [str(cpp_build / "cosim_client"), "--name", "cpp", "--required", "--control", eps["control"],
             "--ticks", eps["ticks"], "--bus-in", eps["bus_in"], "--report-frames",
             "--summary", str(tmp / "cpp.json"), *extra],
            capture_output=True, text=True, timeout=120)
        server_log, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    assert client.returncode == 0, f"client failed:\n{client.stderr}\nserver:\n{server_log}"
    assert server.returncode == 0, server_log
    summary = json.loads(client.stdout.strip().splitlines()[-1])
    sections = json.loads((out / "sections" / "syncserver.json").read_text())
    return summary, sections


@pytest.mark.timeout(240)
def test_cpp_client_runs_1000_lockstep_frames_without_gaps(cpp_build: Path, tmp_path: Path) -> None:
    summary, sections = _run_session(cpp_build, tmp_path, 1000)
    assert sections["session"]["end_reason"] == "completed"
    assert sections["session"]["frames"] == 1000
    server_view = sections["clients"]["cpp"]
    assert server_view["acks"] == 1000 and server_view["missed"] == 0
    assert summary["ticks"] == 1000 and summary["acks"] == 1000
    assert summary["gaps"] == 0 and summary["decode_errors"] == 0 and summary["server_errors"] == 0
    assert summary["end_reason"] == "completed"
    err = server_view["clock_offset_error_us"]
    assert err["p99"] is not None, "no HEARTBEAT carried an offset error"
    assert err["p99"] <= OFFSET_ERROR_P99_US, err
    assert summary["clock_offset_error_us"]["p99"] <= OFFSET_ERROR_P99_US, summary
    # present/photon reached the server through the ACKs (same display model as the Python client)
    assert server_view["present_latency_us"]["p50"] is not None
    assert summary["mtp"]["present_to_photon_us"]["p50"] == pytest.approx(11100.0)


@pytest.mark.timeout(120)
def test_cpp_client_estimates_a_known_clock_skew(cpp_build: Path, tmp_path: Path) -> None:
    skew_ns = 7_654_321  # the client's clock runs this far ahead: the true offset is -skew
    summary, sections = _run_session(cpp_build, tmp_path, 300, "--clock-skew-ns", str(skew_ns))
    assert summary["offset_ns"] == pytest.approx(-skew_ns, abs=50_000)
    assert summary["clock_offset_error_us"]["p99"] <= OFFSET_ERROR_P99_US  # per probe burst, vs the known truth
    server_err = sections["clients"]["cpp"]["clock_offset_error_us"]["p99"]  # via HEARTBEAT, if one went out
    assert server_err is None or server_err <= OFFSET_ERROR_P99_US
    assert summary["gaps"] == 0 and summary["acks"] == 300


@pytest.mark.timeout(60)
def test_cpp_client_gives_up_cleanly_without_a_server(cpp_build: Path) -> None:
    port = _free_ports("127.0.0.1", 2)
    proc = subprocess.run([str(cpp_build / "cosim_client"), "--control", f"tcp://127.0.0.1:{port[0]}", "--ticks",
                           f"tcp://127.0.0.1:{port[1]}", "--connect-timeout-s", "0.5"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "no WELCOME from the syncserver" in proc.stderr
    bad = subprocess.run([str(cpp_build / "cosim_client"), "--control", "x", "--ticks", "y", "--refresh-hz", "abc"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--refresh-hz expects a number (got 'abc')" in bad.stderr
