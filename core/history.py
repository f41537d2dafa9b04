"""Loss history in bounded memory: every step up to a cap, then buckets that keep min and max."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HistoryView:
    """Read-only arrays, one row per bucket: its last step, last/min/max loss, seconds."""

    step: np.ndarray
    loss: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    seconds: np.ndarray
    stride: int

    def __len__(self) -> int:
        return len(self.step)


class LossHistory:
    def __init__(self, cap: int = 10_000):
        if cap < 2 or cap % 2:
            raise ValueError("cap must be an even number >= 2")
        self.cap = cap
        self.stride = 1
        self._n = 0
        self._step = np.zeros(cap, np.int64)
        self._loss = np.zeros(cap)
        self._lo = np.zeros(cap)
        self._hi = np.zeros(cap)
        self._sec = np.zeros(cap)
        self._pending: list[tuple[int, float, float]] = []  # (step, loss, seconds) of the open bucket

    def __len__(self) -> int:
        return self._n + (1 if self._pending else 0)

    def extend(self, first_step: int, losses: np.ndarray, t0: float, t1: float) -> None:
        """Losses of steps first_step, first_step+1, ...; their times spread evenly over (t0, t1]."""
        k = len(losses)
        if not k:
            return
        secs = t0 + (t1 - t0) * np.arange(1, k + 1) / k
        for i in range(k):  # buckets are few per chunk once stride > 1; the loop is over bucket closings
            self._pending.append((first_step + i, float(losses[i]), float(secs[i])))
            if len(self._pending) >= self.stride:
                self._close()

    def _close(self) -> None:
        vals = [p[1] for p in self._pending]
        last = self._pending[-1]
        if self._n == self.cap:
            self._compact()
        i = self._n
        self._step[i], self._loss[i], self._sec[i] = last[0], last[1], last[2]
        self._lo[i], self._hi[i] = min(vals), max(vals)
        self._n += 1
        self._pending = []

    def _compact(self) -> None:
        half = self.cap // 2
        for arr in (self._step, self._loss, self._sec):
            arr[:half] = arr[1::2].copy()
        self._lo[:half] = np.minimum(self._lo[0::2], self._lo[1::2])
        self._hi[:half] = np.maximum(self._hi[0::2], self._hi[1::2])
        self._n = half
        self.stride *= 2

    def view(self) -> HistoryView:
        n = self._n
        parts = [a[:n] for a in (self._step, self._loss, self._lo, self._hi, self._sec)]
        if self._pending:
            vals = [p[1] for p in self._pending]
            last = self._pending[-1]
            extra = [[last[0]], [last[1]], [min(vals)], [max(vals)], [last[2]]]
            parts = [np.concatenate([p, e]) for p, e in zip(parts, extra)]
        else:
            parts = [p.copy() for p in parts]
        for p in parts:
            p.setflags(write=False)
        return HistoryView(*parts, stride=self.stride)
