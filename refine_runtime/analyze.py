"""``python -m refine_runtime.analyze [--config configs/refine/skirt.yaml | --sequence FILE | --base-dir D --gt-dir D]``

The notes' detail analysis: normal variation and curvature proxy of the input (base) and the ground
truth, residual magnitude statistics and the high-frequency residual. Prints a readable report and,
as the last line, one JSON object. With ``--checkpoint`` it also reports the refined quality.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence as Seq

from cosim.process import REPO_ROOT
from refine_runtime.config import load_train_config
from refine_runtime.config import resolve
from refine_runtime.metrics import detail_analysis
from refine_runtime.sequence import load_mesh_sequence, load_sequence
from cosim.errors import CosimError


def _print_report(rep: dict) -> None:
    print(f"Vertices: {rep['vertices']}")
    for key, title in (("input", "Input (base)"), ("ground_truth", "Ground truth (sim)")):
        if key not in rep:
            continue
        print(f"{title} details analysis:")
        for metric in ("normal_variation", "curvature_proxy"):
            s = rep[key][metric]
            print(f"  {metric}: mean {s['mean']:.6f} std {s['std']:.6f} max {s['max']:.6f}")
        print(f"  {'OK: good details' if rep[key]['good_details'] else 'WARNING: few details'} (mean normal variation >= 0.05)")
    if "residuals" in rep:
        r = rep["residuals"]
        m, h = r["magnitude"], r["high_frequency"]
        print(f"Residuals: mean {m['mean']:.6f} std {m['std']:.6f} max {m['max']:.6f} min {m['min']:.6f} (m)")
        print(f"High-frequency residuals: mean {h['mean']:.6f} max {h['max']:.6f} (m)")


def main(argv: Seq[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m refine_runtime.analyze", description="Detail analysis of a garment sequence.")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--config", help="training config: analyse its sequence file")
    src.add_argument("--sequence", help="a sequence .safetensors file")
    src.add_argument("--base-dir", help="folder of numbered OBJ/PLY base frames (with --gt-dir)")
    ap.add_argument("--gt-dir", help="folder of numbered OBJ/PLY ground-truth frames")
    ap.add_argument("--checkpoint", help="also refine the sequence with this checkpoint and report quality")
    ap.add_argument("--frames", type=int, default=0, help="analyse only the first N frames (0: all)")
    args = ap.parse_args(argv)
    try:
        ck = None
        if args.base_dir:
            faces, base, gt = load_mesh_sequence(args.base_dir, args.gt_dir, 30.0)
        else:
            path = args.sequence or resolve(load_train_config(args.config or REPO_ROOT / "configs/refine/skirt.yaml").output.sequence, REPO_ROOT)
            seq = load_sequence(path)
            faces, base, gt = seq.faces, seq.base, seq.gt if seq.residual is not None else None
        if args.frames:
            base, gt = base[:args.frames], None if gt is None else gt[:args.frames]
        rep = detail_analysis(base, gt, faces)
        if args.checkpoint and not args.base_dir:
            from refine_runtime.checkpoint import load_checkpoint
            from refine_runtime.metrics import quality
            from refine_runtime.train import refine_sequence
            ck = load_checkpoint(args.checkpoint, topology=seq.topology_key(), vertices=seq.n)
            refined = refine_sequence(ck, seq)[:len(base)]
            rep["quality_all_frames"] = quality(refined, base, gt, faces)
    except CosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_report(rep)
    print(json.dumps(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
