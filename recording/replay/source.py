"""What a replay re-publishes: the recorded messages of some topics, each keyed to the tick it followed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from recording.reader import Recording, decode
from cosim import protocol as p
from cosim.errors import ProtocolError


@dataclass
class Item:
    frame: int  # the last tick received before it (-1: before the first tick)
    log_ns: int  # recorder receive time, session time
    topic: bytes
    frames: list[bytes]  # the wire frames, byte for byte as recorded
    src: str = ""  # the recorded publisher


@dataclass
class SourceStats:
    skipped: int = 0  # undecodable, or recorded without the payloads its header describes


def items(rec: Recording, topics: Iterable[str], stats: SourceStats) -> Iterator[Item]:
    wanted = {t.encode() for t in topics}
    bus, broadcast = p.bus_decoder(), p.broadcast_decoder()
    frame = -1
    for r in rec.records():
        if r.topic == p.TOPIC_TICK:
            try:
                frame = decode(r, broadcast).msg.frame
            except ProtocolError:
                stats.skipped += 1
            continue
        if r.topic not in wanted:
            continue
        try:
            d = decode(r, bus)
        except ProtocolError:
            d = None
        if d is None or d.payload_omitted:
            stats.skipped += 1
            continue
        # a message stamped with an earlier frame than the tick it followed (the recorder drained
        # tick k+1 before it) goes out after its own tick
        key = d.msg.frame if 0 < d.msg.frame <= frame else frame
        yield Item(key, r.log_ns, r.topic, [r.topic, r.header, *r.payloads], d.msg.src)


def recorded_frames(rec: Recording) -> int:
    """Frames the recorded session ran (last tick + 1)."""
    broadcast = p.broadcast_decoder()
    last = -1
    for r in rec.records([p.TOPIC_TICK]):
        try:
            last = max(last, decode(r, broadcast).msg.frame)
        except ProtocolError:
            continue
    return last + 1


def producers(rec: Recording, topics: Iterable[str]) -> set[str]:
    """Names (``src``) of the components that published these topics."""
    bus = p.bus_decoder()
    out = set()
    for r in rec.records(list(topics)):
        try:
            out.add(decode(r, bus).msg.src)
        except ProtocolError:
            continue
    return out
