"""``python -m recording.report SESSION_DIR``: (re)build a session folder's report.html."""
from __future__ import annotations

import argparse
import sys

from recording.report.build import build_report
from cosim.errors import CosimError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recording.report", description=__doc__)
    ap.add_argument("session", help="session folder (with summary.json, and session.mcap if recorded)")
    args = ap.parse_args(argv)
    try:
        print(build_report(args.session))
    except CosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
