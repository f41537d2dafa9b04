"""What every check of `fitscope check` shares: the device it runs on, the results, the settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fitscope.core.config import FitConfig
from fitscope.core.engine import device as device_mod
from fitscope.core.engine.training import Experiment, FastStepper
from fitscope.core.errors import ConfigError
from fitscope.core.spec import RunSpec

CHUNKS = [5, 40, 3, 33, 19, 160]  # uneven: eager steps fill in between blocks
OPTIMISERS: dict[str, dict[str, Any]] = {
    "sgd": {},
    "sgd+momentum+wd": {"train.momentum": 0.9, "train.lr": 0.05, "train.weight_decay": 0.01},
    "adam": {"train.optimizer": "adam", "train.lr": 0.01},
    "adamw": {"train.optimizer": "adamw", "train.lr": 0.01, "train.weight_decay": 0.01},
    "rmsprop": {"train.optimizer": "rmsprop", "train.lr": 0.001},
    "sgd+l1": {"train.loss": "l1"},
    "sgd+huber": {"train.loss": "huber"},
}
# fast kernels against torch.autograd: the same math in another order of float32 operations
FIRST_STEPS_REL, FINAL_REL = 1e-5, 5e-3
NO_GPU = "no GPU (CUDA is not available here)"


@dataclass
class Result:
    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.status} {self.name}" + (f": {self.detail}" if self.detail else "")


class CheckBase:
    """The checks for one device: "cuda" (or "cuda:N") with CUDA graphs, "cpu" with eager blocks."""

    def __init__(self, device: str, quick: bool, report: Callable[[Result], None] = lambda r: None):
        if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
            raise ConfigError("--device", device, "expected cuda, cuda:N or cpu")
        self.gpu = device.startswith("cuda") and torch.cuda.is_available()
        if self.gpu and device not in device_mod.available():
            raise ConfigError("--device", device, "not on this machine; available: " + ", ".join(device_mod.available()))
        self.device = device if self.gpu else "cpu"
        self.asked_gpu = device.startswith("cuda")
        self.quick, self.report = quick, report
        self.blocks = "graph" if self.gpu else "eager"
        self.base = FitConfig().with_value("train.device", self.device)
        self.results: list[Result] = []

    def add(self, name: str, ok: bool | None, detail: str = "", **figures: Any) -> None:
        status = "SKIP" if ok is None else "PASS" if ok else "FAIL"
        result = Result(name, status, detail, figures)
        self.results.append(result)
        self.report(result)

    def skip_without_gpu(self, name: str, why: str = NO_GPU) -> bool:
        if not self.gpu:
            self.add(name, None, why)
        return not self.gpu

    def skip(self, name: str, why: str) -> bool:
        self.add(name, None, why)
        return True

    def race(self, extra: dict[str, Any]) -> RunSpec:
        return RunSpec.race(self.base.with_values(extra), {"model.activation": ["relu", "tanh"]}, seeds=2)


def fast(exp: Experiment) -> FastStepper:
    assert isinstance(exp.stepper, FastStepper)  # every check's experiment uses the fast kernels
    return exp.stepper


def maxrel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))) if a.size else 0.0
