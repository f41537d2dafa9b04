"""The two ways to step an experiment's members, and the batches they step on.

``fast``: the batched kernels of :mod:`fitscope.core.engine.kernels`; ``autograd``: each member an
``nn.Sequential`` stepped by ``torch.optim``, the lesson's loop, bit for bit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fitscope.core.engine.cudagraphs import BLOCK, Block, CaptureError
from fitscope.core.engine.kernels import Group, make_groups
from fitscope.core.engine.model import make_loss, make_optimizer
from fitscope.core.spec import Member
from fitscope.core.store.checkstate import StateError

OnStep = Callable[[int], None]  # called after each step of a chunk with its index from 1


class Batches:
    """Full batch, or mini-batches from a seeded shuffle per epoch (its state saveable with a run)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, size: int, seed: int):
        self.x, self.y, self.size = x, y, size
        self.rng = torch.Generator().manual_seed(seed)
        self._order: torch.Tensor | None = None
        self._pos = 0

    @property
    def rows(self) -> int:
        n = self.x.shape[0]
        return n if self.size == 0 or self.size >= n else self.size

    @property
    def full(self) -> bool:
        """Full batch: every step sees the same tensors (a step that can be captured)."""
        return self.rows == self.x.shape[0]

    def state(self) -> dict[str, Any]:
        order = None if self._order is None else self._order.cpu()
        return {"rng": self.rng.get_state(), "order": order, "pos": self._pos}

    def load(self, state: dict[str, Any]) -> None:
        n = self.x.shape[0]
        order, pos = state.get("order"), state.get("pos", 0)
        if not isinstance(state.get("rng"), torch.Tensor) or state["rng"].dtype != torch.uint8:
            raise StateError("its batch order's generator state is not a byte tensor")
        if order is not None and not (isinstance(order, torch.Tensor) and order.dtype == torch.int64
                                      and tuple(order.shape) == (n,)
                                      and torch.equal(order.sort().values, torch.arange(n))):
            raise StateError(f"its batch order is not an order of this run's {n:,} training points")
        if not isinstance(pos, int) or isinstance(pos, bool) or not 0 <= pos <= n:
            raise StateError(f"its batch position {pos!r} is not within the {n:,} training points")
        self.rng.set_state(state["rng"])
        self._order = None if order is None else order.to(self.x.device)
        self._pos = pos

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.x.shape[0]
        if self.size == 0 or self.size >= n:
            return self.x, self.y
        if self._order is None or self._pos + self.size > n:
            self._order = torch.randperm(n, generator=self.rng).to(self.x.device)
            self._pos = 0
        idx = self._order[self._pos: self._pos + self.size]
        self._pos += self.size
        return self.x[idx], self.y[idx]


