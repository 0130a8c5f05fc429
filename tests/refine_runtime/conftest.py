"""A tiny garment (4 gores of 8 x 6 vertices), simulated and trained in seconds, shared by the tests."""
from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from refine_runtime.config import TrainConfig
from refine_runtime.pattern import skirt_pattern

TINY = {
    "asset": {"garment": {"pattern": "PATTERN", "cols": 8, "rows": 6}, "frames": 40, "fps": 30,
              "lowpass_rounds": 4, "holdout_every": 5, "holdout_tail": 0.1, "sim_iterations": 4,
              "sim_substeps": 6},
    "model": {"levels": 6, "features_per_level": 2, "log2_table_size": 12, "base_resolution": 4,
              "max_resolution": 64, "hidden": 32},
    "diffusion": {"timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02},
    "training": {"iterations": 500, "diffusion_start_iter": 200, "batch_frames": 4, "lr": 0.01,
                 "grad_weight": 0.05, "seed": 0, "threads": 1, "log_every": 50},
    "output": {"sequence": "tiny_sequence.safetensors", "checkpoint": "tiny.safetensors", "loss_log": "tiny_loss.csv"},
}


def tiny_config(folder: Path) -> tuple[Path, TrainConfig]:
    pattern = folder / "pattern.json"
    pattern.write_text(json.dumps(skirt_pattern(name="tiny")))
    raw = json.loads(json.dumps(TINY))
    raw["asset"]["garment"]["pattern"] = str(pattern)
    for key in raw["output"]:
        raw["output"][key] = str(folder / raw["output"][key])
    path = folder / "tiny.yaml"
    import yaml
    path.write_text(yaml.safe_dump(raw))
    return path, msgspec.convert(raw, TrainConfig)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(config path, config, sequence, checkpoint), built once per test session."""
    from refine_runtime.train import build
    from refine_runtime.sequence import load_sequence
    folder = tmp_path_factory.mktemp("refine_tiny")
    path, cfg = tiny_config(folder)
    ck = build(cfg, folder, progress=False)
    return path, cfg, load_sequence(cfg.output.sequence), ck
