"""The background engine for a race: the Engine's loop, commands and pacing over a
CompareTrainer, with one loss history, state and fit curve per member."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitscope.core.compare import CompareTrainer, Member
from fitscope.core.engine import DIVERGED, Engine, Snapshot
from fitscope.core.history import HistoryView, LossHistory


@dataclass(frozen=True)
class MemberView:
    label: str
    variant: str
    seed: int
    loss: float | None
    test_loss: float | None
    best_loss: float | None
    best_step: int | None
    diverged_at: int | None
    y_pred: np.ndarray
    history: HistoryView

    @property
    def state(self) -> str:
        return f"diverged at step {self.diverged_at}" if self.diverged_at else "ok"


class CompareEngine(Engine):
    def __init__(self, members: list[Member], **kw):
        super().__init__(members, **kw)  # type: ignore[arg-type]  # _setup takes the members

    def _setup(self, members) -> None:
        if not isinstance(members, list):  # reset() without a new race: the same members again
            members = self._members
        trainer = CompareTrainer(members)
        self._members = members
        super()._setup_from(trainer, trainer.cfg)
        k = len(members)
        self._histories = [LossHistory(self.history_cap) for _ in range(k)]
        self._last = np.full(k, np.nan)
        self._best = np.full(k, np.inf)
        self._best_step = np.zeros(k, dtype=int)
        self._dead: dict[int, int] = {}
        self._test_losses = trainer.test_loss()

    def _command(self, kind: str, arg):
        if kind == "update":
            if arg["lr"] is not None:
                return "lr is per member in a race: start a new race to change it", False
        return super()._command(kind, arg)

    def _save_to(self, path):
        from fitscope.core import runs

        return runs.save_compare(path, self._latest)

    def _record(self, first: int, losses: np.ndarray, t0: float, t1: float) -> None:
        t = self._trainer
        for j, h in enumerate(self._histories):
            if j in self._dead:
                continue
            col = losses[:, j]
            bad = ~np.isfinite(col)
            if bad.any():
                i = int(np.argmax(bad))
                col = col[:i]
                self._dead[j] = first + i
                t.stop_member(j)  # the others go on
            h.extend(first, col, t0, t0 + (t1 - t0) * len(col) / max(1, len(losses)))
            if len(col):
                self._last[j] = col[-1]
                k = int(np.argmin(col))
                if col[k] < self._best[j]:
                    self._best[j], self._best_step[j] = col[k], first + k
        alive = [j for j in range(len(self._histories)) if j not in self._dead]
        if not alive:
            self._diverged_at = min(self._dead.values())
            self._state = DIVERGED
            return
        self._last_loss = float(np.nanmin(self._last[alive])) if np.isfinite(self._last[alive]).any() else None

    def _read_test(self) -> None:
        if self._test_losses is not None:
            self._test_losses = self._trainer.test_loss()

    def _snapshot(self, message: str) -> Snapshot:
        t = self._trainer
        preds = t.predict()
        views = []
        for j, m in enumerate(self._members):
            pred = preds[j]
            if j in self._dead:
                pred = np.full_like(pred, np.nan)  # its line stops
            pred.setflags(write=False)
            best = self._best[j] if np.isfinite(self._best[j]) else None
            views.append(MemberView(
                m.label, m.variant or m.label, m.seed, None if np.isnan(self._last[j]) else float(self._last[j]),
                None if self._test_losses is None else float(self._test_losses[j]),
                best, int(self._best_step[j]) if best is not None else None, self._dead.get(j), pred,
                self._histories[j].view()))
        ranked = sorted(range(len(views)), key=lambda j: (views[j].diverged_at is not None,
                                                           np.inf if views[j].loss is None else views[j].loss))
        lead = views[ranked[0]]
        return Snapshot(
            seq=self._seq, state=self._state, step=t.steps_done, budget=self._budget,
            train_loss=lead.loss, test_loss=lead.test_loss, steps_per_s=self._rate, elapsed=self._elapsed,
            x_grid=t.view.grid, y_pred=lead.y_pred, data=t.view, history=lead.history, test_history=(),
            config=t.cfg, device=str(t.device), pace=self._pace, message=message,
            diverged_at=self._diverged_at, members=tuple(views))