class FastStepper:
    notice: str | None = None  # something to tell the user once (a graph that could not be captured)

    def __init__(self, members: list[Member], models: list[torch.nn.Sequential], device: torch.device,
                 blocks: str | None = None):
        """``blocks``: "graph" (full-batch steps in CUDA-graph blocks; the default on CUDA), "eager"
        (the same blocks without a graph: the CPU's test of their bookkeeping) or "off"."""
        self.blocks = blocks or ("graph" if device.type == "cuda" else "off")
        self._block: Block | None = None
        weights = []
        for model in models:
            linears = [m for m in model if isinstance(m, torch.nn.Linear)]
            weights.append([t for lin in linears for t in (lin.weight.detach(), lin.bias.detach())])
        self.groups: list[Group] = make_groups(members, weights, device)
        self.k = len(members)
        self._rows: list[torch.Tensor] = []
        self._row_views: list[tuple[torch.Tensor, ...]] = []

    def run(self, batches: Batches, n: int, frames: OnStep | None = None, start: int = 0) -> np.ndarray:
        """Steps start+1 … start+n; with blocks, those that begin at a multiple of the block size
        run as one block (the timeline's frames, every BLOCK steps or more, fall on block ends)."""
        if not self._rows or self._rows[0].shape[0] < n:  # a device buffer of losses, a row per step
            dev = self.groups[0].flat.device
            self._rows = [torch.empty(max(n, 64), g.k, 1, 1, device=dev) for g in self.groups]
            self._row_views = [tuple(r.unbind(0)) for r in self._rows]  # views made once, not per step
        block = self._block_for(batches)
        i = 0
        while i < n:
            if block is not None and n - i >= block.steps and (start + i) % block.steps == 0:
                block.run([r[i:i + block.steps] for r in self._rows])
                i += block.steps
            else:
                self._step_groups(*batches.next(), i)
                i += 1
            if frames is not None:
                frames(i)
        return self._read(n, batches.rows)

    def _step_groups(self, x: torch.Tensor, y: torch.Tensor, i: int) -> None:
        """One eager step of every group on (x, y); the loss sums into row i."""
        for g, rows in zip(self.groups, self._row_views):
            g.step(x, y, rows[i])

    def _read(self, n: int, rows: int) -> np.ndarray:
        """The chunk's losses, one copy per group: the only wait for the device in a chunk."""
        out = np.empty((n, self.k))
        for g, buf in zip(self.groups, self._rows):
            src = buf[:n, :, 0, 0]
            if src.is_cuda:  # into pinned memory without blocking, then one sync for the lot
                host = torch.empty(src.shape, dtype=src.dtype, pin_memory=True)
                host.copy_(src, non_blocking=True)
                torch.cuda.current_stream(src.device).synchronize()
                src = host
            out[:, g.index] = src.to(torch.float64).numpy() / rows
        return out

    def _block_for(self, batches: Batches) -> Block | None:
        if self.blocks == "off":
            return None
        if not batches.full:
            self.blocks, self.notice = "off", "mini-batches (train.batch_size) step eagerly: no CUDA graph"
            return None
        if self._block is None or self._block.x is not batches.x:
            try:
                self._block = Block(self.groups, batches.x, batches.y, capture=self.blocks == "graph")
            except CaptureError as exc:
                self.blocks, self.notice = "off", f"CUDA graph capture failed ({exc}): stepping eagerly"
                return None
        return self._block

    @property
    def block(self) -> Block | None:
        """The block of steps made so far (a CUDA graph, or eager), None before the first."""
        return self._block

    @property
    def block_steps(self) -> int:
        """The fewest steps between two timeline frames: a block's, when steps run in blocks."""
        return 1 if self.blocks == "off" else BLOCK

    def wait(self) -> bool:
        return False

    def _find(self, j: int) -> tuple[Group, int]:
        for g in self.groups:
            if j in g.index:
                return g, g.index.index(j)
        raise IndexError(j)

    def stop(self, j: int) -> None:
        g, i = self._find(j)
        g.stop(i)

    def set_lr(self, j: int, lr: float) -> None:
        g, i = self._find(j)
        g.set_lr(i, lr)

    @torch.no_grad()
    def forward_one(self, j: int, x: torch.Tensor) -> torch.Tensor:
        g, i = self._find(j)
        return g.forward(x)[i]

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.empty(self.k, x.shape[0], device=x.device)
        for g in self.groups:
            out[g.index] = g.forward(x)
        return out

    @torch.no_grad()
    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = torch.empty(self.k, device=x.device)
        for g in self.groups:
            out[g.index] = g.losses(x, y)
        return out

    def state_dict(self, j: int, copy: list[Any] | None = None) -> dict[str, torch.Tensor]:
        g, i = self._find(j)
        tensors = g.weights(i, copy[self.groups.index(g)] if copy else None)
        return {f"{2 * (t // 2)}.{'weight' if t % 2 == 0 else 'bias'}": v.cpu() for t, v in enumerate(tensors)}

    def copy(self) -> list[Any]:
        return [g.copy() for g in self.groups]

    def grads(self, j: int) -> list[torch.Tensor]:
        """Member j's last gradient of each layer's weight (of the mean loss)."""
        g, i = self._find(j)
        return [block[i, :, :-1] * g.grad_scale for block in g.grads]

    def frame_sizes(self) -> list[int]:
        return [g.flat.numel() for g in self.groups]

    def frame_sources(self) -> list[torch.Tensor]:
        return [g.flat for g in self.groups]

    def frame_layers(self, rows: list[torch.Tensor], j: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Member j's (W [F, out, in], b [F, out]) per layer, from frames of ``frame_sources``."""
        g, i = self._find(j)
        row = rows[self.groups.index(g)]
        out = []
        for block in g.blocks:
            start = block.storage_offset() - g.flat.storage_offset()
            wb = row[:, start:start + block.numel()].reshape(row.shape[0], *block.shape)[:, i]
            out.append((wb[:, :, :-1], wb[:, :, -1]))
        return out

    def member_state(self, j: int, copy: list[Any] | None = None) -> dict[str, Any]:
        g, i = self._find(j)
        optim = g.optim_state(i, copy[self.groups.index(g)] if copy else None)
        return {"model": self.state_dict(j, copy), "optim": {"t": optim["t"], "buf": [t.cpu() for t in optim["buf"]],
                                                             "sq": [t.cpu() for t in optim["sq"]]}}

    def load_member_state(self, j: int, state: dict[str, Any]) -> None:
        g, i = self._find(j)
        model = state["model"]
        tensors = [model[f"{2 * (t // 2)}.{'weight' if t % 2 == 0 else 'bias'}"] for t in range(2 * len(g.blocks))]
        g.load_member(i, tensors, state["optim"])


class AutogradStepper:
    """Each member an nn.Sequential with its torch.optim optimiser: the lesson's loop."""

    notice: str | None = None
    block_steps = 1

    def __init__(self, members: list[Member], models: list[torch.nn.Sequential], device: torch.device):
        self.models = [m.to(device) for m in models]
        self.optimizers = [make_optimizer(m.parameters(), mem.cfg.train, device) for m, mem in zip(self.models, members)]
        self.loss_fns = [make_loss(mem.cfg.train) for mem in members]
        self.alive = [True] * len(members)
        self.k = len(members)

    def run(self, batches: Batches, n: int, frames: OnStep | None = None, start: int = 0) -> np.ndarray:
        losses: list[list[torch.Tensor]] = [[] for _ in range(self.k)]
        for i in range(n):
            x, y = batches.next()
            for j in range(self.k):
                if not self.alive[j]:
                    continue
                model, opt = self.models[j], self.optimizers[j]
                loss = self.loss_fns[j](model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses[j].append(loss.detach())
            if frames is not None:
                frames(i + 1)
        out = np.zeros((n, self.k))
        for j, rows in enumerate(losses):
            if rows:
                out[:, j] = torch.stack(rows).to("cpu", torch.float64).numpy()
        return out

    def wait(self) -> bool:
        return False

    def stop(self, j: int) -> None:
        self.alive[j] = False

    def set_lr(self, j: int, lr: float) -> None:
        for group in self.optimizers[j].param_groups:
            group["lr"] = lr

    @torch.no_grad()
    def forward_one(self, j: int, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.models[j](x)[:, 0]
        return out

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x)[:, 0] for m in self.models])

    @torch.no_grad()
    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([f(m(x), y) for m, f in zip(self.models, self.loss_fns)])

    def state_dict(self, j: int, copy: list[Any] | None = None) -> dict[str, torch.Tensor]:
        model = copy[j][0] if copy is not None else self.models[j].state_dict()
        return {k: v.detach().cpu() for k, v in model.items()}

    def copy(self) -> list[Any]:
        return [(copy.deepcopy(m.state_dict()), copy.deepcopy(o.state_dict())) for m, o in zip(self.models, self.optimizers)]

    def grads(self, j: int) -> list[torch.Tensor]:
        lins = [m for m in self.models[j] if isinstance(m, torch.nn.Linear)]
        return [lin.weight.grad if lin.weight.grad is not None else torch.zeros_like(lin.weight) for lin in lins]

    def frame_sizes(self) -> list[int]:
        return [sum(p.numel() for p in m.parameters()) for m in self.models]

    def frame_sources(self) -> list[torch.Tensor]:
        return [torch.nn.utils.parameters_to_vector(m.parameters()) for m in self.models]

    def frame_layers(self, rows: list[torch.Tensor], j: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        row, out, at = rows[j], [], 0
        for lin in (m for m in self.models[j] if isinstance(m, torch.nn.Linear)):
            o, i = lin.weight.shape
            w = row[:, at:at + o * i].reshape(-1, o, i)
            b = row[:, at + o * i:at + o * i + o]
            out.append((w, b))
            at += o * i + o
        return out

    def member_state(self, j: int, copy: list[Any] | None = None) -> dict[str, Any]:
        optim = copy[j][1] if copy is not None else self.optimizers[j].state_dict()
        return {"model": self.state_dict(j, copy), "optim": optim}

    def load_member_state(self, j: int, state: dict[str, Any]) -> None:
        self.models[j].load_state_dict(state["model"])
        self.optimizers[j].load_state_dict(state["optim"])
