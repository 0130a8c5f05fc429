"""Reading a session recording back: every message, decoded with the protocol's strict decoders.

Files are read sequentially (MCAP stream reading), so a recording whose writer was killed (no summary,
no footer, a torn last record) reads up to its last complete chunk; ``Recording.complete`` tells
whether the footer was reached and ``Recording.stopped`` why reading ended early.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Union

import msgspec
import numpy as np
from mcap.exceptions import McapError
from mcap.records import Attachment, Channel, Footer, Metadata
from mcap.records import Message as McapMessage
from mcap.stream_reader import StreamReader

from recording import container
from recording.errors import RecordingError
from cosim import protocol as p
from cosim.errors import ProtocolError

RECORD_SIZE_LIMIT = 1 << 30
_header_only = msgspec.msgpack.Decoder(Union[p.Broadcast, p.BusMessage])


def resolve(source: str | Path) -> Path:
    """A session folder (its session.mcap, or its only .mcap) or an .mcap file."""
    path = Path(source)
    if path.is_dir():
        if (path / "session.mcap").is_file():
            return path / "session.mcap"
        found = sorted(path.glob("*.mcap"))
        if len(found) == 1:
            return found[0]
        raise RecordingError(f"{str(path)!r}: no session.mcap in this folder"
                             + (f" (several .mcap files: {', '.join(f.name for f in found)})" if found else ""))
    if not path.is_file():
        raise RecordingError(f"{str(path)!r}: no such session folder or .mcap file")
    return path


@dataclass
class Record:
    """One recorded message as it travelled: topic, msgpack header, raw payload frames."""

    topic: bytes
    header: bytes
    payloads: list[bytes]
    log_ns: int
    publish_ns: int
    sequence: int


@dataclass
class Decoded:
    topic: bytes
    msg: p.Message
    arrays: dict[str, np.ndarray]
    log_ns: int
    payload_omitted: bool = False


@dataclass
class Recording:
    path: Path
    complete: bool = False  # the footer was read
    stopped: str | None = None  # why reading ended before the footer
    bad_records: int = 0
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    attachments: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def open(cls, source: str | Path) -> Recording:
        rec = cls(resolve(source))
        with open(rec.path, "rb") as f:
            if f.read(8) != b"\x89MCAP0\r\n":
                raise RecordingError(f"{str(rec.path)!r} is not an MCAP file (bad magic bytes)")
        for _ in rec._records(emit_chunks=True):  # metadata and attachments live outside chunks
            pass
        return rec

    def _records(self, emit_chunks: bool = False) -> Iterator[object]:
        self.complete, self.stopped = False, None
        with open(self.path, "rb") as f:
            reader = StreamReader(f, emit_chunks=emit_chunks, record_size_limit=RECORD_SIZE_LIMIT)
            it = reader.records
            while True:
                try:
                    record = next(it)
                except StopIteration:
                    return
                except (McapError, struct.error, zlib.error, ValueError, EOFError, MemoryError) as exc:
                    self.stopped = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    return
                except Exception as exc:  # zstd/lz4 errors on a torn chunk have no common base class
                    self.stopped = f"{type(exc).__name__}: {exc}"
                    return
                if isinstance(record, Footer):
                    self.complete = True
                elif isinstance(record, Metadata):
                    self.metadata[record.name] = dict(record.metadata)
                elif isinstance(record, Attachment):
                    self.attachments[record.name] = bytes(record.data)
                yield record

    def mcap_records(self) -> Iterator[object]:
        """Every MCAP record (header, schemas, channels, messages, metadata, ...) up to the last whole one."""
        return self._records()

    def records(self, topics: Iterable[bytes | str] | None = None) -> Iterator[Record]:
        """Every recorded message in file order (the order the recorder received them)."""
        wanted = None if topics is None else {t.encode() if isinstance(t, str) else t for t in topics}
        channels: dict[int, bytes | None] = {}
        for record in self._records():
            if isinstance(record, Channel):
                is_wire = record.message_encoding == container.MESSAGE_ENCODING
                channels[record.id] = record.topic.encode() if is_wire else None
            elif isinstance(record, McapMessage):
                topic = channels.get(record.channel_id)
                if topic is None or (wanted is not None and topic not in wanted):
                    continue
                try:
                    header, payloads = container.unpack(record.data)
                except RecordingError:
                    self.bad_records += 1
                    continue
                yield Record(topic, header, payloads, record.log_time, record.publish_time, record.sequence)

    def messages(self, topics: Iterable[bytes | str] | None = None) -> Iterator[Decoded]:
        """Every recorded message, strictly decoded; undecodable ones are counted in bad_records."""
        bus, broadcast = p.bus_decoder(), p.broadcast_decoder()
        for r in self.records(topics):
            try:
                yield decode(r, broadcast if r.topic in container.BROADCAST_TOPICS else bus)
            except ProtocolError:
                self.bad_records += 1


def decode(r: Record, decoder: p.Decoder) -> Decoded:
    specs_without_payload = False
    try:
        topic, msg, arrays = decoder.decode([r.topic, r.header, *r.payloads])
    except ProtocolError:
        if r.payloads:
            raise
        try:
            msg = _header_only.decode(r.header)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProtocolError(f"recorded header on {r.topic!r}: {exc}") from None
        if msg.v != p.PROTOCOL_VERSION or not getattr(msg, "arrays", None):
            raise
        topic, arrays, specs_without_payload = r.topic, {}, True
    return Decoded(topic, msg, arrays, r.log_ns, specs_without_payload)
