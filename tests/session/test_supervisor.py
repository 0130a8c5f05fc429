"""The runner (session/supervisor.py, behind run_session.py) with real processes: how a session
ends (Ctrl-C, a terminal closed, a crashed component with on_crash stop or continue), what it
leaves (summary, logs, no processes), an external component, and what it refuses before starting."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from cosim.node import Node, TickEvent
from tests.conftest import REPO, wait_for
from tests.syncserver.test_session_processes import endpoints

CLIENT = {"module": "client", "required": True}


def run_session(procs, cfg: Path, out: Path, *extra: str):
    return procs.start("run_session.py", "--config", str(cfg), "--out", str(out), *extra, log="runner.log")


def wait_started(out: Path, timeout: float = 30) -> None:
    assert wait_for(lambda: (out / "logs" / "syncserver.log").is_file()
                    and "session starts" in (out / "logs" / "syncserver.log").read_text(), timeout)


def kill_when_started(runner: subprocess.Popen, out: Path, name: str, after_s: float = 0.0) -> None:
    """SIGKILL the runner's child ``name`` ``after_s`` after the session has started."""
    wait_started(out)
    time.sleep(after_s)
    pid = next(p.pid for p in psutil.Process(runner.pid).children() if "--name" in p.cmdline()
               and p.cmdline()[p.cmdline().index("--name") + 1] == name)
    psutil.Process(pid).kill()


def no_processes_left(summary: dict) -> bool:
    for comp in summary["runner"]["components"].values():
        try:
            if psutil.Process(comp["pid"]).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            pass
    return True


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "terminal-closed"])
def test_ctrl_c_ends_the_session_cleanly(write_config, procs, tmp_path, sig):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 60}, components={"client": CLIENT})
    out = tmp_path / "session"
    runner = run_session(procs, cfg, out)
    wait_started(out)
    time.sleep(1.0)
    runner.send_signal(sig)
    assert runner.wait(30) == 1, procs.log("runner")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["session"]["frames"] > 45 and summary["session"]["end_reason"].startswith("interrupted")
    assert summary["clients"]["client"]["acks"] >= summary["session"]["frames"] - 2
    assert (out / "config.yaml").is_file()
    assert {p.name for p in (out / "logs").iterdir()} == {"syncserver.log", "client.log"}
    assert summary["runner"]["components"]["client"]["exit_code"] == 0
    assert no_processes_left(summary)


def test_crashed_child_stops_the_session(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 60, "heartbeat_timeout_s": 1.0},
                       components={"a": CLIENT, "b": CLIENT})
    out = tmp_path / "session"
    runner = run_session(procs, cfg, out)
    kill_when_started(runner, out, "b")
    assert runner.wait(30) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "crashed"
    assert summary["runner"]["components"]["b"]["status"] == "crashed"
    assert "component b crashed" in procs.log("runner")
    assert no_processes_left(summary)


