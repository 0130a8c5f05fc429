"""The client's event loop order: within each batch that ``Node.poll`` drained, data events (poses,
residuals) come before ticks, so a frame rendered for a tick uses every input that had already
arrived when it was rendered. ``Node.events()`` yields ticks first (its sockets are drained in the
order control, ticks, bus), which would render with an input one batch older than needed."""
from __future__ import annotations

from typing import Iterator

from syncserver.node import DataEvent, EndEvent, Event, Node


def data_first_events(node: Node, poll_ms: int = 100) -> Iterator[Event]:
    """Like ``Node.events()``: events until END, a stop request or a signal, then one EndEvent."""
    while True:
        if node.stop_reason:
            yield EndEvent(node.stop_reason)
            return
        batch = node.poll(poll_ms)
        batch.sort(key=lambda ev: not isinstance(ev, DataEvent))
        for ev in batch:
            yield ev
            if isinstance(ev, EndEvent):
                return
