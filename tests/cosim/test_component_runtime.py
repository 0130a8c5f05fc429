"""The component runtime: the example of docs/architecture.md, run as written in a real session; what
a failing setup leaves; ACK times from on_tick; a component alone without a runner."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.timeout(120)


def doc_example() -> str:
    text = (REPO / "docs" / "architecture.md").read_text()
    section = text[text.index("## Writing a component"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run_session(tmp_path: Path, components: dict, duration: float = 2.0, **session: object) -> tuple[int, dict, str]:
    cfg = {"session": {"name": "rt", "rate_hz": 90, "duration_s": duration, **session}, "network": {"base_port": 0},
           "components": components}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "pkgs"))
    res = subprocess.run([sys.executable, "run_session.py", "--config", str(path), "--out", str(out), "--quiet"],
                         cwd=REPO, capture_output=True, text=True, timeout=100, env=env)
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    return res.returncode, summary, res.stdout + res.stderr


def package(tmp_path: Path, name: str, code: str) -> None:
    folder = tmp_path / "pkgs" / name
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "__main__.py").write_text(code)


def test_the_architecture_doc_example_joins_a_session_and_is_reported(tmp_path):
    code = doc_example()
    assert len(code.strip().splitlines()) <= 40, "the doc's example should stay about 30 lines"
    package(tmp_path, "counter", code)
    rc, summary, log = run_session(tmp_path, {
        "client": {"module": "client", "required": True, "settings": {"residuals": {"enabled": False}}},
        "pose": {"module": "bridges.pose", "settings": {"source": "synthetic", "rate_hz": 200}},
        "counter": {"module": "counter", "settings": {"device": "hmd"}}})
    assert rc == 0, log
    assert summary["counter"]["frames"] == 180
    assert summary["counter"]["poses"] > 100
    assert summary["clients"]["counter"]["acks"] >= 170  # the runtime ACKed its ticks
    assert summary["processes"]["counter"]["cpu_s"] > 0


def test_a_failing_setup_exits_2_and_still_writes_its_sections(tmp_path):
    package(tmp_path, "broken", textwrap.dedent('''
        import sys
        from cosim.errors import InputFileError
        from cosim.runtime import Component, run

        class Broken(Component):
            name = "broken"
            def setup(self):
                raise InputFileError("scenario 'nope.sumocfg' does not exist")
            def sections(self):
                return {"broken": {"error": self.ctx.error}}

        if __name__ == "__main__":
            sys.exit(run(Broken))
        '''))
    rc, summary, log = run_session(tmp_path, {"broken": {"module": "broken"}})
    assert rc != 0
    assert summary["broken"]["error"] == "scenario 'nope.sumocfg' does not exist"
    assert summary["runner"]["components"]["broken"]["exit_code"] == 2


def test_present_and_photon_times_returned_by_on_tick_go_into_the_ack(tmp_path):
    package(tmp_path, "display", textwrap.dedent('''
        import sys
        from cosim.runtime import Component, Presented, run

        class Display(Component):
            name = "display"
            def on_tick(self, tick):
                return Presented(tick.tick.t_ns + 2_000_000, tick.tick.t_ns + 13_000_000)

        if __name__ == "__main__":
            sys.exit(run(Display))
        '''))
    rc, summary, log = run_session(tmp_path, {"display": {"module": "display", "required": True}},
                                   mode="lockstep", pace=0)
    assert rc == 0, log
    client = summary["clients"]["display"]
    assert client["acks"] == 180 and client["missed"] == 0
    assert client["present_latency_us"]["p50"] == pytest.approx(2000, abs=1)


def test_help_names_the_component_and_its_defaults():
    res = subprocess.run([sys.executable, "-m", "client", "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0
    assert "python -m client" in res.stdout and "default: client" in res.stdout


def test_a_stop_during_setup_still_closes_and_writes_sections(tmp_path):
    """SIGTERM while setup runs (jackd starting, a checkpoint building): the process used to die
    with the default action, without close() or its sections."""
    import signal
    import time
    package(tmp_path, "slow", textwrap.dedent('''
        import sys, time
        from cosim.runtime import Component, run

        class Slow(Component):
            name = "slow"
            closed = False
            def setup(self):
                time.sleep(5)
            def close(self):
                Slow.closed = True
            def sections(self):
                return {"slow": {"closed": Slow.closed}}

        if __name__ == "__main__":
            sys.exit(run(Slow))
        '''))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"network": {"base_port": 0}, "components": {"slow": {"module": "slow"}}}))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "slow", "--config", str(cfg), "--out", str(out)], cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=f"{tmp_path / 'pkgs'}:{REPO}"))
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert json.loads((out / "sections" / "slow.json").read_text())["slow"] == {"closed": True}


def test_close_runs_when_joining_fails(tmp_path):
    package(tmp_path, "greedy", textwrap.dedent('''
        import sys
        from cosim.runtime import Component, run

        class Greedy(Component):
            name = "greedy"
            publishes = True
            direct = tuple(f"t{i}" for i in range(17))  # more direct topics than the protocol allows
            closed = False
            def close(self):
                Greedy.closed = True
            def sections(self):
                return {"greedy": {"closed": Greedy.closed, "error": self.ctx.error}}

        if __name__ == "__main__":
            sys.exit(run(Greedy))
        '''))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"network": {"base_port": 0}, "components": {"greedy": {"module": "greedy"}}}))
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "greedy", "--config", str(cfg), "--out", str(out)], cwd=REPO,
                         env=dict(os.environ, PYTHONPATH=f"{tmp_path / 'pkgs'}:{REPO}"), capture_output=True,
                         text=True, timeout=60)
    assert res.returncode != 0
    section = json.loads((out / "sections" / "greedy.json").read_text())["greedy"]
    assert section["closed"] and "at most 16 topics" in section["error"]
