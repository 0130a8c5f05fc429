"""``python -m session.mark SESSION [TEXT]``: mark a moment of a running session from another
terminal (or a script: a button box, a questionnaire). The marker goes on the bus as an EVENT
``{kind: marker, subject: TEXT}`` at the session time it was sent, so the recorder keeps it with
everything else and the report and the exports list it.

``python -m session.mark SESSION --traffic pause|resume|seek:SECONDS|speed:FACTOR`` controls the traffic instead:
a REQUEST to the SUMO bridge (docs/sumo.md, Requests), and an EVENT ``{kind: control}`` that
records who asked for it and when.

Examples:
  python -m session.mark sessions/20261205-101500-demo "participant hesitated"
  python -m session.mark sessions/20261205-101500-demo --traffic pause
  python -m session.mark sessions/20261205-101500-demo --traffic seek:120
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from cosim import protocol as p
from cosim.config import read_config, resolve_endpoints
from cosim.curve import client_keys
from cosim.errors import CosimError
from cosim.node import Node
from cosim.process import setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m session.mark", description=__doc__.splitlines()[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("session", help="the running session's folder (its config.yaml holds the endpoints)")
    ap.add_argument("text", nargs="?", default="", help="what happened (its first 128 characters are the subject)")
    ap.add_argument("--traffic", metavar="ACTION", default=None,
                    help="pause, resume, seek:SECONDS (SUMO's time) or speed:FACTOR (sim seconds per second) "
                         "instead of a marker")
    args = ap.parse_args(argv)
    setup_logging("mark", "WARNING")
    try:
        cfg = read_config(Path(args.session) / "config.yaml")
        net = cfg.network
        curve = client_keys(net)
        with Node(f"marker.{os.getpid()}", resolve_endpoints(net), role="marker", publish=True, curve=curve) as node:
            node.connect(10)
            node.ready(5)
            if node.epoch_ns is None:
                print("error: the session has not started yet", file=sys.stderr)
                return 1
            now = node.session_ns()
            for topic, msg in messages(args.text, args.traffic, now, node.last_frame or 0, "session.mark"):
                node.publish(topic, msg)
    except CosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{'traffic ' + args.traffic if args.traffic else 'marked'} at {now / 1e9:.3f} s of session time")
    return 0


TRAFFIC = ("pause", "resume")


def messages(text: str, traffic: str | None, now: int, frame: int, source: str) -> list[tuple[bytes, p.Message]]:
    """What a marker or a traffic control puts on the bus (the runner's keys send the same)."""
    if traffic is None:
        return [(p.TOPIC_EVENTS, p.Event(kind="marker", subject=text[:p.NAME_LIMIT], at_ns=now, t_ns=now, frame=frame,
                                         data={"source": source, "text": text[:1000]}))]
    if traffic not in TRAFFIC and not traffic.startswith(("seek:", "speed:")):
        raise CosimError(f"--traffic {traffic!r}: expected pause, resume, seek:SECONDS or speed:FACTOR")
    if traffic.startswith(("seek:", "speed:")):
        try:
            float(traffic.split(":", 1)[1])
        except ValueError:
            raise CosimError(f"--traffic {traffic!r}: a number after the colon, e.g. seek:120 or speed:2") from None
    return [(p.TOPIC_REQUEST, p.Request(what=f"sumo.{traffic}", t_ns=now, frame=frame)),
            (p.TOPIC_EVENTS, p.Event(kind="control", subject=f"traffic {traffic}", at_ns=now, t_ns=now, frame=frame,
                                     data={"source": source}))]


if __name__ == "__main__":
    sys.exit(main())
