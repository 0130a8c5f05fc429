"""``python -m syncserver --config FILE [--out DIR]``: run the master clock for one session."""
from __future__ import annotations

import logging
import sys
from typing import Sequence

from syncserver.component import start_component
from syncserver.server import SyncServer
from syncserver.timing import realtime_priority

log = logging.getLogger("syncserver")


def main(argv: Sequence[str] | None = None) -> int:
    ctx = start_component("syncserver", "Master clock, tick broadcast and control channel.", argv)
    expected = {name for name, spec in ctx.config.enabled().items()
                if spec.wait_ready and spec.module != "syncserver"}
    # before the server's zmq context exists, so its I/O threads and the bus proxy thread inherit it
    realtime_priority(ctx.config.session.rt_priority, "ticks may wait behind other processes' time slices")
    server = SyncServer(ctx.config.session, ctx.endpoints, expected)
    server.install_signal_handlers()
    try:
        reason = server.run()
    finally:
        ctx.write_sections(server.sections())
        server.close()
    return 3 if reason.startswith("ready timeout") else 0


if __name__ == "__main__":
    sys.exit(main())
