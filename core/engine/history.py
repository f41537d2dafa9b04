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


@dataclass(frozen=True)
class Curve:
    """What a loss chart draws of a history: each bucket's last step and its highest loss."""

    step: np.ndarray
    hi: np.ndarray


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
        # the open bucket: steps, losses and seconds not yet closed into a row
        self._p_step = np.zeros(0, np.int64)
        self._p_loss = np.zeros(0)
        self._p_sec = np.zeros(0)

    def __len__(self) -> int:
        return self._n + (1 if len(self._p_step) else 0)

    def extend(self, first_step: int, losses: np.ndarray, t0: float, t1: float) -> None:
        """Losses of steps first_step, first_step+1, ...; their times spread evenly over (t0, t1]."""
        k = len(losses)
        if not k:
            return
        ramp = np.arange(1, k + 1)
        step = np.concatenate([self._p_step, first_step - 1 + ramp])
        loss = np.concatenate([self._p_loss, np.asarray(losses, float)])
        sec = np.concatenate([self._p_sec, t0 + (t1 - t0) * ramp / k])
        while len(step) >= self.stride:  # close whole buckets at once, compacting when full
            if self._n == self.cap:
                self._compact()
                continue
            s = self.stride
            m = min(len(step) // s, self.cap - self._n)
            take = m * s
            block = loss[:take].reshape(m, s)
            rows = slice(self._n, self._n + m)
            self._step[rows], self._loss[rows], self._sec[rows] = step[s - 1:take:s], block[:, -1], sec[s - 1:take:s]
            self._lo[rows], self._hi[rows] = block.min(1), block.max(1)
            self._n += m
            step, loss, sec = step[take:], loss[take:], sec[take:]
        self._p_step, self._p_loss, self._p_sec = step, loss, sec

    def _compact(self) -> None:
        half = self.cap // 2
        for arr in (self._step, self._loss, self._sec):
            arr[:half] = arr[1::2].copy()
        self._lo[:half] = np.minimum(self._lo[0::2], self._lo[1::2])
        self._hi[:half] = np.maximum(self._hi[0::2], self._hi[1::2])
        self._n = half
        self.stride *= 2

    def curve(self) -> Curve:
        """The two columns a chart draws, copied (a view copies five: a 16-member race's chart
        copied ~6 MB a frame)."""
        n = self._n
        if len(self._p_step):
            return Curve(np.append(self._step[:n], self._p_step[-1]), np.append(self._hi[:n], self._p_loss.max()))
        return Curve(self._step[:n].copy(), self._hi[:n].copy())

    def view(self) -> HistoryView:
        n = self._n
        parts = [a[:n] for a in (self._step, self._loss, self._lo, self._hi, self._sec)]
        if len(self._p_step):
            lo, hi = self._p_loss.min(), self._p_loss.max()
            extra = [[self._p_step[-1]], [self._p_loss[-1]], [lo], [hi], [self._p_sec[-1]]]
            parts = [np.concatenate([p, e]) for p, e in zip(parts, extra)]
        else:
            parts = [p.copy() for p in parts]
        for p in parts:
            p.setflags(write=False)
        step, loss, lo, hi, seconds = parts
        return HistoryView(step, loss, lo, hi, seconds, self.stride)
