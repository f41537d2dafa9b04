"""``train.kernels = "compiled"``: the fast kernels' step, per group, through ``torch.compile``.

The step is :meth:`Group.step` written without ``out=`` buffers — the same batched matmuls
(weight and bias in one block, inputs with a row of ones), so the oracle's rule holds for it as
for ``fast`` — and inductor fuses the elementwise work around them (on the CPU into generated
C++). Shapes are static (``dynamic=False``): one graph per (members, widths, rows, activations,
loss, optimiser), kept in torch's on-disk cache (``TORCHINDUCTOR_CACHE_DIR``, else its default).

Compiled and eager steps differ in the last bit (a fused softplus rounds otherwise), so no step
runs eagerly while the compile is under way: the compile starts in a thread when the stepper is
made (the run says so then, before its first frame), and the first step waits for it. Every
step of a run is therefore compiled, or — when torch.compile is missing or fails — every step
is the fast kernels', said once. Losses never depend on when a compile finished.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from fitscope.core.engine.kernels import _LOSSES, BETAS, EPS, KERNELS, RMS_ALPHA, Group
from fitscope.core.engine.steppers import Batches, FastStepper, OnStep
from fitscope.core.spec import Member

COMPILING = ("compiling the training step (torch.compile)… ~{cold} s the first time, a few seconds from "
             "torch's cache; the first step waits for it")
COLD_SECONDS = 30  # measured 15-70 s on 2 busy cores for the lesson's net
WAIT_LIMIT_S = 600.0  # a compile still running after this has hung (seen: inductor without a vector unit)


@dataclass(frozen=True)
class Plan:
    """What a group's compiled step is specialised on (Python constants, guarded by value)."""

    k: int
    widths: tuple[int, ...]
    parts: tuple[tuple[str, int, int], ...]  # (activation, first member, end)
    loss: str
    optimizer: str
    plain: bool  # the lesson's SGD: no momentum, no weight decay
    scale: float  # what turns the summed loss's gradient into the mean loss's (2/n for mse)

    @staticmethod
    def of(g: Group, rows: int, members: list[Member]) -> Plan:
        names = [members[i].cfg.model.activation for i in g.index]  # sorted by activation, as g.parts
        parts = tuple((names[s.start], s.start, s.stop) for _, s in g.parts)
        return Plan(g.k, tuple(g.widths), parts, g.loss_name, g.optimizer, g.plain,
                    (2.0 if g.loss_name == "mse" else 1.0) / rows)


