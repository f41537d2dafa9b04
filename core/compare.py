"""Compare mode: K variants of one run trained side by side, batched.

Members with the same hidden sizes and optimiser form one group whose weights are stacked
([K, in, out]) and stepped by batched matmuls and one elementwise optimiser update with
per-member hyper-parameters as [K, 1, 1] tensors (torch.optim refuses a per-member lr).
Within a group members are sorted by activation, and each activation runs on its own slice.
The backward pass is written out with the derivative kernels autograd calls, into buffers made
once: that is what keeps a race of mixed activations near the speed of a one-activation race.
Every member starts from exactly the weights its single run would have, on the same data.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fitscope.core import data as data_mod
from fitscope.core import device as device_mod
from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.trainer import Batches, build

MAX_MEMBERS = 64
VARY_KEYS = ("model.activation", "model.hidden", "model.init_seed", "train.optimizer", "train.lr",
             "train.weight_decay", "train.momentum")
_LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}
BETAS, EPS, RMS_ALPHA = (0.9, 0.999), 1e-8, 0.99


@dataclass(frozen=True)
class Member:
    label: str
    cfg: FitConfig
    variant: str = ""  # what varies, without the seed ("" = the label)

    @property
    def seed(self) -> int:
        m = self.cfg.model
        return m.init_seed if m.init_seed >= 0 else self.cfg.data.seed


def parse_values(key: str, text: str) -> list:
    """``"relu,softplus,tanh"`` -> checked values; hidden sizes use ``;`` between variants."""
    sep = ";" if key == "model.hidden" else ","
    parts = [p.strip() for p in text.split(sep)]
    if not text.strip() or any(not p for p in parts):
        raise ConfigError(f"--vary {key}", text, f"expected a list of values separated by '{sep}', none empty")
    base = FitConfig()
    values = [base.with_value(key, p).get(key) for p in parts]
    dupes = [v for i, v in enumerate(values) if v in values[:i]]
    if dupes:
        raise ConfigError(f"--vary {key}", text, f"lists {_show(dupes[0])} twice; each value once")
    return values


def members_from(base: FitConfig, vary: dict[str, list], seeds: int = 1) -> list[Member]:
    """The product of the varied values, each over ``seeds`` init seeds (0..seeds-1 when > 1)."""
    for key in vary:
        if key not in VARY_KEYS:
            raise ConfigError("--vary", key, "can vary: " + ", ".join(VARY_KEYS))
    combos = list(itertools.product(*vary.values())) or [()]
    count = len(combos) * seeds
    if count < 2 or count > MAX_MEMBERS:
        raise ConfigError("compare", count, f"a race needs 2 to {MAX_MEMBERS} members (variants × seeds)")
    out = []
    for combo in combos:
        values = dict(zip(vary, combo))
        label = " ".join(_show(v) for v in combo) or "base"
        for s in range(seeds):
            cfg_values = dict(values)
            if seeds > 1:
                cfg_values["model.init_seed"] = s
            out.append(Member(label if seeds == 1 else f"{label} s{s}", base.with_values(cfg_values), label))
    return out


def _show(v) -> str:
    if isinstance(v, tuple):
        return "-".join(map(str, v))
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


_A, _NN = torch.ops.aten, torch._C._nn
# Each activation as (forward into out, backward into out) with the kernels autograd itself calls,
# so a race's gradients are the single runs' gradients. Written out because at this size
# autograd's per-op bookkeeping costs more than the math (`fitscope bench --compare`).
KERNELS: dict[str, tuple] = {
    "relu": (lambda z, out: torch.clamp_min(z, 0, out=out),
             lambda g, z, a, out: _A.threshold_backward.grad_input(g, a, 0, grad_input=out)),
    "softplus": (lambda z, out: _NN.softplus(z, 1, 20, out=out),
                 lambda g, z, a, out: _A.softplus_backward.grad_input(g, z, 1, 20, grad_input=out)),
    "tanh": (lambda z, out: torch.tanh(z, out=out),
             lambda g, z, a, out: _A.tanh_backward.grad_input(g, a, grad_input=out)),
    "sigmoid": (lambda z, out: torch.sigmoid(z, out=out),
                lambda g, z, a, out: _A.sigmoid_backward.grad_input(g, a, grad_input=out)),
    "gelu": (lambda z, out: _NN.gelu(z, out=out),
             lambda g, z, a, out: _A.gelu_backward.grad_input(g, z, grad_input=out)),
    "silu": (lambda z, out: _NN.silu(z, out=out),
             lambda g, z, a, out: _A.silu_backward.grad_input(g, z, grad_input=out)),
    "elu": (lambda z, out: _NN.elu(z, out=out),
            lambda g, z, a, out: _A.elu_backward.grad_input(g, 1, 1, 1, False, z, grad_input=out)),
    "leaky_relu": (lambda z, out: _NN.leaky_relu(z, 0.01, out=out),
                   lambda g, z, a, out: _A.leaky_relu_backward.grad_input(g, z, 0.01, False, grad_input=out)),
    "identity": (lambda z, out: out.copy_(z), lambda g, z, a, out: out.copy_(g)),
}
# d(mean loss)/d(output) per element, before dividing by the element count
_LOSS_GRADS = {"mse": lambda d: d * 2.0, "l1": torch.sign, "huber": lambda d: d.clamp(-1.0, 1.0)}


class _Buffers:
    """Every activation and gradient of one step for n rows, allocated once and reused.

    Members are sorted by activation, so each activation works on one fixed slice (a view)."""

    def __init__(self, group: "_Group", n: int):
        k, dev = group.k, group.params[0].device
        widths = [w.shape[2] for w in group.params[0::2]]
        self.z = [torch.empty(k, n, w, device=dev) for w in widths]  # pre-activations, then the output
        self.a = [torch.empty(k, n, w, device=dev) for w in widths[:-1]]
        self.da = [torch.empty_like(a) for a in self.a]
        self.dz = [torch.empty_like(z) for z in self.z]
        self.grads = [torch.empty_like(p) for p in group.params]
        # per hidden layer: (forward, backward, z, a, da, dz) on each activation's slice
        self.layers = [[(fwd, bwd, z[s], a[s], da[s], dz[s]) for (fwd, bwd), s in group.parts]
                       for z, a, da, dz in zip(self.z, self.a, self.da, self.dz)]


class _Group:
    """Members sharing hidden sizes and optimiser: one stacked model, one batched update."""

    def __init__(self, index: list[int], cfgs: list[FitConfig], device: torch.device):
        self.index = index  # positions of these members in the race
        first = cfgs[0]
        self.optimizer = first.train.optimizer
        self.loss_name = first.train.loss
        self.k = len(cfgs)
        weights: list[list[torch.Tensor]] = []
        for cfg in cfgs:
            _, model = build(cfg)  # exactly the single run's initial weights
            linears = [m for m in model if isinstance(m, torch.nn.Linear)]
            weights.append([t for lin in linears for t in (lin.weight.detach().T, lin.bias.detach()[None, :])])
        self.params = [torch.stack([w[i] for w in weights]).contiguous().to(device)
                       for i in range(len(weights[0]))]
        # ((forward, backward), slice of members) per activation; members come sorted by it
        self.parts: list[tuple[tuple, slice]] = []
        for act, run in itertools.groupby(cfgs, key=lambda c: c.model.activation):
            start = self.parts[-1][1].stop if self.parts else 0
            self.parts.append((KERNELS[act], slice(start, start + len(list(run)))))
        self._buffers: dict[int, _Buffers] = {}

        def col(name):
            return torch.tensor([getattr(c.train, name) for c in cfgs], dtype=torch.float32,
                                device=device).view(-1, 1, 1)

        self.lr, self.wd, self.momentum = col("lr"), col("weight_decay"), col("momentum")
        # the lesson's plain SGD needs one multiply-subtract per tensor: skip the rest when unused
        self.plain = self.optimizer == "sgd" and not bool(self.wd.any()) and not bool(self.momentum.any())
        self.buf = [torch.zeros_like(p) for p in self.params]
        self.sq = [torch.zeros_like(p) for p in self.params]
        self.t = 0
        self.alive = torch.ones(self.k, dtype=torch.bool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions [K, n, 1], without keeping anything for a backward pass."""
        h = x.expand(self.k, *x.shape)
        layers = len(self.params) // 2
        for i in range(layers):
            h = torch.baddbmm(self.params[2 * i + 1], h, self.params[2 * i])
            if i < layers - 1:
                a = torch.empty_like(h)
                for (fwd, _), part in self.parts:
                    fwd(h[part], a[part])
                h = a
        return h

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.forward(x)
        return _LOSSES[self.loss_name](out, y.expand_as(out), reduction="none").mean(dim=(1, 2))

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One forward, backward and update for all members; their losses before the update."""
        b = self._buffers.get(x.shape[0])
        if b is None:
            b = self._buffers[x.shape[0]] = _Buffers(self, x.shape[0])
        p, hidden = self.params, len(b.a)
        inputs = [x.expand(self.k, *x.shape), *b.a]
        for i in range(hidden + 1):
            torch.baddbmm(p[2 * i + 1], inputs[i], p[2 * i], out=b.z[i])
            if i < hidden:
                for fwd, _, z, a, _, _ in b.layers[i]:
                    fwd(z, a)
        out = b.z[-1]
        per_member = _LOSSES[self.loss_name](out, y.expand_as(out), reduction="none").mean(dim=(1, 2))
        # backward of the summed per-member losses: members are independent
        g = torch.mul(_LOSS_GRADS[self.loss_name](out - y), 1.0 / out[0].numel(), out=b.dz[-1])
        for i in range(hidden, -1, -1):
            torch.bmm(inputs[i].transpose(1, 2), g, out=b.grads[2 * i])
            torch.sum(g, 1, keepdim=True, out=b.grads[2 * i + 1])
            if i > 0:
                torch.bmm(g, p[2 * i].transpose(1, 2), out=b.da[i - 1])
                for _, bwd, z, a, da, dz in b.layers[i - 1]:
                    bwd(da, z, a, dz)
                g = b.dz[i - 1]
        self.t += 1
        for param, grad, buf, sq in zip(p, b.grads, self.buf, self.sq):
            self._update(param, grad, buf, sq)
        return per_member

    def _update(self, p, g, buf, sq) -> None:
        """torch.optim's update rules, elementwise, with per-member hyper-parameters."""
        lr, wd, mom = self.lr, self.wd, self.momentum
        if self.plain:
            p.sub_(lr * g)
        elif self.optimizer == "sgd":
            g = g + wd * p
            buf.mul_(mom).add_(g)
            p.sub_(lr * buf)
        elif self.optimizer in ("adam", "adamw"):
            if self.optimizer == "adamw":
                p.mul_(1 - lr * wd)
            else:
                g = g + wd * p
            b1, b2 = BETAS
            buf.lerp_(g, 1 - b1)
            sq.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (sq.sqrt() / (1 - b2 ** self.t) ** 0.5).add_(EPS)
            p.sub_(lr / (1 - b1 ** self.t) * buf / denom)
        else:  # rmsprop
            g = g + wd * p
            sq.mul_(RMS_ALPHA).addcmul_(g, g, value=1 - RMS_ALPHA)
            buf.mul_(mom).add_(g / sq.sqrt().add_(EPS))
            p.sub_(lr * buf)

    def stop_member(self, j: int) -> None:
        """A diverged member stops: zero lr and weights, so its NaNs go nowhere."""
        self.alive[j] = False
        with torch.no_grad():
            self.lr[j] = 0
            for t in (*self.params, *self.buf, *self.sq):
                t[j] = 0


