"""``python -m recording.replay --config FILE --name replay``: re-publish a recorded session's streams."""
from __future__ import annotations

import logging
import sys
from typing import Sequence

from recording.errors import RecordingError
from recording.reader import Recording
from recording.replay.player import Player
from recording.replay.source import SourceStats, items
from syncserver import protocol as p
from syncserver.component import start_component
from syncserver.errors import HandshakeError
from syncserver.node import Node

log = logging.getLogger("recording.replay")


def main(argv: Sequence[str] | None = None) -> int:
    ctx = start_component("recording.replay", "Re-publishes recorded poses, vehicles and events.", argv,
                          default_name="replay")
    s = ctx.settings
    try:
        rec = Recording.open(s.source)
    except RecordingError as exc:
        log.error("%s", exc)
        ctx.write_sections({"replay": {ctx.name: {"source": s.source, "error": str(exc)}}})
        return 2
    complete, stopped = rec.complete, rec.stopped
    stats = SourceStats()
    with Node(ctx.name, ctx.endpoints, role="replay", required=ctx.required, publish=True,
              data_topics=[p.TOPIC_REQUEST]) as node:
        node.install_signal_handlers()
        player = Player(node, s, items(rec, s.topics, stats))
        try:
            node.connect()
            node.ready()
            log.info("replaying %s (%s) by %s", rec.path, ", ".join(s.topics), s.timing)
            player.run()
        except HandshakeError as exc:
            log.error("%s", exc)
            return 1
        finally:
            sections = player.sections(ctx.name)
            sections["replay"][ctx.name].update(skipped=stats.skipped, source_complete=complete,
                                                source_stopped=stopped)
            ctx.write_sections(sections)
            log.info("published %d recorded messages", player.published)
    return 0


if __name__ == "__main__":
    sys.exit(main())
