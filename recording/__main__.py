"""``python -m recording --config FILE --name recorder --out SESSION_DIR``: record the session to MCAP."""
from __future__ import annotations

import logging
import sys
from typing import Sequence

from recording.recorder import Recorder, settings_of
from syncserver.component import start_component
from syncserver.errors import HandshakeError
from syncserver.node import Node

log = logging.getLogger("recording")


def main(argv: Sequence[str] | None = None) -> int:
    ctx = start_component("recording", "Records every stream of the session into one MCAP file.", argv,
                          default_name="recorder")
    settings = settings_of(ctx)
    with Node(ctx.name, ctx.endpoints, role="recorder", required=ctx.required, data_topics=[b""]) as node:
        node.install_signal_handlers()
        try:
            recorder = Recorder(ctx, node, settings)
        except OSError as exc:
            log.error("cannot create the recording: %s", exc)
            ctx.write_sections({"recording": {"error": str(exc)}})
            return 1
        try:
            node.connect()
            node.ready()
            log.info("recording to %s", recorder.writer.path)
            recorder.run()
        except HandshakeError as exc:
            log.error("%s", exc)
            return 1
        finally:
            recorder.close()
            ctx.write_sections(recorder.sections())
            log.info("recorded %d messages (%s) in %d flushes", recorder.writer.messages,
                     ", ".join(f"{k} {v}" for k, v in recorder.writer.by_topic.items()), recorder.writer.flushes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
