"""The fast stepping path: K members in stacked weights, a hand-written backward, flat buffers.

Members with the same hidden sizes and optimiser form one group. Activations are kept feature-
major ([K, width, n]), so each member's activations are one contiguous block (elementwise kernels
on a row-strided view ran 8-10x slower). Each layer's weight and bias live in one block
[K, out, in + 1] (nn.Linear's weight, then the bias as a last column) and every layer's input
carries a row of ones, so one batched matmul gives a layer's output and one gives its weight
*and* bias gradient. All blocks are views into one flat parameter buffer and one flat gradient
buffer, so the optimiser update is a few ops on the whole buffer, not a few per tensor. Every
buffer is made once per batch size: no tensor is allocated per step. Losses stay on the device
(a row per step) and are read once per chunk. Members are sorted by activation, and each
activation runs on its own slice, with the derivative kernels autograd itself calls.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from fitscope.core.config import FitConfig
from fitscope.core.engine import device as device_mod
from fitscope.core.engine.registry import ACTIVATIONS, LOSSES, OPTIMIZERS
from fitscope.core.spec import Member

# Each activation as (forward into out, backward into out), the kernels autograd calls.
KERNELS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {n: a.kernels() for n, a in ACTIVATIONS.items()}
_LOSSES: dict[str, Callable[..., torch.Tensor]] = {n: getattr(F, loss.functional) for n, loss in LOSSES.items()}
BETAS, EPS, RMS_ALPHA = (0.9, 0.999), 1e-8, 0.99


class _Buffers:
    """Every activation and gradient of one step for n rows, made once and reused."""

    def __init__(self, g: Group, n: int):
        k, dev = g.k, g.flat.device
        self.n = n
        # inputs of each layer, feature-major, with a trailing row of ones (the bias's input)
        self.inputs = [torch.ones(k, w + 1, n, device=dev) for w in g.widths[:-1]]
        self.z = [torch.empty(k, w, n, device=dev) for w in g.widths[1:]]  # pre-activations, then the output
        self.g_out = torch.empty_like(self.z[-1])  # the loss's gradient at the output
        # per hidden layer, the gradient at its output, then (in place: one pass less) at its input
        self.da = [torch.empty(k, w, n, device=dev) for w in g.widths[1:-1]]
        self.a = [inp[:, :-1] for inp in self.inputs[1:]]  # activations: the next inputs less their ones
        self.inputs_t = [inp.transpose(1, 2) for inp in self.inputs]  # views made once, not per step
        self.g_t = self.g_out.transpose(1, 2)
        # per hidden layer: (forward, backward, z, a, da) on each activation's slice
        self.layers = [[(fwd, bwd, z[s], a[s], da[s]) for (fwd, bwd), s in g.parts]
                       for z, a, da in zip(self.z, self.a, self.da)]
        self.x_source: torch.Tensor | None = None
        self.y_t: torch.Tensor | None = None


class Group:
    """Members sharing hidden sizes and optimiser: one stacked model, one flat update."""

    def __init__(self, index: list[int], cfgs: list[FitConfig], weights: list[list[torch.Tensor]],
                 device: torch.device):
        self.index = index  # positions of these members in the run
        first = cfgs[0]
        self.optimizer, self.loss_name, self.k = first.train.optimizer, first.train.loss, len(cfgs)
        self.widths = [1, *first.model.hidden, 1]
        shapes = [(self.k, o, i + 1) for i, o in zip(self.widths[:-1], self.widths[1:])]
        sizes = [a * b * c for a, b, c in shapes]
        self.flat = torch.empty(sum(sizes), device=device)
        self.gflat = torch.zeros_like(self.flat)
        offsets = list(itertools.accumulate(sizes, initial=0))
        self.blocks = [self.flat[o:o + n].view(s) for o, n, s in zip(offsets, sizes, shapes)]
        self.grads = [self.gflat[o:o + n].view(s) for o, n, s in zip(offsets, sizes, shapes)]
        self.weights_t = [b[:, :, :-1].transpose(1, 2) for b in self.blocks]  # views, for the backward
        with torch.no_grad():
            for layer, block in enumerate(self.blocks):  # weight [out, in] then bias [out, 1], per member
                block.copy_(torch.stack([torch.cat([w[2 * layer], w[2 * layer + 1][:, None]], 1) for w in weights]))
        # which member owns each element of the flat buffer, for per-member hyper-parameters
        self.owner = torch.cat([torch.arange(self.k, device=device).repeat_interleave(n // self.k) for n in sizes])
        self.parts: list[tuple[tuple[Callable[..., Any], Callable[..., Any]], slice]] = []
        for act, run in itertools.groupby(cfgs, key=lambda c: c.model.activation):
            start = self.parts[-1][1].stop if self.parts else 0
            self.parts.append((KERNELS[act], slice(start, start + len(list(run)))))
        self.lr = torch.tensor([c.train.lr for c in cfgs], device=device)
        self.wd = torch.tensor([c.train.weight_decay for c in cfgs], device=device)
        self.momentum = torch.tensor([c.train.momentum for c in cfgs], device=device)
        self.plain = self.optimizer == "sgd" and not bool(self.wd.any()) and not bool(self.momentum.any())
        self.buf = torch.zeros_like(self.flat)
        self.sq = torch.zeros_like(self.flat) if OPTIMIZERS[self.optimizer].second_moment else self.buf
        self.t = 0
        # the step count Adam's corrections read; float64 as the host's (float32 on MPS, which has no float64)
        self.t_dev = torch.zeros((), dtype=device_mod.counter_dtype(torch.device(device)), device=device)
        self.grad_scale = 0.0  # no gradient yet
        self._buffers: dict[int, _Buffers] = {}
        self.lr_el, self.wd_el, self.mom_el = (v[self.owner] for v in (self.lr, self.wd, self.momentum))
        self._neg_lr_scaled: dict[float, torch.Tensor] = {}

    def _hyper(self) -> None:
        """Per-element hyper-parameters after an lr changes (not per step), written in place: a
        captured step (CUDA graph) reads these very tensors, so a live lr change needs no rebuild."""
        self.lr_el.copy_(self.lr[self.owner])
        for scale, neg in self._neg_lr_scaled.items():
            torch.mul(self.lr_el, -scale, out=neg)

    def set_lr(self, j: int, lr: float) -> None:
        self.lr[j] = lr
        self._hyper()

    def stop(self, j: int) -> None:
        """A diverged member stops: zero lr and weights, so its NaNs go nowhere."""
        self.lr[j] = 0
        mask = self.owner == j
        for t in (self.flat, self.buf, self.sq):
            t[mask] = 0
        self._hyper()

    def _blocks_of(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [flat[b.storage_offset() - self.flat.storage_offset():][:b.numel()].view(b.shape) for b in self.blocks]

    def copy(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, int]:
        """Every member's weights and optimiser state as of now (to go back to the last finite ones)."""
        return self.flat.clone(), self.buf.clone(), None if self.sq is self.buf else self.sq.clone(), self.t

    @torch.no_grad()
    def restore(self, copy: tuple[Any, ...]) -> None:
        """Back to a :meth:`copy` (every member), in place: the tensors keep their addresses."""
        flat, buf, sq, self.t = copy
        self.flat.copy_(flat)
        self.buf.copy_(buf)
        if sq is not None:
            self.sq.copy_(sq)

    def optim_state(self, j: int, copy: tuple[Any, ...] | None = None) -> dict[str, Any]:
        """Member j's optimiser buffers, block by block as its weights; the step count of the group."""
        _, buf, sq, t = copy or (None, self.buf, None if self.sq is self.buf else self.sq, self.t)
        stateful = self.optimizer != "sgd" or bool(self.momentum.any())
        return {"t": t, "buf": [b[j].clone() for b in self._blocks_of(buf)] if stateful else [],
                "sq": [b[j].clone() for b in self._blocks_of(sq)] if sq is not None else []}

    @torch.no_grad()
    def load_member(self, j: int, weights: list[torch.Tensor], optim: dict[str, Any]) -> None:
        for layer, block in enumerate(self.blocks):
            block[j].copy_(torch.cat([weights[2 * layer], weights[2 * layer + 1][:, None]], 1))
        for key, flat in (("buf", self.buf), ("sq", self.sq)):
            saved = optim.get(key) or []
            for block, value in zip(self._blocks_of(flat), saved):
                block[j].copy_(value)
        self.t = int(optim.get("t", 0))

    def weights(self, j: int, copy: tuple[Any, ...] | None = None) -> list[torch.Tensor]:
        """Member j's weight [out, in] and bias [out] per layer, as torch.nn.Linear holds them."""
        out = []
        for b in self._blocks_of(copy[0]) if copy else self.blocks:
            out += [b[j, :, :-1].clone(), b[j, :, -1].clone()]
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions [K, n] for x [n, 1], without keeping anything for a backward pass."""
        h = x.T.expand(self.k, 1, x.shape[0])
        for i, b in enumerate(self.blocks):
            h = torch.baddbmm(b[:, :, -1:], b[:, :, :-1], h)
            if i < len(self.blocks) - 1:
                a = torch.empty_like(h)
                for (fwd, _), part in self.parts:
                    fwd(h[part], a[part])
                h = a
        return h[:, 0]

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.forward(x)
        return _LOSSES[self.loss_name](out, y.T.expand_as(out), reduction="none").mean(dim=1)

    def step(self, x: torch.Tensor, y: torch.Tensor, loss_out: torch.Tensor, captured: bool = False) -> None:
        """One forward, backward and update for every member; ``loss_out`` [K, 1, 1] gets each
        member's loss *sum* over the batch before the update (the caller divides by the batch size).
        ``captured``: recorded into a CUDA graph, so the step count comes from the device."""
        n = x.shape[0]
        b = self._buffers.get(n)
        if b is None:
            b = self._buffers[n] = _Buffers(self, n)
        if b.x_source is not x:  # a full batch is the same tensor every step: copied in once
            b.inputs[0][:, :1].copy_(x.T.expand(self.k, 1, n))
            b.x_source, b.y_t = x, y.T
        blocks, inputs, hidden = self.blocks, b.inputs, len(self.blocks) - 1
        for i in range(hidden + 1):
            torch.bmm(blocks[i], inputs[i], out=b.z[i])
            if i < hidden:
                for fwd, _, z, a, _ in b.layers[i]:
                    fwd(z, a)
        out, g, yt = b.z[-1], b.g_out, b.y_t
        assert yt is not None
        mse = self.loss_name == "mse"
        if mse:  # the gradient's 2/n goes into the update, so the backward runs on out − y itself
            torch.sub(out, yt, out=g)
            torch.bmm(g, b.g_t, out=loss_out)
        else:
            torch.sum(_LOSSES[self.loss_name](out, yt.expand_as(out), reduction="none"), (1, 2), keepdim=True,
                      out=loss_out)
            if self.loss_name == "l1":
                torch.sign(out - yt, out=g)
            else:
                torch.clamp(out - yt, -1.0, 1.0, out=g)
        for i in range(hidden, -1, -1):
            torch.bmm(g, b.inputs_t[i], out=self.grads[i])  # weight and bias columns at once
            if i > 0:
                if i == hidden:  # the output's one row: an outer product, the same products as bmm's
                    torch.mul(self.weights_t[i], g, out=b.da[i - 1])
                else:
                    torch.bmm(self.weights_t[i], g, out=b.da[i - 1])
                for _, bwd, z, a, da in b.layers[i - 1]:
                    bwd(da, z, a, da)  # elementwise: the mask applied in place
                g = b.da[i - 1]
        self._update((2.0 if mse else 1.0) / n, captured)

    def _update(self, scale: float, captured: bool = False) -> None:
        """torch.optim's update rules, elementwise over the flat buffer, per-member hyper-parameters.
        Adam's bias corrections read a device counter: each replay advances it, an eager step sets it
        from the host's count (on the CPU bit for bit with torch.optim's host count)."""
        self.t += 1
        if captured:
            self.t_dev.add_(1)
        elif self.optimizer in ("adam", "adamw"):
            # eager Adam steps read the device counter too (set from the host's, which a restore or a
            # load may have moved): on CUDA a division by a Python number is a multiply by its
            # reciprocal, by a tensor a true division (pytorch#84194); eager and replayed steps round alike
            self.t_dev.fill_(self.t)
        t = self.t_dev
        p, g, buf, sq = self.flat, self.gflat, self.buf, self.sq
        self.grad_scale = scale if self.plain else 1.0  # what turns gflat into the mean loss's gradient
        if self.plain:  # the lesson's SGD: one op for the whole network
            neg = self._neg_lr_scaled.get(scale)
            if neg is None:
                neg = self._neg_lr_scaled[scale] = -self.lr_el * scale
            p.addcmul_(g, neg)
            return
        g.mul_(scale)
        lr, wd, mom = self.lr_el, self.wd_el, self.mom_el
        if self.optimizer == "sgd":
            g.addcmul_(wd, p)
            buf.mul_(mom).add_(g)
            p.addcmul_(lr, buf, value=-1)
        elif self.optimizer in ("adam", "adamw"):
            if self.optimizer == "adamw":
                p.mul_(1 - lr * wd)
            else:
                g.addcmul_(wd, p)
            b1, b2 = BETAS
            buf.lerp_(g, 1 - b1)
            sq.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (sq.sqrt() / (1 - b2 ** t) ** 0.5).add_(EPS)
            p.sub_(lr / (1 - b1 ** t) * buf / denom)
        else:  # rmsprop
            g.addcmul_(wd, p)
            sq.mul_(RMS_ALPHA).addcmul_(g, g, value=1 - RMS_ALPHA)
            buf.mul_(mom).add_(g / sq.sqrt().add_(EPS))
            p.addcmul_(lr, buf, value=-1)


def make_groups(members: list[Member], weights: list[list[torch.Tensor]], device: torch.device) -> list[Group]:
    """Members grouped by (hidden sizes, optimiser), sorted by activation within a group.

    ``weights[i]``: member i's initial [out, in] weight and [out] bias per layer."""
    def key(i: int) -> tuple[tuple[int, ...], str]:
        return members[i].cfg.model.hidden, members[i].cfg.train.optimizer

    order = sorted(range(len(members)), key=lambda i: (*key(i), members[i].cfg.model.activation))
    groups = []
    for _, idx_iter in itertools.groupby(order, key=key):
        idx = list(idx_iter)
        groups.append(Group(idx, [members[i].cfg for i in idx], [weights[i] for i in idx], device))
    return groups
