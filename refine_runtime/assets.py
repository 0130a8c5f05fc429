"""Resolve the runtime's asset files (training config, sequence, checkpoint) and build them on first run."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from refine_runtime.config import Settings, TrainConfig, load_train_config
from refine_runtime.config import resolve
from refine_runtime.sequence import Sequence, load_sequence
from cosim.process import REPO_ROOT

log = logging.getLogger("refine")


@dataclass(frozen=True)
class AssetPaths:
    train_config: TrainConfig
    sequence: Path
    checkpoint: Path


def asset_paths(settings: Settings, root: Path = REPO_ROOT) -> AssetPaths:
    cfg = load_train_config(resolve(settings.train_config, root))
    return AssetPaths(cfg, resolve(settings.sequence or cfg.output.sequence, root),
                      resolve(settings.checkpoint or cfg.output.checkpoint, root))


def load_base_sequence(settings: Settings, root: Path = REPO_ROOT) -> Sequence:
    """The recorded base the runtime (and the client) play on the master clock."""
    return load_sequence(asset_paths(settings, root).sequence)


def ensure_built(paths: AssetPaths, root: Path = REPO_ROOT) -> None:
    """First run without a checkpoint: simulate and train now (progress bar on stderr)."""
    if paths.checkpoint.is_file():
        return
    from refine_runtime.train import build
    log.warning("no checkpoint at %s: building it now (simulation + training, a few minutes on 2 cores)",
                paths.checkpoint)
    build(paths.train_config, root)
