"""What the experiment asks of a way to step its members: ``fast`` and ``autograd`` both satisfy it,
which mypy proves where :meth:`Experiment.use` takes one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import torch

    from fitscope.core.engine.steppers import Batches, OnStep


class Stepper(Protocol):
    k: int  # members
    notice: str | None  # something to tell the user once (a graph that could not be captured)

    @property
    def block_steps(self) -> int: ...

    def wait(self) -> bool:
        """Until the stepper can step (a compile under way); True if it had to wait."""
        ...

    def run(self, batches: Batches, n: int, frames: OnStep | None = None, start: int = 0) -> np.ndarray: ...

    def stop(self, j: int) -> None: ...

    def set_lr(self, j: int, lr: float) -> None: ...

    def forward_one(self, j: int, x: torch.Tensor) -> torch.Tensor: ...

    def predict(self, x: torch.Tensor) -> torch.Tensor: ...

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...

    def state_dict(self, j: int, copy: list[Any] | None = None) -> dict[str, torch.Tensor]:
        """Member j's weights as nn.Sequential names them, now or as of a :meth:`copy`."""
        ...

    def copy(self) -> list[Any]: ...

    def grads(self, j: int) -> list[torch.Tensor]: ...

    def frame_sizes(self) -> list[int]: ...

    def frame_sources(self) -> list[torch.Tensor]: ...

    def frame_layers(self, rows: list[torch.Tensor], j: int) -> list[tuple[torch.Tensor, torch.Tensor]]: ...

    def member_state(self, j: int, copy: list[Any] | None = None) -> dict[str, Any]: ...

    def load_member_state(self, j: int, state: dict[str, Any]) -> None: ...
