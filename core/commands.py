"""The typed commands a run takes; the same objects go through a thread or a process pipe."""

from __future__ import annotations

from dataclasses import dataclass

from fitscope.core.spec import RunSpec


class Refused(Exception):
    """A command the run cannot take in its state; the message says why and what to do."""


@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Toggle:
    pass


@dataclass(frozen=True)
class Step:
    n: int = 1


@dataclass(frozen=True)
class Reset:
    """Back to step 0: the same members from their first weights, or a new spec."""

    spec: RunSpec | None = None


@dataclass(frozen=True)
class SetLr:
    lr: float


@dataclass(frozen=True)
class SetSteps:
    steps: int


@dataclass(frozen=True)
class SetPace:
    steps_per_s: float | None  # None: flat out


@dataclass(frozen=True)
class Save:
    path: str | None = None  # None: the run's own folder (where it was opened or last saved), else a new one under runs/
    fit_text: str = ""  # the final chart as text, drawn by whoever asks (core draws no charts)


@dataclass(frozen=True)
class Open:
    """Replace the run with a saved one, ready to continue; ``steps``: a new total budget."""

    path: str
    steps: int | None = None


@dataclass(frozen=True)
class Inspect:
    """Whose layers the snapshots carry (the units and kinks views draw them)."""

    member: int


@dataclass(frozen=True)
class Timeline:
    """The fit's history so far, as :class:`~fitscope.core.snapshot.Frames` (with ``member``'s layers)."""

    member: int = 0


@dataclass(frozen=True)
class SetDevice:
    """Move the run (weights, optimiser state, data) to another device; its step and losses stay."""

    device: str


Command = Start | Pause | Toggle | Step | Reset | SetLr | SetSteps | SetPace | Save | Open | Inspect | Timeline | SetDevice
