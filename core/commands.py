"""The typed commands a run takes; the same objects go through a thread or a process pipe.

Each command says what its answer is: ``Command[Path]`` for a save, ``Command[None]`` for one that
only changes the run, so ``driver.send(Save()).result()`` is a ``Path`` to mypy too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from fitscope.core.snapshot import Frames
from fitscope.core.spec import RunSpec

T = TypeVar("T", covariant=True)


class Refused(Exception):
    """A command the run cannot take in its state; the message says why and what to do."""


class Command(Generic[T]):
    """A command whose answer (the Future's result) is a ``T``."""

    __slots__ = ()


@dataclass(frozen=True)
class Start(Command[None]):
    pass


@dataclass(frozen=True)
class Pause(Command[None]):
    pass


@dataclass(frozen=True)
class Toggle(Command[None]):
    pass


@dataclass(frozen=True)
class Step(Command[None]):
    n: int = 1


@dataclass(frozen=True)
class Reset(Command[None]):
    """Back to step 0: the same members from their first weights, or a new spec."""

    spec: RunSpec | None = None


@dataclass(frozen=True)
class SetLr(Command[None]):
    lr: float


@dataclass(frozen=True)
class SetSteps(Command[None]):
    steps: int


@dataclass(frozen=True)
class SetPace(Command[None]):
    steps_per_s: float | None  # None: flat out


@dataclass(frozen=True)
class Save(Command[Path]):
    path: str | None = None  # None: the run's own folder (where it was opened or last saved), else a new one under runs/
    fit_text: str = ""  # the final chart as text, drawn by whoever asks (core draws no charts)


@dataclass(frozen=True)
class Open(Command[RunSpec]):
    """Replace the run with a saved one, ready to continue; ``steps``: a new total budget."""

    path: str
    steps: int | None = None


@dataclass(frozen=True)
class Inspect(Command[None]):
    """Whose layers the snapshots carry (the units and kinks views draw them)."""

    member: int


@dataclass(frozen=True)
class Timeline(Command[Frames]):
    """The fit's history so far, as :class:`~fitscope.core.snapshot.Frames` (with ``member``'s layers)."""

    member: int = 0


@dataclass(frozen=True)
class SetDevice(Command[None]):
    """Move the run (weights, optimiser state, data) to another device; its step and losses stay."""

    device: str

