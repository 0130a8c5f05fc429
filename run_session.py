#!/usr/bin/env python3
"""The one entry point: ``python run_session.py [--config FILE] [--duration S] [--out DIR]``.

With no arguments it runs the demo session (configs/demo.yaml) and writes a session folder under
sessions/ with the resolved config, one log per component, and summary.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import msgspec

from session.config import load_config
from session.supervisor import REPO_ROOT, Supervisor, default_session_dir, finish_session, prepare_session_dir
from cosim.errors import CosimError


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Run one VR co-simulation session and report on it.")
    ap.add_argument("--config", default=str(REPO_ROOT / "configs" / "demo.yaml"), help="session config (YAML)")
    ap.add_argument("--duration", type=float, default=None, help="override session.duration_s (seconds)")
    ap.add_argument("--out", default=None, help="session folder to create (default: sessions/<time>-<name>)")
    ap.add_argument("--quiet", action="store_true", help="no live status or summary on the terminal")
    ap.add_argument("--replay", metavar="SESSION", default=None,
                    help="re-run a recorded session (folder or .mcap), re-publishing its poses and vehicles")
    ap.add_argument("--replay-mode", choices=("lockstep", "realtime"), default="lockstep")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), default=None,
                    help="compare two session folders: print a table, write compare.html (in --out or here)")
    ap.add_argument("--finish", metavar="SESSION", default=None,
                    help="write summary.json and report.html of a session whose runner died (kill -9, a crash)")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.compare:
        from recording.compare import compare_main
        return compare_main(*args.compare, out=args.out)
    if args.finish:
        try:
            outcome = finish_session(Path(args.finish), quiet=args.quiet)
        except CosimError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0 if outcome.ok else 1
    try:
        if args.replay:
            from recording.replay.session import replay_config
            cfg = load_config(raw=replay_config(args.replay, args.replay_mode), check_files=True)
        else:
            cfg = load_config(args.config, check_files=True)
        if args.duration is not None:
            if args.duration <= 0:
                raise CosimError(f"--duration must be > 0 seconds (got {args.duration})")
            cfg = msgspec.structs.replace(cfg, session=msgspec.structs.replace(cfg.session, duration_s=args.duration))
        session_dir = prepare_session_dir(Path(args.out) if args.out else default_session_dir(cfg))
    except CosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outcome = Supervisor(cfg, session_dir, quiet=args.quiet).run()
    if not args.quiet:
        print(f"session folder: {outcome.session_dir}")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
