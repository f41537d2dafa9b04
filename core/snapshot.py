"""What a run tells the outside: its state, notices, and immutable snapshots (numpy only).

Snapshots carry loss *deltas* (the losses since the previous snapshot), so their size does not
grow with the run; a :class:`~fitscope.core.drivers.tracker.Tracker` folds them into bounded histories.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from fitscope.core.config import FitConfig
from fitscope.core.engine.sampler import NetNumbers
from fitscope.core.spec import RunSpec


class State(StrEnum):
    STARTING = "starting"  # the worker is loading torch; no run yet
    READY = "ready"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    DIVERGED = "diverged"
    STOPPED = "stopped"
    ERROR = "error"


IDLE_STATES = frozenset({State.READY, State.PAUSED, State.DONE, State.DIVERGED, State.STOPPED, State.ERROR})
END_STATES = frozenset({State.DONE, State.DIVERGED, State.STOPPED, State.ERROR})


class Level(StrEnum):
    INFO = "info"
    WARNING = "warning"  # said on the command line too
    ERROR = "error"


@dataclass(frozen=True)
class Notice:
    """Something the user should read once: a refused command, a reset, a save, a divergence."""

    level: Level
    text: str


@dataclass(frozen=True)
class DataView:
    """Plain, read-only numpy copies of a dataset for drawing, in the data's own units."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    notes: tuple[str, ...]
    grid: np.ndarray  # where the fit is drawn
    truth: np.ndarray | None  # the noiseless target on the grid, when there is one
    x_name: str = ""  # a data file's column names (its header), for the axes
    y_name: str = ""


@dataclass(frozen=True)
class MemberSnap:
    label: str
    variant: str
    seed: int
    loss: float | None  # the last finite training loss
    test_loss: float | None
    best_loss: float | None
    best_step: int | None
    diverged_at: int | None
    y_pred: np.ndarray  # the fit on the snapshot's x grid (NaN once diverged)
    first: int  # the step of losses[0]
    losses: np.ndarray  # the losses of steps first, first+1, … since the previous snapshot
    stats: NetNumbers | None = None  # inside the network, as of ``Snapshot.stats_step``
    layers: tuple[tuple[np.ndarray, np.ndarray], ...] | None = None  # (W, b) per layer: the inspected member's
    health: str = "ok"  # core.health's word: ok, diverged @N, blew up, collapsed

    @property
    def state(self) -> str:
        return f"diverged at step {self.diverged_at}" if self.diverged_at else "ok"


@dataclass(frozen=True)
class Snapshot:
    seq: int
    run_id: int  # a new run (reset, new settings, single <-> race) starts new histories
    state: State
    step: int
    budget: int
    steps_per_s: float
    elapsed: float  # seconds spent training this run
    data: DataView | None  # None on the wire when unchanged; drivers fill it in
    members: tuple[MemberSnap, ...]
    spec: RunSpec
    device: str
    pace: float | None
    notices: tuple[Notice, ...] = ()
    diverged_at: int | None = None  # every member diverged; the first of them
    stats_step: int | None = None  # when the members' stats were computed
    inspected: int = 0  # the member whose layers the snapshot carries
    memory: int | None = None  # bytes the run holds on a GPU (None on the CPU)
    kept_at: int | None = None  # the step this run was last saved at or opened from (None: never)

    @property
    def x_grid(self) -> np.ndarray:
        assert self.data is not None, "a snapshot read before its data was filled in"
        return self.data.grid

    @property
    def config(self) -> FitConfig:
        return self.spec.base

    @property
    def racing(self) -> bool:
        return len(self.members) > 1

    @property
    def lead(self) -> MemberSnap:
        """The member with the lowest loss (the diverged last); the only one of a single run."""
        return self.members[ranked(self.members)[0]]

    @property
    def train_loss(self) -> float | None:
        return self.lead.loss

    @property
    def test_loss(self) -> float | None:
        return self.lead.test_loss


def loss_rank(loss: float | None) -> float:
    """A loss as a sort key: a member with no finite loss yet sorts after every one with a loss."""
    return np.inf if loss is None or not np.isfinite(loss) else loss


def ranked(members: tuple[MemberSnap, ...]) -> list[int]:
    """Best first: every healthy member before every failed one (diverged last), then by loss."""
    return sorted(range(len(members)), key=lambda i: (members[i].diverged_at is not None, members[i].health != "ok",
                                                      loss_rank(members[i].loss)))


@dataclass(frozen=True)
class Frames:
    """The fit's history: steps [F], every member's fit on the grid [F, K, G] (the data's units),
    and one member's layers per frame, (W [F, out, in], b [F, out]) each, when frames hold weights."""

    steps: np.ndarray
    x: np.ndarray
    fits: np.ndarray
    member: int
    layers: list[tuple[np.ndarray, np.ndarray]] | None
