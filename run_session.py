#!/usr/bin/env python3
"""The one entry point: ``python run_session.py [--config FILE] [--duration S] [--out DIR]``.

With no arguments it runs the demo session (configs/demo.yaml) and writes a session folder under
sessions/ with the resolved config, one log per component, and summary.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import msgspec
import yaml

from cosim.config import Config, StudySettings, load_yaml
from cosim.errors import ConfigError
from session.config import load_config
from session.supervisor import REPO_ROOT, Supervisor, default_session_dir, finish_session, prepare_session_dir
from cosim.errors import CosimError


EXAMPLES = """examples:
  python run_session.py                                      the demo (configs/demo.yaml, 10 s)
  python run_session.py --config configs/rig.yaml --duration 600 --participant P07 --condition A --trial 3
  python run_session.py --config my.yaml --check             validate a config and its files, start nothing
  python run_session.py --replay sessions/<id>               re-run a recorded session
  python run_session.py --compare sessions/<a> sessions/<b>  every figure of two sessions side by side
  python run_session.py --finish sessions/<id>               summary and report of a session whose runner died
during a run: m marks a moment, p pauses/resumes the traffic (both recorded as events), Ctrl-C ends
the session cleanly; from another terminal: python -m session.mark SESSION "text" and
python -m session.mark SESSION --traffic pause|resume|seek:SECONDS"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Run one VR co-simulation session and report on it.", epilog=EXAMPLES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(REPO_ROOT / "configs" / "demo.yaml"),
                    help="session config (YAML; default: configs/demo.yaml)")
    ap.add_argument("--duration", type=float, default=None, help="override session.duration_s (seconds)")
    ap.add_argument("--out", default=None,
                    help="session folder to create (default: sessions/<time>-<name>[-<participant>-<condition>-t<trial>])")
    ap.add_argument("--quiet", action="store_true", help="no live status or summary on the terminal")
    ap.add_argument("--verbose", action="store_true", help="the full summary at the end (default: the short one)")
    ap.add_argument("--check", action="store_true", help="validate the config and the files it names; start nothing")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override one config value (dotted path, YAML value), e.g. "
                         "--set components.sumo.settings.participant.enabled=false (repeatable)")
    study = ap.add_argument_group("study (override the config's study: block)")
    study.add_argument("--participant", default=None, help="participant id, e.g. P07")
    study.add_argument("--condition", default=None, help="condition, e.g. A")
    study.add_argument("--trial", type=int, default=None, help="trial number")
    study.add_argument("--notes", default=None, help="free notes, kept in the summary and the recording")
    ap.add_argument("--replay", metavar="SESSION", default=None,
                    help="re-run a recorded session (folder or .mcap), re-publishing its poses and vehicles")
    ap.add_argument("--replay-mode", choices=("lockstep", "realtime"), default="lockstep",
                    help="default: lockstep")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), default=None,
                    help="compare two session folders: print a table, write compare.html (in --out or here)")
    ap.add_argument("--finish", metavar="SESSION", default=None,
                    help="write summary.json and report.html of a session whose runner died (kill -9, a crash)")
    return ap.parse_args(argv)


def with_overrides(raw: Any, overrides: Sequence[str]) -> Any:
    """``--set a.b.c=VALUE``: VALUE read as YAML, put at that path (made where missing)."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE with a dotted KEY, e.g. session.duration_s=30")
        if not isinstance(raw, dict):
            raise ConfigError("--set: the config is not a mapping")
        node = raw
        *path, last = key.split(".")
        for part in path:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {part!r} holds a value, not a mapping")
            node = child
        try:
            node[last] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: the value is not YAML: {exc}") from None
    return raw


def with_study(cfg: Config, args: argparse.Namespace) -> Config:
    given = {k: getattr(args, k) for k in ("participant", "condition", "trial", "notes") if getattr(args, k) is not None}
    if not given:
        return cfg
    try:
        study = msgspec.convert({**msgspec.to_builtins(cfg.study), **given}, StudySettings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"study: {exc} (ids are letters, digits, _ . -)") from None
    return msgspec.structs.replace(cfg, study=study)


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
            cfg = load_config(raw=with_overrides(load_yaml(args.config), args.set), check_files=True)
        if args.duration is not None:
            if args.duration <= 0:
                raise CosimError(f"--duration must be > 0 seconds (got {args.duration})")
            cfg = msgspec.structs.replace(cfg, session=msgspec.structs.replace(cfg.session, duration_s=args.duration))
        cfg = with_study(cfg, args)
        if args.check:
            launched = ", ".join(cfg.launched()) or "none"
            external = ", ".join(sorted(set(cfg.enabled()) - set(cfg.launched())))
            print(f"config ok: {cfg.session.name}, {cfg.session.mode} at {cfg.session.rate_hz:g} Hz for "
                  f"{cfg.session.duration_s:g} s; starts {launched}" + (f"; waits for {external}" if external else "")
                  + "; every file it names exists")
            return 0
        session_dir = prepare_session_dir(Path(args.out) if args.out else default_session_dir(cfg))
    except CosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outcome = Supervisor(cfg, session_dir, quiet=args.quiet, verbose=args.verbose, keys=sys.stdin).run()
    if not args.quiet:
        print(f"session folder: {outcome.session_dir}")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
