"""The network's numbers (per-layer statistics), sampled on the snapshot cadence within a time share."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

LAYER_NUMBERS = ("dead", "weight_norm", "grad_norm", "update_ratio")  # metrics.csv's order, per hidden layer


@dataclass(frozen=True)
class NetNumbers:
    """Inside one member's network: per hidden layer (one entry each, the first layer first) the share of
    units never active on the training data (relu and leaky_relu; None for the others), the weight norm,
    the last gradient's norm, and the mean update per step over the last chunk relative to the weights
    (None before there is one); then R² on the training and the test data (None: no test data, or y
    does not vary)."""

    dead: tuple[float | None, ...]
    weight_norm: tuple[float, ...]
    grad_norm: tuple[float, ...]
    update_ratio: tuple[float | None, ...]
    r2_train: float | None
    r2_test: float | None = None

    @property
    def dead_known(self) -> list[float]:
        """The layers' dead shares, where "dead" has a meaning."""
        return [v for v in self.dead if v is not None]

    def columns(self) -> dict[str, float | None]:
        """By metrics.csv's column names: ``dead_l1``, ``weight_norm_l1``, …, ``r2_train``, ``r2_test``."""
        out: dict[str, float | None] = {}
        for i, values in enumerate(zip(self.dead, self.weight_norm, self.grad_norm, self.update_ratio), 1):
            out |= {f"{name}_l{i}": v for name, v in zip(LAYER_NUMBERS, values)}
        return out | {"r2_train": self.r2_train, "r2_test": self.r2_test}


Stats = list[NetNumbers | None]  # per member; None: a diverged member's (no NaN nets)


@dataclass
class Sampler:
    clock: Callable[[], float]
    log_cap: int
    latest: Stats | None = None
    step: int | None = None
    log: list[tuple[int, Stats]] = field(default_factory=list)  # for metrics.csv, thinned evenly past log_cap
    _at: float = -math.inf  # when they were last computed, and what that cost
    _cost: float = 0.0

    def measure(self, step: int, running: bool, share: float, compute: Callable[[], Stats]) -> None:
        """While training flat out, at most ~share of the time; idle, always up to date."""
        now = self.clock()
        if step == 0 or self.step == step:
            return
        if running and now - self._at < self._cost / share:
            return
        self.latest = compute()
        self.step = step
        self._at = self.clock()
        self._cost = self._at - now
        self.log.append((step, self.latest))
        if len(self.log) > self.log_cap:
            self.log[:] = self.log[1::2]

    def columns_log(self) -> list[tuple[int, list[dict[str, float | None] | None]]]:
        """The log by metrics.csv's column names."""
        return [(step, [None if n is None else n.columns() for n in rows]) for step, rows in self.log]
