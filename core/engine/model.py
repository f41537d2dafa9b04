"""The MLP, its activations, optimisers and losses, built from config names."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from fitscope.core.config import ModelConfig, TrainConfig
from fitscope.core.engine.registry import ACTIVATIONS, LOSSES, OPTIMIZERS

ACTIVATION_MODULES: dict[str, type[nn.Module]] = {n: getattr(nn, a.module) for n, a in ACTIVATIONS.items()}
LOSS_MODULES: dict[str, type[nn.Module]] = {n: getattr(nn, loss.module) for n, loss in LOSSES.items()}


def make_mlp(cfg: ModelConfig) -> nn.Sequential:
    """1 -> hidden... -> 1, Linear layers created in order (the lesson's RNG order)."""
    layers: list[nn.Module] = []
    width = 1
    for units in cfg.hidden:
        layers += [nn.Linear(width, units), ACTIVATION_MODULES[cfg.activation]()]
        width = units
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def make_optimizer(params: Iterable[torch.Tensor], cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    entry = OPTIMIZERS[cfg.optimizer]
    cls: type[torch.optim.Optimizer] = getattr(torch.optim, entry.cls)
    if entry.momentum:
        return cls(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)  # type: ignore[call-arg]
    fused = entry.fused and device.type in ("cpu", "cuda")
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)  # type: ignore[call-arg]


def make_loss(cfg: TrainConfig) -> nn.Module:
    loss: nn.Module = LOSS_MODULES[cfg.loss]()
    return loss
