"""CURVE on every socket of a session: a whole session runs encrypted; a client whose key the
syncserver does not admit, and one that speaks no CURVE at all, never join, and the refusal is
counted; keys missing is an error line before anything starts."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zmq

from cosim import protocol as p
from cosim.curve import ClientKeys, make_keys
from cosim.errors import HandshakeError
from cosim.node import Node, TickEvent
from tests.conftest import REPO
from tests.syncserver.test_session_processes import endpoints, sections

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    folder = tmp_path / "secrets"
    make_keys(folder, ["client"])
    stranger = tmp_path / "stranger"  # a key pair the syncserver has never seen
    make_keys(stranger, ["client"])
    shutil.copy(folder / "server.key", stranger / "server.key")
    return folder


def test_a_session_runs_with_curve_and_strangers_are_refused(write_config, procs, tmp_path, secrets):
    cfg = write_config(session={"mode": "lockstep", "pace": 1.0, "rate_hz": 90, "duration_s": 2},
                       network={"curve": True, "secrets": str(secrets)},
                       components={"client": {"module": "client", "required": True},
                                   "recorder": {"module": "recording"}})
    out = tmp_path / "session"
    res = subprocess.Popen([sys.executable, "run_session.py", "--config", str(cfg), "--out", str(out), "--quiet"],
                           cwd=REPO)
    eps = endpoints(cfg)
    import time
    time.sleep(1.0)
    stranger = ClientKeys.load(tmp_path / "stranger", "client")
    with Node("mallory", eps, curve=stranger) as node:  # an unknown key: the handshake never completes
        with pytest.raises(HandshakeError):
            node.connect(2.0)
    plain = zmq.Context.instance().socket(zmq.DEALER)  # no CURVE at all
    plain.setsockopt(zmq.LINGER, 0)
    plain.connect(eps.control)
    plain.send_multipart(p.encode(p.TOPIC_CONTROL, p.Hello(name="plain")))
    assert not plain.poll(1000)
    plain.close()
    assert res.wait(60) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["session"]["frames"] == 180
    assert summary["clients"]["client"]["acks"] == 180
    assert summary["security"]["curve"] and summary["security"]["refused"] >= 1
    assert summary["security"]["allowed"] >= 3  # client, recorder, the runner's monitor
    assert "mallory" not in summary["clients"] and "plain" not in summary["clients"]
    assert summary["recording"]["messages"] > 180


def test_missing_keys_are_an_error_line_naming_the_command(write_config, procs, tmp_path):
    cfg = write_config(network={"curve": True, "secrets": str(tmp_path / "nothing")},
                       components={"client": {"module": "client"}})
    runner = procs.start("run_session.py", "--config", str(cfg), "--out", str(tmp_path / "s"), log="runner.log")
    assert runner.wait(30) == 2
    log = procs.log("runner")
    assert log.startswith("error: CURVE:") and "python -m cosim.curve --secrets" in log, log


def test_keys_are_written_private(tmp_path):
    folder = tmp_path / "k"
    files = make_keys(folder, ["a"])
    assert {f.name for f in files} == {"server.key", "server.key_secret", "a.key", "a.key_secret"}
    assert oct(os.stat(folder).st_mode & 0o777) == "0o700"
    assert all(oct(os.stat(f).st_mode & 0o777) == "0o600" for f in files if f.name.endswith("_secret"))
