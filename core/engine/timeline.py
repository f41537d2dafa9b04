"""The fit's history in bounded memory: frames at steps spread over the run.

Every step is a frame at first; when ``cap`` frames are held, every other one is dropped and the
stride doubles, so a run of any length keeps at most ``cap`` frames, evenly spread, always with
step 0 (the initial weights). A frame is every member's parameters when they are small (a copy of
a few hundred numbers: cheaper than a forward pass), else every member's fit on the chart's grid.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

CAP = 512
WEIGHT_FRAMES_BYTES = 64 << 20  # frames as parameters while cap × their size stays under this


class Timeline:
    def __init__(self, sizes: list[int], device: torch.device, cap: int = CAP, stride: int = 1):
        """``sizes``: the length of each source row (a group's flat parameters, or K × grid);
        ``stride``: the first spacing of frames (steps run in blocks show only their ends)."""
        self.cap = cap
        self.stride = stride
        self.n = 0
        self.steps = np.zeros(cap, np.int64)
        self.rows = [torch.empty(cap, size, device=device) for size in sizes]

    def due(self, step: int) -> bool:
        return step % self.stride == 0

    def add(self, step: int, sources: Callable[[], list[torch.Tensor]]) -> None:
        """Keep a frame at ``step`` if it is due; ``sources()`` is only called then."""
        if not self.due(step):
            return
        if self.n == self.cap:
            self._thin()
            if not self.due(step):
                return
        for row, src in zip(self.rows, sources()):
            row[self.n].copy_(src.reshape(-1))
        self.steps[self.n] = step
        self.n += 1

    def _thin(self) -> None:
        self.stride *= 2
        keep = np.nonzero(self.steps[: self.n] % self.stride == 0)[0]
        index = torch.as_tensor(keep, device=self.rows[0].device)
        for row in self.rows:
            row[: len(keep)] = row.index_select(0, index)
        self.steps[: len(keep)] = self.steps[keep]
        self.n = len(keep)

    def to(self, device: torch.device, stride: int) -> Timeline:
        """This timeline on another device, its frames at least ``stride`` apart (a run that moves
        keeps its history)."""
        out = Timeline([row.shape[1] for row in self.rows], device, self.cap, self.stride)
        while out.stride < stride:
            out.stride *= 2
        keep = [i for i in range(self.n) if self.steps[i] % out.stride == 0]
        for row, mine in zip(out.rows, self.rows):
            row[: len(keep)] = mine[keep].to(device)
        out.steps[: len(keep)] = self.steps[keep]
        out.n = len(keep)
        return out

    def frames(self) -> tuple[np.ndarray, list[torch.Tensor]]:
        return self.steps[: self.n].copy(), [row[: self.n] for row in self.rows]

    def nbytes(self) -> int:
        return self.steps.nbytes + sum(row.element_size() * row.numel() for row in self.rows)
