"""What every component process shares: command line, logging, config, result sections.

Every component is started as ``python -m <module> --config FILE --name NAME [--out DIR]``; it
reads the session config, its own ``components.<name>.settings`` block, and at the end writes the
summary sections it owns to ``DIR/sections/<name>.json`` (merged into summary.json by the runner).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from session.config import Config, Endpoints, component_settings, load_config, resolve_endpoints
from syncserver.errors import CosimError
from syncserver.timing import realtime_priority, reduce_timer_slack

REPO_ROOT = Path(__file__).resolve().parent.parent  # relative asset/scenario paths resolve here
PARENT_ENV = "COSIM_PARENT_PID"
_STARTED = time.monotonic()
_streaming: tuple[float, float] | None = None  # (monotonic s, CPU s) when the session started
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class ComponentContext:
    name: str
    config: Config
    endpoints: Endpoints
    out: Path | None
    settings: Any
    required: bool

    def write_sections(self, sections: dict[str, Any]) -> Path | None:
        return write_sections(self.out, self.name, sections)

    def output_path(self, value: str) -> Path:
        """A file this component writes: relative paths land in the session folder (else the working
        directory), like session.mcap and audio.wav."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.out or Path.cwd()) / path


def die_with_parent() -> None:
    """Linux: get SIGTERM when the supervising run_session dies, so no child is ever orphaned."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != int(parent):  # parent already gone before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def install_stop_handlers(on_stop: Callable[[str], None], grace_s: int = 10) -> None:
    """SIGINT/SIGTERM/SIGHUP call ``on_stop(signal name)`` once, so the loop can end cleanly. From then
    on the process has ``grace_s`` to exit before SIGALRM's default action ends it (a loop that never
    looks at its stop flag cannot outlive its supervisor), and a second signal ends it at once."""
    def handler(signum: int, _frame: object) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.alarm(grace_s)
        on_stop(signal.Signals(signum).name)
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)


def setup_logging(name: str, level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format=f"%(asctime)s.%(msecs)03d {name} %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")


def parse_args(prog: str, description: str, argv: Sequence[str] | None = None,
               default_name: str | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=f"python -m {prog}", description=description)
    ap.add_argument("--config", required=True, help="session config (YAML)")
    ap.add_argument("--name", default=default_name or prog.split(".")[-1],
                    help="this component's key under components: in the config")
    ap.add_argument("--out", default=None, help="session folder to write result sections into")
    ap.add_argument("--log-level", default="INFO")
    return ap.parse_args(argv)


def start_component(prog: str, description: str, argv: Sequence[str] | None = None,
                    default_name: str | None = None) -> ComponentContext:
    """Parse arguments, set up logging and parent-death, load and validate this component's config.
    Exits with status 2 and a one-line message on a config error."""
    args = parse_args(prog, description, argv, default_name)
    setup_logging(args.name, args.log_level)
    die_with_parent()
    reduce_timer_slack()
    try:
        cfg = load_config(args.config, check_components=False)
        spec = cfg.components.get(args.name)
        settings = component_settings(cfg, args.name) if spec is not None else None
        endpoints = resolve_endpoints(cfg.network)
    except CosimError as exc:
        logging.getLogger(args.name).error("%s", exc)
        raise SystemExit(2) from None
    if spec is not None:  # before any zmq context exists, so its threads inherit the policy
        realtime_priority(spec.rt_priority, "its wake-ups may wait behind other processes' time slices")
    return ComponentContext(name=args.name, config=cfg, endpoints=endpoints,
                            out=Path(args.out) if args.out else None, settings=settings,
                            required=bool(spec and spec.required))


def _cpu_s(use: resource.struct_rusage | None = None) -> float:
    use = use or resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def mark_streaming() -> None:
    """The session has started here (first call counts): ``process_figures`` then also reports the
    CPU share since, without imports and setup."""
    global _streaming
    if _streaming is None:
        _streaming = (time.monotonic(), _cpu_s())


def process_figures() -> dict[str, float | int | None]:
    """What this process has cost so far (all its threads): CPU seconds, and context switches,
    voluntary ones being mostly wake-ups. They vary far less with host noise than latency does.
    ``streaming_cpu_percent``: CPU time per wall time since ``mark_streaming`` (one core = 100)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    now, cpu = time.monotonic(), _cpu_s(use)
    out: dict[str, float | int | None] = {"wall_s": round(now - _STARTED, 3), "cpu_s": round(cpu, 3),
                                          "voluntary_switches": use.ru_nvcsw, "involuntary_switches": use.ru_nivcsw,
                                          "streaming_s": None, "streaming_cpu_percent": None}
    if _streaming is not None and now > _streaming[0]:
        out["streaming_s"] = round(now - _streaming[0], 3)
        out["streaming_cpu_percent"] = round(100 * (cpu - _streaming[1]) / (now - _streaming[0]), 1)
    return out


def write_sections(out: Path | None, name: str, sections: dict[str, Any]) -> Path | None:
    """Atomically write this component's summary sections (merged by the runner), with its process
    figures under ``processes.<name>``."""
    if out is None:
        return None
    sections = {**sections, "processes": {name: process_figures()}}
    folder = Path(out) / "sections"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(sections, indent=2, default=_json_default))
    os.replace(tmp, path)
    return path


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
