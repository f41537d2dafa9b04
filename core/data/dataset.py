"""The data a run trains on: sampled x, target, noise, or your own file; train/test split."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from fitscope.core.config import DataConfig
from fitscope.core.data import file as datafile
from fitscope.core.data import targets
from fitscope.core.errors import ConfigError, printable
from fitscope.core.snapshot import DataView

GRID_POINTS = 400  # where the fit curve is drawn
IDENTITY = (0.0, 1.0)


@dataclass(frozen=True)
class Dataset:
    """Tensors in training units; ``x_scale``/``y_scale`` = (mean, sd) map them back to the data's
    own units (identity for generated targets, which train in their own units as the lesson)."""

    x_train: torch.Tensor  # [n, 1]
    y_train: torch.Tensor
    x_test: torch.Tensor  # [m, 1], m may be 0
    y_test: torch.Tensor
    x_range: tuple[float, float]  # in the data's own units
    notes: tuple[str, ...] = field(default=())
    x_scale: tuple[float, float] = IDENTITY
    y_scale: tuple[float, float] = IDENTITY
    names: tuple[str, str] = ("", "")  # a file's column names, from its header

    def to(self, device: torch.device) -> Dataset:
        return Dataset(self.x_train.to(device), self.y_train.to(device), self.x_test.to(device),
                       self.y_test.to(device), self.x_range, self.notes, self.x_scale, self.y_scale, self.names)


TORCH_OPS = targets.Ops(
    {**{n: getattr(torch, n) for n in ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu",
                                       "floor", "sign")},
     "where": lambda c, a, b: torch.where(c != 0, a, b),
     "clip": lambda v, lo, hi: torch.minimum(torch.maximum(v, lo), hi),
     "min": torch.minimum, "max": torch.maximum,
     "<": torch.lt, "<=": torch.le, ">": torch.gt, ">=": torch.ge, "==": torch.eq, "!=": torch.ne},
    lambda v, like: torch.tensor(v, dtype=like.dtype, device=like.device),
    lambda a, like: a.to(like.dtype))


def _frozen(t: torch.Tensor, scale: tuple[float, float] = IDENTITY) -> np.ndarray:
    a = t.detach().to("cpu", torch.float64).numpy().reshape(-1)
    a = a * scale[1] + scale[0] if scale != IDENTITY else a.copy()
    a.setflags(write=False)
    return a


def grid(x_range: tuple[float, float]) -> torch.Tensor:
    return torch.linspace(x_range[0], x_range[1], GRID_POINTS)[:, None]


def view(ds: Dataset, target: str | None) -> DataView:
    xs = [_frozen(ds.x_train, ds.x_scale), _frozen(ds.x_test, ds.x_scale)]
    ys = [_frozen(ds.y_train, ds.y_scale), _frozen(ds.y_test, ds.y_scale)]
    y_all = np.concatenate(ys)
    lo, hi = (float(y_all.min()), float(y_all.max())) if y_all.size else (-1.0, 1.0)
    g = grid(ds.x_range)
    truth = None
    if target is not None:
        truth = targets.evaluate(target, g, TORCH_OPS).to(torch.float64).numpy().reshape(-1).copy()
        truth[~np.isfinite(truth)] = np.nan
        truth.setflags(write=False)
    return DataView(xs[0], ys[0], xs[1], ys[1], ds.x_range, (lo, hi), ds.notes, _frozen(g), truth, *ds.names)


def generate(cfg: DataConfig) -> Dataset:
    """Sample the target on CPU, using the global RNG in the lesson's order (x, then noise).

    The caller seeds (and isolates) the global RNG so the weights drawn next match the lesson.
    """
    if cfg.file:
        return from_file(cfg)
    n = cfg.points
    if cfg.sampling == "grid":
        x = torch.unsqueeze(torch.linspace(cfg.x_min, cfg.x_max, n), dim=1)
    else:
        x = cfg.x_min + (cfg.x_max - cfg.x_min) * torch.rand(n, 1)
    y = targets.evaluate(cfg.target, x, TORCH_OPS)
    if cfg.noise == "uniform":
        y = y + cfg.noise_level * torch.rand(x.size())
    elif cfg.noise == "gaussian":
        y = y + cfg.noise_level * torch.randn(x.size())
    notes: list[str] = []
    finite = torch.isfinite(y).reshape(-1)
    if not bool(finite.all()):
        bad = x.reshape(-1)[~finite]
        count = int((~finite).sum())
        if count == n:
            raise ConfigError("data.target", cfg.target, f"it has no finite value at the {n} sampled points")
        notes.append(f"dropped {count} of {n} points where the target is not finite "
                     f"(x in [{float(bad.min()):.3g}, {float(bad.max()):.3g}])")
        x, y = x[finite], y[finite]
    test = _test_mask(x, cfg, (cfg.x_min, cfg.x_max))
    return Dataset(x[~test], y[~test], x[test], y[test], (cfg.x_min, cfg.x_max), tuple(notes))


def from_file(cfg: DataConfig) -> Dataset:
    """x and y from a file, standardised for training (drawn back in their own units)."""
    table = datafile.read(cfg.file, cfg.x_column, cfg.y_column)
    x, y, notes = table.x, table.y, table.notes
    (mx, sx), (my, sy) = datafile.standardise(x), datafile.standardise(y)
    xt = torch.tensor((x - mx) / sx, dtype=torch.float32)[:, None]
    yt = torch.tensor((y - my) / sy, dtype=torch.float32)[:, None]
    x_range = (float(x.min()), float(x.max()))
    test = _test_mask(torch.tensor(x)[:, None], cfg, x_range)
    notes = (*notes, f"loaded {x.size:,} points from {printable(cfg.file)}; trained standardised "
                     f"(losses in units of y's sd, {sy:.3g})")
    return Dataset(xt[~test], yt[~test], xt[test], yt[test], x_range, notes, (mx, sx), (my, sy),
                   (table.x_name, table.y_name))


def _test_mask(x: torch.Tensor, cfg: DataConfig, x_range: tuple[float, float]) -> torch.Tensor:
    n = x.shape[0]
    if cfg.split == "none":
        test = torch.zeros(n, dtype=torch.bool)
    elif cfg.split == "random":
        # a generator of its own, so the split does not shift the weights' RNG stream
        gen = torch.Generator().manual_seed(cfg.seed)
        order = torch.randperm(n, generator=gen)
        test = torch.zeros(n, dtype=torch.bool)
        test[order[: int(round(n * cfg.test_fraction))]] = True
    else:  # extrapolate: hold out the outer part of the range, half on each side
        lo, hi = x_range
        margin = (hi - lo) * cfg.test_fraction / 2
        flat = x.reshape(-1)
        test = (flat < lo + margin) | (flat > hi - margin)
    if bool(test.all()):
        raise ConfigError("data.test_fraction", cfg.test_fraction, "it leaves no training points; use a smaller fraction")
    return test


def drawn(cfg: DataConfig, target: bool = True) -> DataView:
    """The data a run of ``cfg`` trained on, for drawing: made from its seed as the run made it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        dataset = generate(cfg)
    return view(dataset, cfg.target if target and not cfg.file else None)
