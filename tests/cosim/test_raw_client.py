"""A client written from docs/protocol.md alone (tests/cosim/raw_client.py: pyzmq and the msgpack
package, no project code, run under ``python -I`` so no project import could work) completes the
handshake, clock probes, ACKs and BYE against a real syncserver, which reports it like any other."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.syncserver.test_session_processes import endpoints, sections

pytestmark = pytest.mark.timeout(120)
RAW = REPO / "tests" / "cosim" / "raw_client.py"


def test_the_raw_client_imports_nothing_of_ours():
    source = RAW.read_text()
    assert not any(line.startswith(("from cosim", "import cosim", "from syncserver", "from session"))
                   for line in source.splitlines())


@pytest.mark.parametrize("mode,pace", [("lockstep", 1.0), ("lockstep", 0.0), ("realtime", 1.0)])
def test_a_client_from_the_spec_alone_joins_acks_every_tick_and_leaves(write_config, procs, tmp_path, mode, pace):
    cfg = write_config(session={"mode": mode, "pace": pace, "rate_hz": 90, "duration_s": 2},
                       components={"raw": {"module": "client", "launch": False, "required": True}})
    server = procs.module("syncserver", cfg, out=tmp_path)
    eps = endpoints(cfg)
    res = subprocess.run([sys.executable, "-I", str(RAW), "--control", eps.control, "--ticks", eps.ticks,
                          "--name", "raw", "--required"], cwd=tmp_path, capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert server.wait(30) == 0, procs.log("syncserver")
    s = sections(Path(tmp_path))
    assert s["session"]["end_reason"] == "completed" and s["session"]["frames"] == 180
    raw = s["clients"]["raw"]
    assert raw["acks"] == 180 and raw["missed"] == 0 and raw["left"] and not raw["dropped"]
    assert report["ticks"] == report["acks"] == 180 and report["gaps"] == 0 and report["errors"] == []
    assert report["welcome"]["mode"] == mode and report["bursts"] >= 1
    assert abs(report["offset_ns"]) < 1_000_000  # one host: the true offset is 0
    assert s["control"]["rejected"] == 0
