"""``run_session.py --replay SESSION``: the config of a session that replays a recorded one.

The recorded session's own config (attached to its .mcap, or its folder's config.yaml) is kept, minus
the components that produced the replayed topics; a ``replay`` component takes their place, so
everything else (client, audio, recorder, ...) runs live and is measured again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml

from recording.errors import RecordingError
from recording.reader import Recording
from recording.replay.config import DEFAULT_TOPICS
from recording.replay.source import producers, recorded_frames

REPLAY_MODULE = "recording.replay"
ENDPOINT_KEYS = ("control", "ticks", "bus_in", "bus_out")


def recorded_config(rec: Recording) -> dict[str, Any]:
    text = rec.attachments.get("config.yaml")
    if text is None:
        folder_cfg = rec.path.parent / "config.yaml"
        if not folder_cfg.is_file():
            raise RecordingError(f"{str(rec.path)!r}: no config.yaml attached and none next to it")
        text = folder_cfg.read_bytes()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RecordingError(f"{str(rec.path)!r}: recorded config.yaml is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise RecordingError(f"{str(rec.path)!r}: recorded config.yaml is not a mapping")
    return raw


def replay_config(source: str | Path, mode: Literal["lockstep", "realtime"] = "lockstep",
                  topics: list[str] | None = None) -> dict[str, Any]:
    """The replaying session's config, as a mapping for the runner to validate (session.config)."""
    rec = Recording.open(source)
    topics = list(topics or DEFAULT_TOPICS)
    raw = recorded_config(rec)
    frames = recorded_frames(rec)
    if frames == 0:
        raise RecordingError(f"{str(rec.path)!r}: no ticks recorded, nothing to replay")
    session = dict(raw.get("session") or {})
    rate = float(session.get("rate_hz", 90.0))
    session.update(mode=mode, duration_s=frames / rate, name=f"{session.get('name', 'session')}-replay"[:64])
    network = {k: v for k, v in (raw.get("network") or {}).items() if k not in ENDPOINT_KEYS}
    drop = producers(rec, topics)
    components = {name: spec for name, spec in (raw.get("components") or {}).items()
                  if name not in drop and (spec or {}).get("module") != REPLAY_MODULE}
    components["replay"] = {"module": REPLAY_MODULE, "required": mode == "lockstep", "wait_ready": True,
                            "settings": {"source": str(rec.path.resolve()), "topics": topics,
                                         "timing": "frames" if mode == "lockstep" else "time"}}
    return {**raw, "session": session, "network": network, "components": components}
