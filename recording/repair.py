"""A recording whose writer died (kill -9, a full disk) has no summary and no footer, and the
standard MCAP reader (``mcap.reader.make_reader(...).iter_messages()``) refuses it. ``repair``
rewrites every whole record it still holds into a complete MCAP file, in place.

    python -m recording.repair SESSION_DIR_OR_MCAP
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from mcap.reader import make_reader
from mcap.records import Attachment, Channel, Header, Message, Metadata, Schema
from mcap.writer import CompressionType, Writer

from recording.errors import RecordingError
from recording.reader import Recording, resolve


def readable(path: Path) -> bool:
    """Whether the standard reader takes the file: its summary, and every message from start to end."""
    try:
        with open(path, "rb") as f:
            reader = make_reader(f)
            if reader.get_summary() is None:
                return False
            for _ in reader.iter_messages():
                pass
        return True
    except Exception:  # noqa: BLE001  the mcap package raises many kinds for a torn file
        return False


def repair(source: str | Path) -> dict[str, Any]:
    """Rewrite ``source`` as a complete MCAP file if the standard reader refuses it. Returns what was
    done: ``repaired`` (bool), ``messages`` kept, ``stopped`` (why the old file's reading ended)."""
    path = resolve(source)
    if readable(path):
        return {"repaired": False, "path": path.name}
    rec = Recording(path)
    tmp = path.with_name(path.name + ".repair")
    schemas: dict[int, int] = {}
    channels: dict[int, int] = {}
    messages = 0
    try:
        with open(tmp, "wb") as out:
            writer = Writer(out, compression=CompressionType.ZSTD)
            started = False
            for record in rec.mcap_records():
                if isinstance(record, Header):
                    writer.start(profile=record.profile, library=record.library)
                    started = True
                    continue
                if not started:
                    writer.start()
                    started = True
                if isinstance(record, Schema):
                    schemas[record.id] = writer.register_schema(record.name, record.encoding, record.data)
                elif isinstance(record, Channel):
                    channels[record.id] = writer.register_channel(record.topic, record.message_encoding,
                                                                  schemas.get(record.schema_id, 0), dict(record.metadata))
                elif isinstance(record, Message) and record.channel_id in channels:
                    writer.add_message(channels[record.channel_id], record.log_time, record.data,
                                       record.publish_time, record.sequence)
                    messages += 1
                elif isinstance(record, Metadata):
                    writer.add_metadata(record.name, dict(record.metadata))
                elif isinstance(record, Attachment):
                    writer.add_attachment(record.create_time, record.log_time, record.name, record.media_type,
                                          record.data)
            if not started:
                raise RecordingError(f"{str(path)!r} holds no MCAP header: nothing to repair")
            writer.finish()
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RecordingError(f"cannot repair {str(path)!r}: {exc}") from None
    os.replace(tmp, path)
    return {"repaired": True, "path": path.name, "messages": messages, "stopped": rec.stopped}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recording.repair", description=__doc__.splitlines()[0],
                                 epilog="Example: python -m recording.repair sessions/20261204-180000-demo")
    ap.add_argument("source", help="a session folder or an .mcap file")
    args = ap.parse_args(argv)
    try:
        result = repair(args.source)
    except RecordingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"repaired {result['path']}: {result['messages']} messages kept ({result['stopped']})" if result["repaired"]
          else f"{result['path']} is complete; nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
