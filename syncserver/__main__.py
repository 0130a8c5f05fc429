"""``python -m syncserver --config FILE [--out DIR]``: run the master clock for one session."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Sequence

from cosim.config import read_config, resolve_endpoints
from cosim.curve import ServerKeys, secrets_folder
from cosim.errors import CosimError
from cosim.process import command_line, start_process, write_sections
from cosim.timing import realtime_priority
from syncserver.server import SyncServer

log = logging.getLogger("syncserver")


def main(argv: Sequence[str] | None = None) -> int:
    args = command_line("syncserver", "Master clock, tick broadcast and control channel.", "syncserver", argv)
    start_process(args.name, args.log_level)
    try:
        cfg = read_config(args.config)
        endpoints = resolve_endpoints(cfg.network)
        curve = ServerKeys.load(secrets_folder(cfg.network.secrets)) if cfg.network.uses_curve else None
    except CosimError as exc:
        log.error("%s", exc)
        return 2
    expected = {name for name, spec in cfg.enabled().items() if spec.wait_ready and spec.module != "syncserver"}
    # before the server's zmq context exists, so its I/O threads and the bus proxy thread inherit it
    realtime_priority(cfg.session.rt_priority, "ticks may wait behind other processes' time slices")
    known = {name for name, spec in cfg.enabled().items() if spec.module != "syncserver"}
    server = SyncServer(cfg.session, endpoints, expected, known, curve=curve)
    server.install_signal_handlers()
    try:
        reason = server.run()
    finally:
        write_sections(Path(args.out) if args.out else None, args.name, server.sections())
        server.close()
    return 3 if reason.startswith("ready timeout") else 0


if __name__ == "__main__":
    sys.exit(main())
