"""What a Run has to tell since its last snapshot: each member's new losses, the notices, the
sequence number, whether the data went out yet, and when the next snapshot is due."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from fitscope.core.drivers.tracker import Tracker
from fitscope.core.snapshot import Level, Notice, Snapshot


class Outbox:
    def __init__(self, clock: Callable[[], float], publish_interval: float):
        self.clock = clock
        self.publish_interval = publish_interval
        self.seq = 0
        self.notices: list[Notice] = []
        self.open(0)

    def open(self, members: int) -> None:
        """A new run: nothing of it sent yet (the notices and the sequence go on)."""
        self.first = [1] * members  # per member, the step of its first unsent loss
        self.losses: list[list[np.ndarray]] = [[] for _ in range(members)]
        self.kept = [1] * members  # per member, the first step the run's own tracker does not have yet
        self.data_sent = False
        self.last_sent = -math.inf
        self.changed = True
        self.stepped = False

    def resume(self, step: int, curves: list[np.ndarray] | None) -> None:
        """A run reopened at ``step``: its saved losses are the prior's rows, not the tracker's; the
        charts get them as if trained here (``curves``, from step 1) when there are any."""
        members = len(self.first)
        self.kept = [step + 1] * members
        self.first = [step + 1] * members
        if curves is not None:
            self.losses = [[c] for c in curves]
            self.first = [1] * members

    def say(self, text: str, level: Level = Level.INFO) -> None:
        self.notices.append(Notice(level, text))
        self.changed = True

    def add(self, j: int, first: int, losses: np.ndarray) -> None:
        """Member j's losses of steps first, first+1, …"""
        if not self.losses[j]:
            self.first[j] = first
        self.losses[j].append(losses)

    def pending(self, j: int, step: int) -> tuple[int, np.ndarray]:
        """Member j's unsent losses: the step of the first, and the losses (none: from step + 1)."""
        if not self.losses[j]:
            return step + 1, np.zeros(0)
        return self.first[j], np.concatenate(self.losses[j])

    def due(self) -> bool:
        if self.changed:
            return True
        return self.stepped and self.clock() - self.last_sent >= self.publish_interval

    def sending(self) -> int:
        """A snapshot is being built: its sequence number."""
        self.last_sent = self.clock()
        self.changed = self.stepped = False
        self.seq += 1
        return self.seq

    def sent(self) -> None:
        """The snapshot went out: what it carried is not sent again."""
        self.losses = [[] for _ in self.losses]
        self.data_sent = True
        self.notices = []

    def keep(self, snap: Snapshot, tracker: Tracker) -> None:
        """Into the run's own tracker (what Save writes): only the losses it does not have yet."""
        members = []
        for j, m in enumerate(snap.members):
            skip = min(len(m.losses), max(0, self.kept[j] - m.first))
            members.append(dataclasses.replace(m, first=m.first + skip, losses=m.losses[skip:]))
            self.kept[j] = max(self.kept[j], m.first + len(m.losses))
        tracker.feed(dataclasses.replace(snap, members=tuple(members)))
