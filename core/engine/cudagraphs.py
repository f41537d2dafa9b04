"""A block of full-batch steps of every group, run as one: on CUDA captured once as a CUDA graph and
replayed, so a step costs no kernel launches from Python and no host sync (a tiny net on a GPU is
launch-bound: eager, ~20 launches a step cost more than their math).

The same object runs the block eagerly where there is no graph (``capture=False``): that is how the
block's bookkeeping (static buffers, the device step count, the loss rows) is tested on a CPU.
"""

from __future__ import annotations

import warnings

import torch

from fitscope.core.engine.kernels import Group

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
            # ops on tensors off the capturing GPU run eagerly during capture, and the graph replays nothing
            devices = sorted({str(t.device) for t in (x, y, *(g.flat for g in groups))})
            if len(devices) > 1 or x.device.type != "cuda":
                raise CaptureError(f"the run's tensors are on {', '.join(devices)}: a CUDA graph needs them on one "
                                   "CUDA device")
            try:
                with torch.cuda.device(x.device):
                    self.graph = _capture(groups, x, y, self.rows)
            except CaptureError:
                raise
            except Exception as exc:  # any refusal of the capture: the caller steps eagerly
                raise CaptureError(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}") \
                    from None

    def run(self, out: list[torch.Tensor]) -> None:
        """``steps`` steps; group g's loss sums go to ``out[g]`` [steps, K, 1, 1]."""
        for g in self.groups:
            g.t_dev.fill_(g.t)  # the host's count: eager steps may have run since the last block
        if self.graph is not None:
            with torch.cuda.device(self.x.device):  # a graph replays on the current device's stream
                self.graph.replay()
            for g in self.groups:
                g.t += self.steps
        else:
            for i in range(self.steps):
                for g, rows in zip(self.groups, self.rows):
                    g.step(self.x, self.y, rows[i], captured=True)
        for rows, dest in zip(self.rows, out):
            dest.copy_(rows)


_STREAMS: dict[int, torch.cuda.Stream] = {}


def side_stream(device: torch.device) -> torch.cuda.Stream:
    """One side stream per GPU for warm-up and capture: ``torch.cuda.Stream()`` and torch.cuda.graph's
    shared default capture stream belong to whichever device was current when first made, and a
    capture on another device's stream records nothing (pytorch#87894)."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index not in _STREAMS:
        _STREAMS[index] = torch.cuda.Stream(device=index)  # type: ignore[no-untyped-call]  # untyped in torch's stub
    return _STREAMS[index]


def refuse_empty(caught: list[warnings.WarningMessage]) -> None:
    """torch only warns when a capture recorded no kernels; its replays would then step nothing."""
    for w in caught:
        if "CUDA Graph is empty" in str(w.message):
            raise CaptureError("the captured graph is empty: its replays would not step")


def _capture(groups: list[Group], x: torch.Tensor, y: torch.Tensor, rows: list[torch.Tensor]) -> torch.cuda.CUDAGraph:
    saved = [g.copy() for g in groups]
    try:
        side = side_stream(x.device)
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up: cuBLAS handles, workspaces and buffers made before capture
            for _ in range(2):
                for g, r in zip(groups, rows):
                    g.step(x, y, r[0], captured=True)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with torch.cuda.graph(graph, stream=side):
                for i in range(rows[0].shape[0]):
                    for g, r in zip(groups, rows):
                        g.step(x, y, r[i], captured=True)
        refuse_empty(caught)
        return graph
    finally:  # the warm-up's steps undone (capture runs no kernels, only Python), captured or not
        for g, state in zip(groups, saved):
            g.restore(state)
