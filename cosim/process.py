"""What every process of a session shares, below the component runtime: logging, dying with the
supervisor, clean stop on signals, its command line, what it cost (CPU, context switches), and the
summary sections it writes to ``DIR/sections/<name>.json`` (merged into summary.json by the runner).
"""
from __future__ import annotations

import argparse
import ctypes
import errno
import json
import logging
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from threadpoolctl import ThreadpoolController

from cosim.errors import OutputError
from cosim.timing import reduce_timer_slack

REPO_ROOT = Path(__file__).resolve().parent.parent  # relative asset/scenario paths resolve here
PARENT_ENV = "COSIM_PARENT_PID"
_STARTED = time.monotonic()
_streaming: tuple[float, float] | None = None  # (monotonic s, CPU s) when the session started
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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


def command_line(prog: str, description: str, default_name: str, argv: Sequence[str] | None = None,
                 epilog: str | None = None, join: bool = False) -> argparse.Namespace:
    """``python -m <prog> --config FILE [--name NAME] [--out DIR] [--log-level LEVEL]`` (and, with
    ``join``, ``[--join HOST[:PORT]]``)."""
    ap = argparse.ArgumentParser(prog=f"python -m {prog}", description=description, epilog=epilog,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="session config (YAML)")
    ap.add_argument("--name", default=default_name,
                    help=f"this process's key under components: in the config (default: {default_name})")
    ap.add_argument("--out", default=None, help="session folder to write result sections into")
    ap.add_argument("--log-level", default="INFO", help="DEBUG, INFO (default), WARNING or ERROR")
    if join:
        ap.add_argument("--join", metavar="HOST[:PORT]", default=None,
                        help="join the syncserver on another host (its address and control port; default "
                             "port: network.base_port) instead of network.host of the config, e.g. "
                             "--join 192.168.1.10:5550 (docs/multihost.md)")
    return ap.parse_args(argv)


def start_process(name: str, log_level: str = "INFO") -> None:
    """Logging, parent death, timer slack and BLAS threads: the first thing every process of a
    session does."""
    setup_logging(name, log_level)
    die_with_parent()
    reduce_timer_slack()
    single_threaded_openblas()


def single_threaded_openblas() -> None:
    """numpy's OpenBLAS to one thread in this process. Its worker threads spin while they wait: on
    a loaded 2-core machine a small product (2,562 x 289 by 289 x 3, the SH fit) measured 7.4 ms
    with them and 1.6 ms without. torch's own thread pool (settings ``threads``) is not touched."""
    ThreadpoolController().select(internal_api="openblas").limit(limits=1)


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
    try:
        return write_json(Path(out) / "sections" / f"{name}.json", sections)
    except OutputError as exc:
        logging.getLogger(name).error("%s", exc)
        return None


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as JSON atomically (a temporary file, then a rename); OutputError names the
    file and the cause (a full disk, a read-only folder), and no temporary file is left behind."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=2, default=_json_default))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {describe_os_error(exc)}") from None
    return path


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full (no space left on device)"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"not writable ({exc.strerror})"
    return exc.strerror or str(exc)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
