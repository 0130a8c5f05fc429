"""An MCAP file for one session: a channel per topic, chunks flushed at least every ``flush_interval_s``.

Flushing finishes the chunk in progress and writes it to the OS, so a recorder killed at any moment
leaves a file whose every chunk but the last interval's is complete; ``recording.reader`` reads
such a file (no summary, no footer) sequentially up to its last whole record.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import IO, Sequence

from mcap.writer import CompressionType, Writer

from recording import container
from recording.foxglove import Out, data_of, schema_of
from cosim import protocol as p

PROFILE = "cosim"
_COMPRESSION = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4, "none": CompressionType.NONE}


class SessionWriter:
    def __init__(self, path: Path, *, flush_interval_s: float = 0.5, chunk_bytes: int = 1 << 20,
                 compression: str = "zstd") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = open(self.path, "wb")
        self._mcap = Writer(self._file, chunk_size=chunk_bytes, compression=_COMPRESSION[compression])
        self._mcap.start(profile=PROFILE, library="cosim-recorder")
        self._channels: dict[bytes, int] = {}  # wire topic -> channel id
        self._views: dict[str, int] = {}  # viewing topic -> channel id
        self._seq: dict[int, int] = {}
        self.flush_interval_ns = int(flush_interval_s * 1e9)
        self._last_flush = time.monotonic_ns()
        self.flushes = 0
        self.max_flush_gap_ns = 0
        self.messages = 0
        self.views = 0
        self.by_topic: dict[str, int] = {}
        self.closed = False

    def _channel(self, topic: bytes) -> int:
        cid = self._channels.get(topic)
        if cid is None:
            name = topic.decode(errors="replace")
            schema_name, schema = container.topic_schema(topic)
            sid = self._mcap.register_schema(schema_name, container.SCHEMA_ENCODING, schema)
            cid = self._mcap.register_channel(name, container.MESSAGE_ENCODING, sid, metadata={"wire_topic": name})
            self._channels[topic] = cid
        return cid

    def _add(self, cid: int, data: bytes, log_ns: int, publish_ns: int) -> None:
        seq = self._seq.get(cid, 0)
        self._seq[cid] = seq + 1
        self._mcap.add_message(cid, log_time=max(0, log_ns), data=data, publish_time=max(0, publish_ns), sequence=seq)

    def write(self, topic: bytes, header: bytes, payloads: Sequence[bytes | memoryview], *,
              log_ns: int, publish_ns: int) -> None:
        """One message: ``header`` is the msgpack header, ``payloads`` its raw array frames."""
        self._add(self._channel(topic), container.pack(header, payloads), log_ns, publish_ns)
        self.messages += 1
        name = topic.decode(errors="replace")
        self.by_topic[name] = self.by_topic.get(name, 0) + 1

    def write_message(self, topic: bytes, msg: p.Message, payloads: Sequence[bytes | memoryview] = (), *,
                      log_ns: int) -> None:
        self.write(topic, p.encode_header(msg), payloads, log_ns=log_ns, publish_ns=msg.t_ns)

    def write_view(self, topic: str, message: Out, *, log_ns: int) -> None:
        """One viewing message (recording.foxglove) on its own channel: protobuf with the Foxglove
        schema, or JSON with an object-rooted JSON Schema."""
        cid = self._views.get(topic)
        if cid is None:
            schema_name, schema_encoding, encoding, schema = schema_of(topic, message)
            sid = self._mcap.register_schema(schema_name, schema_encoding, schema)
            cid = self._views[topic] = self._mcap.register_channel(topic, encoding, sid)
        self._add(cid, data_of(message), log_ns, log_ns)
        self.views += 1

    def metadata(self, name: str, data: dict[str, str]) -> None:
        self._mcap.add_metadata(name, {k: str(v) for k, v in data.items()})

    def attach(self, name: str, media_type: str, data: bytes, log_ns: int = 0) -> None:
        self._mcap.add_attachment(create_time=0, log_time=max(0, log_ns), name=name, media_type=media_type,
                                  data=data)

    def maybe_flush(self, now_ns: int | None = None) -> bool:
        now = time.monotonic_ns() if now_ns is None else now_ns
        if now - self._last_flush < self.flush_interval_ns:
            return False
        self.flush(now)
        return True

    def flush(self, now_ns: int | None = None) -> None:
        now = time.monotonic_ns() if now_ns is None else now_ns
        self._mcap.flush()
        self.flushes += 1
        self.max_flush_gap_ns = max(self.max_flush_gap_ns, now - self._last_flush)
        self._last_flush = now

    def close(self) -> None:
        """Write the summary section and footer (a file without them is still readable)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._mcap.finish()
        finally:
            self._file.close()
