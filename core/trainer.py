"""The synchronous trainer: data, model and optimiser on one device; ``step(n)`` and friends."""

from __future__ import annotations

import threading

import numpy as np
import torch

from fitscope.core import data as data_mod
from fitscope.core import device as device_mod
from fitscope.core.config import FitConfig
from fitscope.core.model import make_loss, make_mlp, make_optimizer


class Batches:
    """Full batch, or mini-batches from a seeded shuffle per epoch (state saveable with a run)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, size: int, seed: int):
        self.x, self.y, self.size = x, y, size
        self.rng = torch.Generator().manual_seed(seed)
        self._order: torch.Tensor | None = None
        self._pos = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.x.shape[0]
        if self.size == 0 or self.size >= n:
            return self.x, self.y
        if self._order is None or self._pos + self.size > n:
            self._order = torch.randperm(n, generator=self.rng).to(self.x.device)
            self._pos = 0
        idx = self._order[self._pos: self._pos + self.size]
        self._pos += self.size
        return self.x[idx], self.y[idx]


def build(cfg: FitConfig) -> tuple[data_mod.Dataset, torch.nn.Module]:
    """Data then weights from one seeded RNG stream, as the lesson; the caller's RNG is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.data.seed)
        dataset = data_mod.generate(cfg.data)
        if cfg.model.init_seed >= 0:  # weights of their own seed, the data unchanged
            torch.manual_seed(cfg.model.init_seed)
        model = make_mlp(cfg.model)
    return dataset, model


class Trainer:
    def __init__(self, cfg: FitConfig):
        self.cfg = cfg
        self.device = device_mod.resolve(cfg.train.device)
        self.reset()

    # ---- set-up -------------------------------------------------------------------------
    def reset(self) -> None:
        """Fresh weights and optimiser from the config's seed; step count back to 0."""
        dataset, model = build(self.cfg)
        device_mod.tune_threads(self.device, dataset.x_train.shape[0] * max(self.cfg.model.hidden) ** 2)
        self.data = dataset.to(self.device)
        self.view = data_mod.view(dataset, None if self.cfg.data.file else self.cfg.data.target)
        self.model = model.to(self.device)
        self.optimizer = make_optimizer(self.model.parameters(), self.cfg.train, self.device)
        self.loss_fn = make_loss(self.cfg.train)
        self.steps_done = 0
        # mini-batch order has its own generator: its state can be saved and restored with a run
        self.batches = Batches(self.data.x_train, self.data.y_train, self.cfg.train.batch_size, self.cfg.data.seed)
        mx, sx = dataset.x_scale
        self.grid = ((data_mod.grid(self.view.x_range) - mx) / sx).to(self.device)  # in training units

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.cfg = self.cfg.with_value("train.lr", lr)

    # ---- training -------------------------------------------------------------------------
    def step(self, n: int = 1, interrupt: threading.Event | None = None) -> np.ndarray:
        """Run up to ``n`` steps; stop early after the step during which ``interrupt`` is set.

        Returns the losses of the steps run (each computed before its update, as the lesson
        prints them). They are kept on the device and read once per call, not once per step.
        """
        model, opt, loss_fn = self.model, self.optimizer, self.loss_fn
        losses = []
        for _ in range(n):
            xb, yb = self.batches.next()
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
            if interrupt is not None and interrupt.is_set():
                break
        self.steps_done += len(losses)
        if not losses:
            return np.zeros(0)
        return torch.stack(losses).to("cpu", torch.float64).numpy()

    # ---- reading --------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: torch.Tensor | None = None) -> np.ndarray:
        """The model's output on ``x`` (default: the dense grid the chart draws)."""
        x = self.grid if x is None else x.to(self.device)
        my, sy = self.data.y_scale
        return self.model(x).reshape(-1).to("cpu", torch.float64).numpy() * sy + my

    @torch.no_grad()
    def test_loss(self) -> float | None:
        if self.data.x_test.shape[0] == 0:
            return None
        return float(self.loss_fn(self.model(self.data.x_test), self.data.y_test))
