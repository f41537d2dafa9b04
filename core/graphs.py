"""A block of full-batch steps of every group, run as one: on CUDA captured once as a CUDA graph and
replayed, so a step costs no kernel launches from Python and no host sync (a tiny net on a GPU is
launch-bound: eager, ~20 launches a step cost more than their math).

The same object runs the block eagerly where there is no graph (``capture=False``): that is how the
block's bookkeeping (static buffers, the device step count, the loss rows) is tested on a CPU.
"""

from __future__ import annotations

import torch

from fitscope.core.kernels import Group

BLOCK = 16  # steps per replay: the timeline's frames fall on block ends


class CaptureError(RuntimeError):
    pass


class Block:
    def __init__(self, groups: list[Group], x: torch.Tensor, y: torch.Tensor, steps: int = BLOCK,
                 capture: bool = True):
        self.groups, self.x, self.y, self.steps = groups, x, y, steps
        self.rows = [torch.zeros(steps, g.k, 1, 1, device=x.device) for g in groups]
        self.graph: torch.cuda.CUDAGraph | None = None
        if capture:
            try:
                self.graph = _capture(groups, x, y, self.rows)
            except Exception as exc:  # any refusal of the capture: the caller steps eagerly
                raise CaptureError(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}") \
                    from None

    def run(self, out: list[torch.Tensor]) -> None:
        """``steps`` steps; group g's loss sums go to ``out[g]`` [steps, K, 1, 1]."""
        for g in self.groups:
            g.t_dev.fill_(g.t)  # the host's count: eager steps may have run since the last block
        if self.graph is not None:
            self.graph.replay()
            for g in self.groups:
                g.t += self.steps
        else:
            for i in range(self.steps):
                for g, rows in zip(self.groups, self.rows):
                    g.step(self.x, self.y, rows[i], captured=True)
        for rows, dest in zip(self.rows, out):
            dest.copy_(rows)


def _capture(groups: list[Group], x: torch.Tensor, y: torch.Tensor, rows: list[torch.Tensor]) -> torch.cuda.CUDAGraph:
    saved = [g.copy() for g in groups]
    try:
        side = torch.cuda.Stream()  # type: ignore[no-untyped-call]  # torch's stub leaves it untyped
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up: cuBLAS handles, workspaces and buffers made before capture
            for _ in range(2):
                for g, r in zip(groups, rows):
                    g.step(x, y, r[0], captured=True)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for i in range(rows[0].shape[0]):
                for g, r in zip(groups, rows):
                    g.step(x, y, r[i], captured=True)
        return graph
    finally:  # the warm-up's steps undone (capture runs no kernels, only Python), captured or not
        for g, state in zip(groups, saved):
            g.restore(state)
