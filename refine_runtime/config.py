"""Config structs: the runtime component's settings and the offline training config (YAML)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from cosim.config import Strict, convert, load_yaml
from cosim.protocol import SH_MAX_DEGREE

PosInt = Annotated[int, msgspec.Meta(ge=1)]
Unit = Annotated[float, msgspec.Meta(ge=0, le=1)]


class ShSettings(Strict):
    """A closed asset streamed as spherical-harmonic coefficients beside the garment (shstream.py)."""

    asset: Literal["head"] = "head"  # the head proxy and its synthetic animation (spherical.py)
    degree: Annotated[int, msgspec.Meta(ge=1, le=SH_MAX_DEGREE)] = 16
    subdivisions: Annotated[int, msgspec.Meta(ge=1, le=6)] = 4  # icosphere level: 2,562 vertices at 4


class Settings(Strict):
    """``components.<name>.settings`` of ``python -m refine_runtime``."""

    train_config: str = "configs/refine/skirt.yaml"  # its output paths name checkpoint and sequence
    checkpoint: str | None = None  # overrides the training config's output.checkpoint
    sequence: str | None = None  # overrides output.sequence: the recorded base played on the clock
    # 0: no diffusion, the regressor (sampler.py): on held-out motions steps do not help (docs/refine.md)
    steps: Annotated[int, msgspec.Meta(ge=0, le=100)] = 0
    warm_start: Unit = 0.4  # restart the reverse diffusion from this fraction of T with the previous frame
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    half: bool = True  # float16 inference on CUDA
    # the network's matrix products on the CPU; auto: bfloat16 where the CPU has it natively (kernels.py)
    cpu_precision: Literal["auto", "float32", "bfloat16"] = "auto"
    cuda_graphs: bool = True
    threads: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    build_if_missing: bool = True  # train on first run (progress bar in the log) when no checkpoint exists
    stitch_tolerance_m: Annotated[float, msgspec.Meta(gt=0)] = 1e-3
    sh: ShSettings | None = None  # also stream a closed asset's SH coefficients (SH_ASSET, SH_FRAME)


class PatternAsset(Strict):
    pattern: str
    cols: Annotated[int, msgspec.Meta(ge=3, le=512)] = 24
    rows: Annotated[int, msgspec.Meta(ge=3, le=512)] = 20


class MeshAsset(Strict):
    base_dir: str
    gt_dir: str
    fps: Annotated[float, msgspec.Meta(gt=0)] = 30.0


class AssetConfig(Strict):
    garment: PatternAsset | None = None
    meshes: MeshAsset | None = None
    frames: Annotated[int, msgspec.Meta(ge=2, le=100000)] = 120
    fps: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    lowpass_rounds: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 10
    holdout_every: Annotated[int, msgspec.Meta(ge=2)] = 5  # every k-th frame is held out of training
    holdout_tail: Annotated[float, msgspec.Meta(ge=0, lt=0.5)] = 0.0  # and this last fraction, as one block
    sim_iterations: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    sim_substeps: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10


class ModelConfig(Strict):
    levels: Annotated[int, msgspec.Meta(ge=1, le=24)] = 8
    features_per_level: Annotated[int, msgspec.Meta(ge=1, le=8)] = 2
    log2_table_size: Annotated[int, msgspec.Meta(ge=8, le=24)] = 14
    base_resolution: Annotated[int, msgspec.Meta(ge=1)] = 4
    max_resolution: Annotated[int, msgspec.Meta(ge=2)] = 256
    hidden: Annotated[int, msgspec.Meta(ge=8, le=1024)] = 64
    max_neighbors: Annotated[int, msgspec.Meta(ge=3, le=32)] = 8
    state_codes: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8  # PCA components of the global base state
    patch_radius: Annotated[int, msgspec.Meta(ge=0, le=6)] = 0  # base patch around each vertex (geometry.py); 0: none
    # the patch's lattice step in rest spacings: the base's scale where it is coarser than ~3 fine spacings
    patch_step: Annotated[float, msgspec.Meta(gt=0, le=16)] = 1.0


class DiffusionConfig(Strict):
    timesteps: Annotated[int, msgspec.Meta(ge=10, le=10000)] = 1000
    beta_start: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 1e-4
    beta_end: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.02


class TrainingConfig(Strict):
    iterations: PosInt = 3000
    diffusion_start_iter: Annotated[int, msgspec.Meta(ge=0)] = 1000  # stage 1 before: conditional mean only
    batch_frames: PosInt = 4
    lr: Annotated[float, msgspec.Meta(gt=0)] = 5e-3
    grad_weight: Annotated[float, msgspec.Meta(ge=0)] = 0.1  # metric-scaled residual-gradient loss
    l1_weight: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    regressor_weight: Annotated[float, msgspec.Meta(ge=0)] = 1.0  # the steps-0 path (t = T-1, x_t = 0) trained directly
    stitch_weight: Annotated[float, msgspec.Meta(ge=0)] = 1.0  # stitched vertices' world residuals agree (before averaging)
    # vertices per iteration (a random subset; the gradient and stitch losses on the edges and pairs
    # inside it); 0: every vertex. What makes training at 60k vertices affordable.
    vertex_batch: Annotated[int, msgspec.Meta(ge=0)] = 0
    seed: int = 0
    threads: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    log_every: PosInt = 50


class NuvoConfig(Strict):
    charts: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8
    iterations: PosInt = 600
    hidden: Annotated[int, msgspec.Meta(ge=8, le=512)] = 64
    lr: Annotated[float, msgspec.Meta(gt=0)] = 3e-3
    bijective_weight: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    cluster_weight: Annotated[float, msgspec.Meta(ge=0)] = 0.5
    balance_weight: Annotated[float, msgspec.Meta(ge=0)] = 0.1


class OutputConfig(Strict):
    sequence: str
    checkpoint: str
    loss_log: str | None = None


class TrainConfig(Strict):
    asset: AssetConfig
    output: OutputConfig
    model: ModelConfig = msgspec.field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = msgspec.field(default_factory=DiffusionConfig)
    training: TrainingConfig = msgspec.field(default_factory=TrainingConfig)
    nuvo: NuvoConfig = msgspec.field(default_factory=NuvoConfig)


def resolve(path: str, root: Path) -> Path:
    """A path from a config: absolute as it is, relative to ``root`` (the repository) otherwise."""
    p = Path(path)
    return p if p.is_absolute() else root / p


def load_train_config(path: str | Path) -> TrainConfig:
    cfg = convert(load_yaml(path), TrainConfig, where=str(path) + ":")
    if (cfg.asset.garment is None) == (cfg.asset.meshes is None):
        from cosim.errors import ConfigError
        raise ConfigError(f"{path}: asset needs exactly one of 'garment' (sewing pattern) or 'meshes' (OBJ/PLY folders)")
    return cfg


def check_files(settings: Settings) -> None:
    """What the runner checks before it starts any process: the training config exists and, unless
    the runtime may build them (build_if_missing), its sequence and checkpoint."""
    from cosim.errors import InputFileError
    from cosim.process import REPO_ROOT
    train = resolve(settings.train_config, REPO_ROOT)
    if not train.is_file():
        raise InputFileError(f"train_config {str(train)!r} does not exist")
    if settings.build_if_missing:
        return
    cfg = load_train_config(train)
    for what, value in (("sequence", settings.sequence or cfg.output.sequence),
                        ("checkpoint", settings.checkpoint or cfg.output.checkpoint)):
        path = resolve(value, REPO_ROOT)
        if not path.is_file():
            raise InputFileError(f"{what} {str(path)!r} does not exist (and build_if_missing is off)")