class CompareTrainer:
    """The Trainer interface for a race: ``step(n)`` gives losses of shape [steps, members]."""

    def __init__(self, members: list[Member]):
        if not 2 <= len(members) <= MAX_MEMBERS:
            raise ConfigError("compare", len(members), f"a race needs 2 to {MAX_MEMBERS} members")
        base = members[0].cfg
        for m in members:
            if m.cfg.data != base.data or m.cfg.train.loss != base.train.loss \
                    or m.cfg.train.batch_size != base.train.batch_size or m.cfg.train.device != base.train.device:
                raise ConfigError("compare", m.label, "members must share data, loss, batch size and device")
        self.members = members
        self.cfg = base
        self.device = device_mod.resolve(base.train.device)
        self.reset()

    def reset(self) -> None:
        base = self.cfg
        dataset, _ = build(base)
        device_mod.tune_threads(self.device, dataset.x_train.shape[0] * max(
            max(m.cfg.model.hidden) for m in self.members) ** 2 * len(self.members))
        self.data = dataset.to(self.device)
        self.view = data_mod.view(dataset, None if base.data.file else base.data.target)
        self.grid = ((data_mod.grid(self.view.x_range) - dataset.x_scale[0]) / dataset.x_scale[1]).to(self.device)
        order = sorted(range(len(self.members)), key=lambda i: (self.members[i].cfg.model.hidden,
                                                                self.members[i].cfg.train.optimizer,
                                                                self.members[i].cfg.model.activation))
        self.groups: list[_Group] = []
        for _, idx in itertools.groupby(order, key=lambda i: (self.members[i].cfg.model.hidden,
                                                              self.members[i].cfg.train.optimizer)):
            idx = list(idx)
            self.groups.append(_Group(idx, [self.members[i].cfg for i in idx], self.device))
        self.steps_done = 0
        self.batches = Batches(self.data.x_train, self.data.y_train, base.train.batch_size, base.data.seed)

    def step(self, n: int = 1, interrupt: threading.Event | None = None) -> np.ndarray:
        per_group: list[list[torch.Tensor]] = [[] for _ in self.groups]
        done = 0
        for _ in range(n):
            x, y = self.batches.next()
            for g, rows in zip(self.groups, per_group):
                rows.append(g.step(x, y))
            done += 1
            if interrupt is not None and interrupt.is_set():
                break
        self.steps_done += done
        out = np.zeros((done, len(self.members)))
        for g, rows in zip(self.groups, per_group):  # one read per group per chunk, not per step
            if rows:
                out[:, g.index] = torch.stack(rows).to("cpu", torch.float64).numpy()
        return out

    def stop_member(self, i: int) -> None:
        for g in self.groups:
            if i in g.index:
                g.stop_member(g.index.index(i))

    @torch.no_grad()
    def predict(self) -> np.ndarray:
        out = np.zeros((len(self.members), self.grid.shape[0]))
        my, sy = self.data.y_scale
        for g in self.groups:
            out[g.index] = g.forward(self.grid)[..., 0].to("cpu", torch.float64).numpy() * sy + my
        return out

    @torch.no_grad()
    def test_loss(self) -> np.ndarray | None:
        if self.data.x_test.shape[0] == 0:
            return None
        out = np.zeros(len(self.members))
        for g in self.groups:
            out[g.index] = g.losses(self.data.x_test, self.data.y_test).to("cpu", torch.float64).numpy()
        return out
