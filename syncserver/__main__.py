"""``python -m syncserver --config FILE [--out DIR]``: run the master clock for one session."""
from __future__ import annotations

import logging
import sys
from typing import Sequence

from syncserver.component import start_component
from syncserver.server import SyncServer

log = logging.getLogger("syncserver")


def main(argv: Sequence[str] | None = None) -> int:
    ctx = start_component("syncserver", "Master clock, tick broadcast and control channel.", argv)
    expected = {name for name, spec in ctx.config.enabled().items()
                if spec.wait_ready and spec.module != "syncserver"}
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
