"""Checkpoints: safetensors (tensors + string metadata, never pickle), validated on load.

Tensors: the model's state dict under ``model.*`` and the asset's chart/UV index under ``index.*``
(cached so it is never recomputed per frame, learned or not). Metadata: format, the model and
diffusion configs (JSON), the asset's topology key, vertex and chart counts, training stats (JSON).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import torch

from refine_runtime.config import DiffusionConfig, ModelConfig
from refine_runtime.errors import CheckpointError
from refine_runtime.model import ResidualModel
from refine_runtime.safetensors_io import read_safetensors

FORMAT = "refine-checkpoint/1"


@dataclass
class Checkpoint:
    model: ResidualModel
    chart: np.ndarray
    uv: np.ndarray
    topology: str
    asset: str
    stats: dict[str, Any]


def save_checkpoint(path: str | Path, ck: Checkpoint) -> Path:
    from safetensors.torch import save_file
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in ck.model.state_dict().items()}
    tensors["index.chart"] = torch.from_numpy(ck.chart.astype(np.int64))
    tensors["index.uv"] = torch.from_numpy(ck.uv.astype(np.float32))
    meta = {"format": FORMAT, "model": json.dumps(msgspec.to_builtins(ck.model.cfg)),
            "diffusion": json.dumps(msgspec.to_builtins(ck.model.diffusion)),
            "charts": str(ck.model.grid.charts), "vertices": str(len(ck.chart)), "topology": ck.topology,
            "asset": ck.asset, "stats": json.dumps(ck.stats)}
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def load_checkpoint(path: str | Path, topology: str | None = None, vertices: int | None = None) -> Checkpoint:
    """Load and validate; ``topology``/``vertices`` (when given) must match the asset it will refine."""
    path = Path(path)
    where = f"checkpoint {str(path)!r}"
    meta, tensors = read_safetensors(path, "pt", FORMAT, CheckpointError, where, "is corrupt or not a safetensors file")
    try:
        mcfg = msgspec.convert(json.loads(meta["model"]), ModelConfig)
        dcfg = msgspec.convert(json.loads(meta["diffusion"]), DiffusionConfig)
        charts, n = int(meta["charts"]), int(meta["vertices"])
        stats = json.loads(meta.get("stats", "{}"))
    except (KeyError, ValueError, msgspec.ValidationError) as exc:
        raise CheckpointError(f"{where}: bad metadata ({type(exc).__name__}: {exc})") from None
    if topology is not None and meta.get("topology") != topology:
        raise CheckpointError(f"{where} was trained for asset {meta.get('asset')!r} with topology "
                              f"{meta.get('topology')!r}, but the sequence has topology {topology!r}; retrain or pick the matching checkpoint")
    if vertices is not None and n != vertices:
        raise CheckpointError(f"{where} indexes {n} vertices but the asset has {vertices}")
    model = ResidualModel(mcfg, dcfg, charts, n)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{where}: tensors do not match the model its metadata describes: "
                              f"{str(exc).splitlines()[0]} ...") from None
    for k, v in state.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise CheckpointError(f"{where}: tensor model.{k} holds non-finite values")
    chart, uv = tensors.get("index.chart"), tensors.get("index.uv")
    if chart is None or uv is None or chart.shape != (n,) or uv.shape != (n, 2):
        raise CheckpointError(f"{where}: index.chart/index.uv missing or not shaped ({n},) / ({n}, 2)")
    if chart.min() < 0 or chart.max() >= charts or not torch.isfinite(uv).all():
        raise CheckpointError(f"{where}: index.chart outside [0, {charts}) or non-finite index.uv")
    return Checkpoint(model.eval(), chart.numpy(), uv.numpy(), meta.get("topology", ""), meta.get("asset", ""), stats)
