"""Per member of a run: its last and best loss, and the step it diverged at — numpy only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Ledger:
    last: np.ndarray
    best: np.ndarray
    best_step: np.ndarray
    first: np.ndarray = field(default_factory=lambda: np.zeros(0))  # each member's step-1 loss (NaN until then)
    dead: dict[int, int] = field(default_factory=dict)  # member -> the step its loss stopped being finite

    @classmethod
    def empty(cls, k: int) -> Ledger:
        return cls(np.full(k, np.nan), np.full(k, np.inf), np.zeros(k, dtype=np.int64), np.full(k, np.nan))

    def restore(self, saved: dict[str, Any]) -> None:
        """The bests and lasts a checkpoint holds, where they fit this run's members."""
        k = len(self.last)
        for name in ("best", "best_step", "last", "first"):
            values = saved.get(name)
            if isinstance(values, list) and len(values) == k:
                setattr(self, name, np.array(values, dtype=getattr(self, name).dtype))

    def take(self, j: int, first: int, col: np.ndarray) -> tuple[np.ndarray, int | None]:
        """Member j's losses of steps first, first+1, …: the finite head, and the step it died at
        if a NaN or inf came (it is then dead)."""
        died = None
        bad = ~np.isfinite(col)
        if bad.any():
            i = int(np.argmax(bad))
            col, died = col[:i], first + i
            self.dead[j] = died
        if len(col):
            if first == 1:
                self.first[j] = col[0]
            self.last[j] = col[-1]
            k = int(np.argmin(col))
            if col[k] < self.best[j]:
                self.best[j], self.best_step[j] = col[k], first + k
        return col, died

    def state(self) -> dict[str, Any]:
        return {"best": self.best.tolist(), "best_step": self.best_step.tolist(), "last": self.last.tolist(),
                "first": self.first.tolist(),
                "dead": [[j, at] for j, at in self.dead.items()]}
