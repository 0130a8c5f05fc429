"""Shared fixtures: session configs on free loopback ports, and child processes that are always reaped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from cosim.config import NetworkSettings, resolve_endpoints

REPO = Path(__file__).resolve().parent.parent


def free_endpoints() -> dict[str, str]:
    eps = resolve_endpoints(NetworkSettings(base_port=0))
    return {"control": eps.control, "ticks": eps.ticks, "bus_in": eps.bus_in, "bus_out": eps.bus_out}


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """write_config(session={...}, components={...}) -> path of a YAML config on free ports."""
    counter = iter(range(1000))

    def make(session: dict[str, Any] | None = None, components: dict[str, Any] | None = None,
             network: dict[str, Any] | None = None) -> Path:
        raw = {"session": {"name": "test", "ready_timeout_s": 20, **(session or {})},
               "network": {"host": "127.0.0.1", "base_port": 0, **free_endpoints(), **(network or {})},
               "components": components or {}}
        path = tmp_path / f"config{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(raw))
        return path
    return make


class Procs:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str, log: str | None = None) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        out = open(self.tmp / (log or f"proc{len(self.procs)}.log"), "wb")
        proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def module(self, module: str, config: Path, name: str | None = None, out: Path | None = None) -> subprocess.Popen:
        args = ["-m", module, "--config", str(config)]
        if name:
            args += ["--name", name]
        if out:
            args += ["--out", str(out)]
        return self.start(*args, log=f"{name or module}.log")

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    yield p
    p.cleanup()


def wait_for(pred: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()
