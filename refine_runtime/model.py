"""The residual model: a multiresolution hash-grid feature field over (chart, u, v) and a small
denoiser MLP that predicts the clean normalised residual x0 from (x_t, t, field features, base
features). Plus the diffusion schedule and the DDIM step coefficients."""
from __future__ import annotations

import math

import torch
from torch import nn

from refine_runtime.config import DiffusionConfig, ModelConfig
from refine_runtime.geometry import n_features

PRIMES = (1, 2654435761, 805459861)
TIME_DIM = 16


class HashGrid(nn.Module):
    """Instant-NGP style: per level a table of ``2**log2_table_size`` feature vectors; a (chart, u, v)
    corner is looked up densely when the level's grid fits the table, hashed otherwise; bilinear blend."""

    def __init__(self, cfg: ModelConfig, charts: int) -> None:
        super().__init__()
        self.levels, self.feats, self.size = cfg.levels, cfg.features_per_level, 2 ** cfg.log2_table_size
        self.charts = charts
        growth = (cfg.max_resolution / cfg.base_resolution) ** (1 / max(cfg.levels - 1, 1))
        self.resolutions = [int(math.floor(cfg.base_resolution * growth ** lvl)) for lvl in range(cfg.levels)]
        self.table = nn.Parameter(torch.empty(cfg.levels, self.size, self.feats).uniform_(-1e-4, 1e-4))

    @property
    def out_dim(self) -> int:
        return self.levels * self.feats

    @staticmethod
    def _corners(uv: torch.Tensor, res: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The 4 grid corners (n, 4, 2) of each vertex's cell at resolution ``res`` and its position in the cell (n, 2)."""
        offsets = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], device=uv.device)
        pos = uv.clamp(0, 1) * res
        base = pos.floor().clamp(max=res - 1)
        return base.long().unsqueeze(1) + offsets, pos - base

    @staticmethod
    def _dense(chart: torch.Tensor, corner: torch.Tensor, res: int) -> torch.Tensor:
        return chart.unsqueeze(1) * (res + 1) ** 2 + corner[..., 1] * (res + 1) + corner[..., 0]

    def cells(self, chart: torch.Tensor, uv: torch.Tensor) -> list[torch.Tensor]:
        """Per level, each vertex's 4 corners as distinct grid-cell ids (n, 4): the rows a table with
        no hashing would use."""
        return [self._dense(chart, self._corners(uv, res)[0], res) for res in self.resolutions]

    def index(self, chart: torch.Tensor, uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Table rows (L, n, 4) and bilinear weights (L, n, 4) for every vertex."""
        rows, weights = [], []
        for res in self.resolutions:
            corner, frac = self._corners(uv, res)  # (n, 4, 2), (n, 2)
            if (res + 1) ** 2 * self.charts <= self.size:
                row = self._dense(chart, corner, res)
            else:
                row = (corner[..., 0] * PRIMES[0]) ^ (corner[..., 1] * PRIMES[1]) ^ (chart.unsqueeze(1) * PRIMES[2])
                row = row % self.size
            wx = torch.stack([1 - frac[:, 0], frac[:, 0], 1 - frac[:, 0], frac[:, 0]], -1)
            wy = torch.stack([1 - frac[:, 1], 1 - frac[:, 1], frac[:, 1], frac[:, 1]], -1)
            rows.append(row)
            weights.append(wx * wy)
        return torch.stack(rows), torch.stack(weights)

    def forward(self, chart: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
        return self.lookup(*self.index(chart, uv))

    def lookup(self, rows: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        level = torch.arange(self.levels, device=rows.device).view(-1, 1, 1)
        feats = self.table[level, rows]  # (L, n, 4, F)
        out = (feats * weights.unsqueeze(-1)).sum(2)  # (L, n, F)
        return out.permute(1, 0, 2).reshape(rows.shape[1], -1)


def time_embedding(t: torch.Tensor, timesteps: int) -> torch.Tensor:
    """Sinusoids of t / T at octave frequencies."""
    freqs = math.pi * 2.0 ** torch.arange(TIME_DIM // 2, device=t.device, dtype=torch.float32)
    arg = (t.float() / timesteps).unsqueeze(-1) * freqs
    return torch.cat([torch.sin(arg), torch.cos(arg)], -1)


class ResidualModel(nn.Module):
    """Denoiser = a per-frame trunk (hash field, base features, state code; two layers) and a per-step
    head (one hidden layer on trunk, x_t and t), so K steps cost little more than one."""

    def __init__(self, cfg: ModelConfig, diffusion: DiffusionConfig, charts: int, vertices: int) -> None:
        super().__init__()
        self.cfg, self.diffusion = cfg, diffusion
        self.grid = HashGrid(cfg, charts)
        self.n_feat = n_features(cfg.patch_radius)
        h = cfg.hidden
        self.in_field = nn.Linear(self.grid.out_dim, h)
        self.in_cond = nn.Linear(self.n_feat, h, bias=False)
        self.in_x = nn.Linear(3, h, bias=False)
        self.in_t = nn.Linear(TIME_DIM, h, bias=False)
        self.in_code = nn.Linear(cfg.state_codes, h, bias=False)
        # multiplicative: the base state (code, local features) scales each vertex's field term, so a
        # vertex can respond to the pose in its own way (an additive code cannot do that)
        self.mod_code = nn.Linear(cfg.state_codes, h, bias=False)
        self.mod_cond = nn.Linear(self.n_feat, h, bias=False)
        for lin in (self.mod_code, self.mod_cond):
            nn.init.zeros_(lin.weight)
        self.mid = nn.Linear(h, h)
        self.step_z = nn.Linear(h, h)
        self.out = nn.Linear(h, 3)
        # a linear skip from the first layer's pre-activation to x0: the per-frame part of the prediction
        # that is bilinear in (field, base state) reaches the output without passing the deep layers
        self.skip = nn.Linear(h, 3, bias=False)
        nn.init.zeros_(self.skip.weight)
        self.register_buffer("feat_mean", torch.zeros(self.n_feat))
        self.register_buffer("feat_std", torch.ones(self.n_feat))
        self.register_buffer("res_mean", torch.zeros(3))
        self.register_buffer("res_std", torch.ones(3))
        # global base-state code: PCA of the training base frames (k x 3n basis), per-code scale
        self.register_buffer("pca_mean", torch.zeros(vertices * 3))
        self.register_buffer("pca_basis", torch.zeros(cfg.state_codes, vertices * 3))
        self.register_buffer("code_std", torch.ones(cfg.state_codes))
        betas = torch.linspace(diffusion.beta_start, diffusion.beta_end, diffusion.timesteps, dtype=torch.float64)
        self.register_buffer("alpha_bar", torch.cumprod(1 - betas, 0).float(), persistent=False)

    def first_layer_static(self, field: torch.Tensor) -> torch.Tensor:
        return self.in_field(field)

    def state_code(self, base: torch.Tensor) -> torch.Tensor:
        """Base positions (..., n, 3) -> normalised global state code (..., k)."""
        flat = base.reshape(*base.shape[:-2], -1) - self.pca_mean
        return flat @ self.pca_basis.t() / self.code_std

    def trunk(self, static: torch.Tensor, cond: torch.Tensor, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Once per frame: field + base features + state code -> trunk output (..., n, H), already
        projected for the step head, and the skip term of x0 (..., n, 3)."""
        gain = 1 + self.mod_cond(cond) + self.mod_code(code).unsqueeze(-2)
        pre = static * gain + self.in_cond(cond) + self.in_code(code).unsqueeze(-2)
        return self.step_z(nn.functional.silu(self.mid(nn.functional.silu(pre)))), self.skip(pre)

    def step(self, trunk: tuple[torch.Tensor, torch.Tensor], x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Once per diffusion step: a light head on (trunk, x_t, t) -> predicted clean residual x0."""
        z, skip = trunk
        temb = self.in_t(time_embedding(t, self.diffusion.timesteps))
        while temb.dim() < x_t.dim():
            temb = temb.unsqueeze(-2)
        return self.out(torch.relu(z + self.in_x(x_t) + temb)) + skip  # ReLU: the cheap per-step activation

    def denoise(self, static: torch.Tensor, cond: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                code: torch.Tensor) -> torch.Tensor:
        """static: first-layer field term (n, H); cond: normalised features (..., n, C); t: (...,) or
        scalar; code: global state code (..., k)."""
        return self.step(self.trunk(static, cond, code), x_t, t)

    def normalise_features(self, feats: torch.Tensor) -> torch.Tensor:
        return (feats - self.feat_mean) / self.feat_std


def ddim_schedule(alpha_bar: torch.Tensor, steps: int, start: float) -> list[tuple[int, float, float]]:
    """Timesteps from ``start`` (fraction of T) down to 0 in ``steps`` steps: (t, a_t, a_prev) each."""
    T = len(alpha_bar)
    top = max(1, min(T - 1, int(round(start * (T - 1)))))
    ts = torch.linspace(top, 0, steps).round().long().tolist()
    out = []
    for k, t in enumerate(ts):
        prev = ts[k + 1] if k + 1 < len(ts) else -1
        out.append((t, float(alpha_bar[t]), float(alpha_bar[prev]) if prev >= 0 else 1.0))
    return out
