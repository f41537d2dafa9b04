"""The network's numbers (per-layer statistics), sampled on the snapshot cadence within a time share."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

Stats = list[dict[str, float | None] | None]


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