def _act(plan: Plan, z: torch.Tensor, backward: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """The activation (or, given (grad, a), its backward) on each activation's slice of members."""
    out = []
    for name, lo, hi in plan.parts:
        fwd, bwd = KERNELS[name]
        zs = z[lo:hi]
        if backward is None:
            out.append(fwd(zs, torch.empty_like(zs)))
        else:
            out.append(bwd(backward[0][lo:hi], zs, backward[1][lo:hi], torch.empty_like(zs)))
    return out[0] if len(out) == 1 else torch.cat(out)


def _step(plan: Plan, flat: torch.Tensor, gflat: torch.Tensor, buf: torch.Tensor, sq: torch.Tensor | None,
          x: torch.Tensor, y: torch.Tensor, hyper: tuple[torch.Tensor, ...], t: torch.Tensor) -> torch.Tensor:
    """Group.step and Group._update as one function: updates flat, gflat, buf and sq in place and
    returns each member's loss sum [K, 1, 1] from before the update."""
    k, n, w = plan.k, x.shape[0], plan.widths
    blocks, at = [], 0
    for i, o in zip(w[:-1], w[1:]):
        blocks.append(flat[at:at + k * o * (i + 1)].view(k, o, i + 1))
        at += k * o * (i + 1)
    ones = torch.ones(k, 1, n, dtype=x.dtype, device=x.device)
    inputs = [torch.cat([x.T.expand(k, 1, n), ones], 1)]
    zs, acts = [], []
    for i, b in enumerate(blocks):
        z = torch.bmm(b, inputs[-1])
        zs.append(z)
        if i < len(blocks) - 1:
            acts.append(_act(plan, z))
            inputs.append(torch.cat([acts[-1], ones], 1))
    out, yt = zs[-1], y.T
    if plan.loss == "mse":
        g = out - yt
        loss = torch.bmm(g, g.transpose(1, 2))
    else:
        loss = torch.sum(_LOSSES[plan.loss](out, yt.expand_as(out), reduction="none"), (1, 2), keepdim=True)
        g = torch.sign(out - yt) if plan.loss == "l1" else torch.clamp(out - yt, -1.0, 1.0)
    grads: list[torch.Tensor] = []
    for i in range(len(blocks) - 1, -1, -1):
        grads.insert(0, torch.bmm(g, inputs[i].transpose(1, 2)))
        if i > 0:
            da = torch.bmm(blocks[i][:, :, :-1].transpose(1, 2), g)
            g = _act(plan, zs[i - 1], (da, acts[i - 1]))
    grad = torch.cat([gr.reshape(-1) for gr in grads])
    _update(plan, flat, grad, gflat, buf, sq, hyper, t)
    return loss


def _update(plan: Plan, p: torch.Tensor, grad: torch.Tensor, gflat: torch.Tensor, buf: torch.Tensor,
            sq: torch.Tensor | None, hyper: tuple[torch.Tensor, ...], t: torch.Tensor) -> None:
    """Group._update's rules on the flat buffer (hyper: (−lr·scale,) for plain SGD, else (lr, wd, momentum))."""
    if plan.plain:
        gflat.copy_(grad)
        p.addcmul_(grad, hyper[0])
        return
    lr, wd, mom = hyper
    g = grad * plan.scale
    if plan.optimizer == "adamw":
        p.mul_(1 - lr * wd)
    else:
        g = g + wd * p
    gflat.copy_(g)
    if plan.optimizer == "sgd":
        buf.mul_(mom).add_(g)
        p.addcmul_(lr, buf, value=-1)
    elif plan.optimizer in ("adam", "adamw"):
        assert sq is not None
        b1, b2 = BETAS
        buf.lerp_(g, 1 - b1)
        sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (sq.sqrt() / (1 - b2 ** t) ** 0.5).add_(EPS)
        p.sub_(lr / (1 - b1 ** t) * buf / denom)
    else:  # rmsprop
        assert sq is not None
        sq.mul_(RMS_ALPHA).addcmul_(g, g, value=1 - RMS_ALPHA)
        buf.mul_(mom).add_(g / sq.sqrt().add_(EPS))
        p.addcmul_(lr, buf, value=-1)


StepFn = Callable[..., torch.Tensor]
_COMPILED: dict[Plan, StepFn] = {}  # one compiled function per plan and process: a second run reuses it
_READY: set[Plan] = set()  # plans whose compile succeeded in this process
_LOCK = threading.Lock()


def compile_step(plan: Plan) -> StepFn:
    """The plan's step through torch.compile (made lazily: the compile happens at its first call)."""
    with _LOCK:
        fn = _COMPILED.get(plan)
        if fn is None:
            import torch._dynamo.config as dynamo

            dynamo.recompile_limit = max(dynamo.recompile_limit, 64)  # one entry per plan on one code object
            dynamo.accumulated_recompile_limit = max(dynamo.accumulated_recompile_limit, 1024)
            dynamo.fail_on_recompile_limit_hit = True  # past it: an error (the fast kernels, said), never eager
            fn = _COMPILED[plan] = torch.compile(functools.partial(_step, plan), dynamic=False, fullgraph=True)
    return fn


class CompiledStepper(FastStepper):
    """The fast stepper's groups and state, each group's step compiled; see the module's text."""

    def __init__(self, members: list[Member], models: list[torch.nn.Sequential], device: torch.device,
                 batches: Batches, compile: Callable[[Plan], StepFn] | None = None, wait_limit_s: float = WAIT_LIMIT_S):
        super().__init__(members, models, device, blocks="off")
        self.plans = [Plan.of(g, batches.rows, members) for g in self.groups]
        self._fns: list[StepFn] | None = None
        self._error: str | None = None
        self._told = False
        self._wait_limit_s = wait_limit_s
        self._gave_up = False  # a compile past the limit: fast kernels for good, even if it finishes later
        self.compile_s: float | None = None
        x, y = batches.x[:batches.rows], batches.y[:batches.rows]
        self._thread = threading.Thread(target=self._compile, args=(compile or compile_step, x, y), daemon=True,
                                        name="fitscope-compile")
        if compile is None and all(p in _READY for p in self.plans):  # compiled in this process already
            self._told = True
        else:
            self.notice = COMPILING.format(cold=COLD_SECONDS)
        self._thread.start()

    def _compile(self, compile: Callable[[Plan], StepFn], x: torch.Tensor, y: torch.Tensor) -> None:
        """Each group's step compiled and run once on copies of its buffers (the run's own are untouched)."""
        t0 = time.perf_counter()
        try:
            fns = []
            for g, plan in zip(self.groups, self.plans):
                fn = compile(plan)
                scratch = [t.clone() for t in (g.flat, g.gflat, g.buf)]
                sq = None if g.sq is g.buf else g.sq.clone()
                with torch.no_grad():
                    fn(*scratch, sq, x.clone(), y.clone(), tuple(h.clone() for h in self._hyper(g, plan)),
                       g.t_dev.clone())
                fns.append(fn)
            if not self._gave_up:
                self._fns = fns
            _READY.update(self.plans)
        except Exception as exc:  # no compiler, an unsupported op, a recompile limit: the fast kernels
            text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            self._error = f"{type(exc).__name__}: {text}"
        self.compile_s = time.perf_counter() - t0

    def ready(self, timeout: float | None = None) -> bool:
        """Waits for the compile (at most ``timeout`` s); True once it is over, compiled or not."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _settle(self) -> None:
        """Waits for the compile, at most the limit: past it, the fast kernels for good."""
        if not self._gave_up and not self.ready(self._wait_limit_s):
            self._gave_up = True
            self._error = f"it did not finish in {self._wait_limit_s:g} s"

    def wait(self) -> bool:
        waiting = self._thread.is_alive() and not self._gave_up
        self._settle()
        return waiting

    @property
    def compiled(self) -> bool:
        """Whether the steps run compiled (after the compile: False where it failed or hung)."""
        self._settle()
        return self._fns is not None and not self._gave_up

    def run(self, batches: Batches, n: int, frames: OnStep | None = None, start: int = 0) -> np.ndarray:
        self._settle()
        if not self._told:  # the first steps wait for the compile, and the run says how it went
            self._told = True
            self.notice = (f"torch.compile failed ({self._error}): stepping with the fast kernels"
                           if self._error is not None else f"compiled the training step in {self.compile_s:.1f} s")
        return super().run(batches, n, frames, start)

    @staticmethod
    def _hyper(g: Group, plan: Plan) -> tuple[torch.Tensor, ...]:
        if plan.plain:
            neg = g._neg_lr_scaled.get(plan.scale)
            if neg is None:  # Group._hyper keeps it in step with every lr change, in place
                neg = g._neg_lr_scaled[plan.scale] = -g.lr_el * plan.scale
            return (neg,)
        return g.lr_el, g.wd_el, g.mom_el

    def _step_groups(self, x: torch.Tensor, y: torch.Tensor, i: int) -> None:
        if self._fns is None or self._gave_up:
            super()._step_groups(x, y, i)
            return
        with torch.no_grad():  # as at the compile: grad mode is part of what its guards check
            for g, plan, fn, rows in zip(self.groups, self.plans, self._fns, self._row_views):
                g.t += 1
                g.t_dev.fill_(g.t)
                g.grad_scale = plan.scale if plan.plain else 1.0
                rows[i].copy_(fn(g.flat, g.gflat, g.buf, None if g.sq is g.buf else g.sq, x, y,
                                 self._hyper(g, plan), g.t_dev))
