"""What a recording can tell when the syncserver could not write its own sections (it was killed):
the session and tick figures, rebuilt from the recorded TICKs."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cosim import protocol as p
from cosim.stats import percentile_block
from recording.reader import Recording


def session_sections(source: str | Path, end_reason: str, late_threshold_us: float = 1000.0) -> dict[str, Any]:
    """``session`` and ``ticks`` sections from the ticks in ``source`` (a session folder or .mcap)."""
    rec = Recording.open(source)
    frames, t_ns, sent_ns = [], [], []
    start: p.Start | None = None
    for d in rec.messages([p.TOPIC_TICK, p.TOPIC_SESSION]):
        if isinstance(d.msg, p.Tick):
            frames.append(d.msg.frame)
            t_ns.append(d.msg.t_ns)
            sent_ns.append(d.msg.sent_ns)
        elif isinstance(d.msg, p.Start):
            start = d.msg
    n = len(frames)
    rate = start.rate_hz if start else None
    lateness = np.asarray(sent_ns, dtype=np.int64) - np.asarray(t_ns, dtype=np.int64)
    # unpaced lockstep: TICK carries its emission time, so there is no lateness to report
    paced = start is not None and bool(n) and (start.mode == "realtime" or bool(lateness.any()))
    session: dict[str, Any] = {
        "frames": (max(frames) + 1) if frames else 0, "recorded_ticks": n, "started": start is not None,
        "end_reason": end_reason, "rebuilt_from": str(rec.path.name),
        "elapsed_s": round((sent_ns[-1] - sent_ns[0]) / 1e9, 6) if n > 1 else 0.0,
    }
    if start is not None:
        session.update(id=start.session_id, mode=start.mode, rate_hz=rate,
                       duration_s=round(session["frames"] / rate, 6) if rate else None)
    ticks = {"lateness_us": percentile_block(lateness if paced else [], 1e-3),
             "late": int((lateness > late_threshold_us * 1e3).sum()) if paced else 0,
             "late_threshold_us": late_threshold_us, "rebuilt_from": str(rec.path.name)}
    return {"session": session, "ticks": ticks}