def test_bad_config_names_the_key(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": "ninety"})
    runner = run_session(procs, cfg, tmp_path / "s")
    assert runner.wait(30) == 2
    assert "session.rate_hz" in procs.log("runner") and "'ninety'" in procs.log("runner")


def test_an_external_component_is_waited_for_not_launched(write_config, tmp_path):
    """``launch: false`` (the Unreal plugin on a rig): the runner starts no process for it, the session
    starts only once it joined, and it is reported as external."""
    cfg = write_config(session={"mode": "lockstep", "pace": 1.0, "rate_hz": 90, "duration_s": 1.5},
                       components={"a": CLIENT, "unreal": {"module": "unreal_plugin", "launch": False,
                                                           "required": True}})
    out = tmp_path / "session"
    runner = subprocess.Popen([sys.executable, str(REPO / "run_session.py"), "--config", str(cfg), "--out", str(out)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(2.0)
        assert not (out / "sections" / "syncserver.json").exists()  # still waiting for "unreal"
        with Node("unreal", endpoints(cfg), required=True) as node:
            node.connect(30)
            node.ready()
            acked = sum(1 for ev in node.events() if isinstance(ev, TickEvent) and not node.ack(ev))
        text, _ = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 0, text
    assert "waiting for unreal (launch: false) to join" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["session"]["frames"] == 135 and acked == 135
    assert summary["clients"]["unreal"]["acks"] == 135 and summary["clients"]["unreal"]["missed"] == 0
    assert summary["runner"]["components"]["unreal"] == {"module": "unreal_plugin", "status": "external"}
    assert not (out / "logs" / "unreal.log").exists()


def test_a_ready_timeout_names_who_never_got_ready_and_is_not_a_crash(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 5, "ready_timeout_s": 1.5},
                       components={"a": CLIENT, "unreal": {"module": "unreal_plugin", "launch": False}})
    out = tmp_path / "session"
    runner = run_session(procs, cfg, out)
    assert runner.wait(60) == 1
    text = procs.log("runner")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ready_timeout"
    assert summary["runner"]["components"]["syncserver"]["status"] == "ready timeout"
    assert "no READY from unreal" in text and "crashed" not in text, text


def test_a_crash_with_on_crash_continue_is_reported_while_the_session_runs_to_its_end(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 4, "on_crash": "continue", "heartbeat_timeout_s": 1.0},
                       components={"a": CLIENT, "b": {"module": "client"}})
    out = tmp_path / "session"
    runner = run_session(procs, cfg, out)
    kill_when_started(runner, out, "b")
    assert runner.wait(60) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "crashed" and summary["session"]["end_reason"] == "completed"
    assert summary["session"]["frames"] == 360 and summary["clients"]["a"]["missed"] == 0
    assert summary["runner"]["components"]["b"]["status"] == "crashed"
    assert summary["clients"]["b"]["dropped"]
    assert no_processes_left(summary)


def test_an_out_folder_that_is_not_empty_is_refused_before_anything_starts(write_config, procs, tmp_path):
    cfg = write_config(components={"client": CLIENT})
    out = tmp_path / "taken"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    runner = run_session(procs, cfg, out)
    assert runner.wait(30) == 2
    assert "already exists and is not empty" in procs.log("runner")
    assert [p.name for p in out.iterdir()] == ["summary.json"]


def test_duration_override_and_merged_sections(write_config, procs, tmp_path):
    cfg = write_config(session={"rate_hz": 90, "duration_s": 60}, components={"client": CLIENT})
    out = tmp_path / "session"
    runner = run_session(procs, cfg, out, "--duration", "1", "--quiet")
    assert runner.wait(60) == 0, procs.log("runner")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["session"]["frames"] == 90
    assert summary["clients"]["client"]["display"]["frames"] == summary["clients"]["client"]["acks"] == 90
    assert set(summary["processes"]) == {"syncserver", "client"}
    assert summary["runner"]["section_problems"] == []
    assert (out / "report.html").is_file() and summary["report"] == {"path": "report.html"}


def test_a_killed_syncserver_is_reported_at_once_and_the_summary_comes_from_the_recording(write_config, procs, tmp_path):
    """Before: nothing for ~12 s, then '0 frames in 0.0 s' although the recording held ~1,000 ticks,
    and every component listed as exited 0."""
    cfg = write_config(session={"rate_hz": 90, "duration_s": 60},
                       components={"client": CLIENT, "recorder": {"module": "recording"}})
    out = tmp_path / "session"
    runner = run_session(procs, cfg, out)
    wait_started(out)
    time.sleep(3.0)
    server = next(p for p in psutil.Process(runner.pid).children() if "syncserver" in " ".join(p.cmdline()))
    server.kill()
    killed = time.monotonic()
    assert wait_for(lambda: "syncserver died (killed by SIGKILL)" in procs.log("runner"), 5), procs.log("runner")
    assert runner.wait(30) == 1
    assert time.monotonic() - killed < 10
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "crashed"
    session = summary["session"]
    assert session["end_reason"].startswith("syncserver died (killed by SIGKILL)")
    assert session["rebuilt_from"] == "session.mcap" and session["frames"] > 200
    assert session["recorded_ticks"] >= session["frames"] - 10
    assert summary["ticks"]["lateness_us"]["p50"] is not None
    assert {summary["runner"]["components"][n]["status"] for n in ("client", "recorder")} == {"stopped"}
    assert no_processes_left(summary)


def test_a_killed_recorder_leaves_a_file_the_standard_mcap_reader_opens(write_config, procs, tmp_path):
    """kill -9 of the recorder: no footer, and mcap's make_reader raised RecordLengthLimitExceeded
    on get_summary() and iter_messages(); the runner now repairs the file."""
    from mcap.reader import make_reader
    cfg = write_config(session={"rate_hz": 90, "duration_s": 4, "on_crash": "continue"},
                       components={"client": CLIENT, "recorder": {"module": "recording",
                                                                 "settings": {"flush_interval_s": 0.2}}})
    out = tmp_path / "session"
    runner = run_session(procs, cfg, out)
    kill_when_started(runner, out, "recorder", after_s=1.5)
    assert runner.wait(60) == 1
    summary = json.loads((out / "summary.json").read_text())
    [repair] = summary["recording"]["repairs"]
    assert repair["repaired"] and repair["messages"] > 50
    with open(out / "session.mcap", "rb") as f:
        reader = make_reader(f)
        assert reader.get_summary() is not None
        topics = [channel.topic for _, channel, _ in reader.iter_messages()]
    assert topics.count("tick") > 50 and "session" in topics


@pytest.mark.parametrize("component,settings,needle", [
    ("sumo", {"module": "bridges.sumo", "settings": {"scenario": "scenarios/demo/nope.sumocfg"}},
     "components.sumo.settings: SUMO scenario"),
    ("pose", {"module": "bridges.pose", "settings": {"source": "trace", "trace": {"path": "no/such/trace.csv"}}},
     "components.pose.settings: trace.path"),
    ("client", {"module": "client", "settings": {"residuals": {"base_motion": "assets/nope.safetensors"}}},
     "components.client.settings: residuals.base_motion"),
])
def test_a_missing_file_is_refused_before_anything_starts(write_config, procs, tmp_path, component, settings, needle):
    """Before: every process started, SUMO crashed, and the summary said 'interrupted (SIGINT)'."""
    cfg = write_config(components={component: settings})
    out = tmp_path / "session"
    runner = run_session(procs, cfg, out)
    assert runner.wait(30) == 2
    log = procs.log("runner")
    assert log.startswith("error: ") and needle in log and "does not exist" in log, log
    assert not out.exists()


def test_finish_rebuilds_summary_and_report_of_a_session_whose_runner_was_killed(write_config, procs, tmp_path):
    """SIGKILL of the runner: its children end with it (parent-death signal), but nothing wrote the
    summary or the report. ``run_session.py --finish DIR`` does, from the sections and the recording."""
    cfg = write_config(session={"rate_hz": 90, "duration_s": 60},
                       components={"client": CLIENT, "recorder": {"module": "recording"}})
    out = tmp_path / "session"
    runner = run_session(procs, cfg, out)
    wait_started(out)
    time.sleep(2.0)
    children = psutil.Process(runner.pid).children()
    runner.kill()
    runner.wait(10)
    assert wait_for(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children), 15)
    assert not (out / "summary.json").exists()
    res = subprocess.run([sys.executable, "run_session.py", "--finish", str(out), "--quiet"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    summary = json.loads((out / "summary.json").read_text())
    assert res.returncode == 1, res.stderr  # not ok: the session did not end by itself
    assert summary["runner"]["finished_by"].startswith("run_session.py --finish")
    assert summary["session"]["frames"] > 100  # from the syncserver's own sections or the recording
    assert (out / "report.html").is_file()


def test_a_read_only_out_folder_is_an_error_line_before_anything_starts(write_config, procs, tmp_path):
    import os
    cfg = write_config(components={"client": CLIENT})
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores the mode; a read-only bind mount does not
            import shutil
            if shutil.which("mount") is None or subprocess.run(
                    ["mount", "--bind", "-o", "ro", str(locked), str(locked)], capture_output=True).returncode:
                pytest.skip("cannot make a read-only folder here")
        runner = run_session(procs, cfg, locked / "s")
        assert runner.wait(30) == 2
        log = procs.log("runner")
        assert log.startswith("error: --out") and "not writable" in log and "Traceback" not in log, log
    finally:
        subprocess.run(["umount", str(locked)], capture_output=True)
        os.chmod(locked, 0o700)


def test_a_disk_that_fills_up_stops_the_session_cleanly(write_config, procs, tmp_path):
    """Before: a raw ENOSPC traceback, summary.json, every section and the report lost, .tmp files
    left behind, and nothing saying the disk was full. A 72 MiB tmpfs: enough to start, then filled."""
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=72m", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        cfg = write_config(session={"rate_hz": 90, "duration_s": 60},
                           components={"client": CLIENT, "recorder": {"module": "recording",
                                                                     "settings": {"flush_interval_s": 0.1}}})
        out = small / "session"
        runner = run_session(procs, cfg, out)
        assert wait_for(lambda: (out / "logs" / "syncserver.log").is_file()
                        and "session starts" in (out / "logs" / "syncserver.log").read_text(), 30)
        time.sleep(1.0)
        with open(small / "filler", "wb") as f:  # fill the disk, as a big copy elsewhere would
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
            except OSError:
                pass
        assert runner.wait(60) == 1
        log = procs.log("runner")
        assert "Traceback" not in log and "disk is full" in log, log
        assert not list(out.rglob("*.tmp"))
        (small / "filler").unlink()  # what was written stays readable
        from recording.reader import Recording
        assert Recording.open(out / "session.mcap").records() is not None
        assert "No space left on device" in (out / "logs" / "recorder.log").read_text()
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


FULL = {"client": {"module": "client", "required": True,
                   "settings": {"residuals": {"base_motion": "assets/refine/skirt_sequence.safetensors"}}},
        "sumo": {"module": "bridges.sumo", "required": True,
                 "settings": {"scenario": "scenarios/demo/demo.sumocfg", "start_s": 40}},
        "pose": {"module": "bridges.pose", "settings": {"rate_hz": 250}},
        "audio": {"module": "audio", "settings": {"backend": "file"}},
        "refine": {"module": "refine_runtime"},
        "recorder": {"module": "recording", "settings": {"flush_interval_s": 0.2}}}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("victim", ["client", "sumo", "pose", "audio", "refine", "recorder", "syncserver"])
def test_kill_9_of_any_process_ends_the_session_with_a_readable_recording(write_config, procs, tmp_path, victim):
    """Whatever dies, the session ends (on_crash: stop), no process is left, summary.json says what
    happened, and the recording opens in the standard MCAP reader with session-time log times."""
    import msgpack
    from mcap.reader import make_reader
    cfg = write_config(session={"rate_hz": 90, "duration_s": 60, "ready_timeout_s": 90}, components=FULL)
    out = tmp_path / "session"
    runner = run_session(procs, cfg, out)
    if victim == "syncserver":
        wait_started(out, 90)
        time.sleep(2.0)
        next(p for p in psutil.Process(runner.pid).children() if "syncserver" in " ".join(p.cmdline())).kill()
    else:
        wait_started(out, 90)
        kill_when_started(runner, out, victim, after_s=2.0)
    assert runner.wait(60) == 1, procs.log("runner")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "crashed", summary["status"]
    assert summary["runner"]["components"][victim]["status"] == "crashed" or victim == "syncserver"
    assert no_processes_left(summary)
    frames = summary["session"]["frames"]
    with open(out / "session.mcap", "rb") as f:
        reader = make_reader(f)
        assert reader.get_summary() is not None
        log_times = [m.log_time for _, _, m in reader.iter_messages()]
    assert len(log_times) > 100 and max(log_times) < (frames / 90 + 10) * 1e9  # session time, not the host's clock
    assert (out / "report.html").is_file()
    with open(out / "session.mcap", "rb") as f:
        kinds = {msgpack.unpackb(m.data)[0]["type"] for _, c, m in make_reader(f).iter_messages() if c.topic == "tick"}
    assert kinds == {"TICK"}
