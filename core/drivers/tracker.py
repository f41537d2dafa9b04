"""The reading side of a run: folds each snapshot's loss deltas into bounded histories.

Every snapshot must be fed, in order (the drivers do it as snapshots arrive), so no loss is
lost however rarely the UI looks. Also fills in the data view the wire leaves out when unchanged.
"""

from __future__ import annotations

import dataclasses
import threading

from fitscope.core.engine.history import Curve, HistoryView, LossHistory
from fitscope.core.snapshot import DataView, Snapshot

TEST_CAP = 10_000


class Tracker:
    def __init__(self, cap: int = 10_000):
        self.cap = cap
        self._lock = threading.Lock()
        self.run_id: int | None = None
        self.data: DataView | None = None
        self._histories: list[LossHistory] = []
        self._tests: list[list[tuple[int, float]]] = []
        self._elapsed = 0.0

    def feed(self, snap: Snapshot) -> Snapshot:
        """The snapshot with its data filled in; its losses go into the histories."""
        with self._lock:
            if snap.data is None:
                snap = dataclasses.replace(snap, data=self.data)
            else:
                self.data = snap.data
            if snap.run_id != self.run_id:
                self.run_id = snap.run_id
                self._histories = [LossHistory(self.cap) for _ in snap.members]
                self._tests = [[] for _ in snap.members]
                self._elapsed = 0.0
            for m, h, tests in zip(snap.members, self._histories, self._tests):
                h.extend(m.first, m.losses, self._elapsed, snap.elapsed)
                if m.test_loss is not None and snap.step and (not tests or tests[-1][0] != snap.step):
                    tests.append((snap.step, m.test_loss))
                    if len(tests) > TEST_CAP:
                        tests[:] = tests[::2]
            self._elapsed = snap.elapsed
        return snap

    def history(self, member: int = 0) -> HistoryView:
        with self._lock:
            return self._histories[member].view()

    def curves(self, members: list[int]) -> list[Curve]:
        with self._lock:
            return [self._histories[j].curve() for j in members]

    def test_history(self, member: int = 0) -> tuple[tuple[int, float], ...]:
        with self._lock:
            return tuple(self._tests[member])
