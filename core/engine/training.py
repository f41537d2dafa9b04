"""An experiment's tensors: the shared data, every member's weights and optimiser, ``step(n)``.

Two ways to step, one interface: ``fast`` (the batched kernels of :mod:`fitscope.core.engine.kernels`)
and ``autograd`` (each member an ``nn.Sequential`` stepped by ``torch.optim``: the lesson's
loop, bit for bit). Both return the losses of each step (computed before its update, as the
lesson prints them), read from the device once per call, not once per step.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fitscope.core.data import dataset as data_mod
from fitscope.core.engine import device as device_mod
from fitscope.core.engine import memory
from fitscope.core.engine.compiled import CompiledStepper
from fitscope.core.engine.model import ACTIVATION_MODULES, make_mlp
from fitscope.core.engine.registry import ACTIVATIONS
from fitscope.core.engine.sampler import NetNumbers
from fitscope.core.engine.stepper import Stepper
from fitscope.core.engine.steppers import AutogradStepper, Batches, FastStepper
from fitscope.core.engine.timeline import CAP, WEIGHT_FRAMES_BYTES, Timeline
from fitscope.core.spec import RunSpec
from fitscope.core.store.checkstate import StateError, check_state, shape_of

__all__ = ["ACTIVATION_FNS", "AutogradStepper", "Batches", "CompiledStepper", "Experiment", "FastStepper",
           "StateError", "Stepper", "build", "check_state", "r2", "shape_of"]

ACTIVATION_FNS = {name: cls() for name, cls in ACTIVATION_MODULES.items()}


def build(spec: RunSpec, check: Callable[[int], object] | None = None) -> tuple[data_mod.Dataset, list[torch.nn.Sequential]]:
    """The data, then each member's initial net, in the lesson's RNG order (noise first, then
    weights from the same stream unless the member has an init seed); the caller's RNG is untouched.
    ``check(rows)`` sees the data's size before any net is made."""
    base = spec.base
    models = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(base.data.seed)
        dataset = data_mod.generate(base.data)
        if check is not None:
            check(dataset.x_train.shape[0] + dataset.x_test.shape[0])
        after_data = torch.get_rng_state()
        for m in spec.members():
            if m.cfg.model.init_seed >= 0:
                torch.manual_seed(m.cfg.model.init_seed)
            else:
                torch.set_rng_state(after_data)
            models.append(make_mlp(m.cfg.model))
    return dataset, models


def step_work(spec: RunSpec) -> int:
    """A full-batch step's multiply-adds, roughly: rows x weights, over the members."""
    base = spec.base
    rows = base.data.points if base.train.batch_size == 0 else min(base.data.points, base.train.batch_size)
    weights = 0
    for m in spec.members():
        widths = [1, *m.cfg.model.hidden, 1]
        weights += sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    return rows * weights


class Experiment:
    """A spec's data and members on one device, stepped by its kernels; ``step(n)`` -> [n, K]."""

    def __init__(self, spec: RunSpec, blocks: str | None = None, replacing: Experiment | None = None):
        """``blocks``: how the fast kernels group full-batch steps (see :class:`FastStepper`);
        ``replacing``: the run this one replaces (a Reset), whose GPU memory is free to it."""
        self.spec = spec
        self.members = spec.members()
        base = spec.base
        self.device, self.device_note = device_mod.choose(base.train.device, step_work(spec))
        self.matmul_precision = device_mod.set_precision()
        releasing = 0
        if replacing is not None and replacing.device == self.device:  # its tensors are what this process holds there
            releasing = device_mod.memory_in_use(self.device) or 0
        total = device_mod.total_memory(self.device, releasing)
        if not base.data.file:  # before anything is made; a file's rows are counted once read
            memory.check(spec, total)
        dataset, models = build(spec, lambda rows: memory.check(spec, total, rows))
        widest = max(max(m.cfg.model.hidden) for m in self.members)
        device_mod.tune_threads(self.device, dataset.x_train.shape[0] * widest ** 2 * len(self.members))
        self.data = dataset.to(self.device)
        self.view = data_mod.view(dataset, None if base.data.file else base.data.target)
        mx, sx = dataset.x_scale
        self.grid = ((data_mod.grid(self.view.x_range) - mx) / sx).to(self.device)  # in training units
        self.batches = Batches(self.data.x_train, self.data.y_train, base.train.batch_size, base.data.seed)
        self.steps_done = 0
        self._marks: deque[tuple[int, list[Any]]] = deque(maxlen=2)  # the last two chunk starts, to go back to
        if base.train.kernels == "autograd":
            self.use(AutogradStepper(self.members, models, self.device))
        elif base.train.kernels == "compiled":
            self.use(CompiledStepper(self.members, models, self.device, self.batches))
        else:
            self.use(FastStepper(self.members, models, self.device, blocks))

    def use(self, stepper: Stepper) -> None:
        """Step with ``stepper`` (its members' weights as they are now); the timeline starts here."""
        self.stepper = stepper
        sizes = stepper.frame_sizes()
        self.frames_are_weights = CAP * 4 * sum(sizes) <= WEIGHT_FRAMES_BYTES
        k, g = stepper.k, self.grid.shape[0]
        self.timeline = Timeline(sizes if self.frames_are_weights else [k * g], self.device,
                                 stride=stepper.block_steps)
        self.timeline.add(self.steps_done, self._frame_sources)

    def _frame_sources(self) -> list[torch.Tensor]:
        return self.stepper.frame_sources() if self.frames_are_weights else [self.stepper.predict(self.grid)]

    def _frame(self, i: int) -> None:
        step = self.steps_done + i
        if step % self.timeline.stride == 0:
            self.timeline.add(step, self._frame_sources)

    def step(self, n: int) -> np.ndarray:
        self._marks.append((self.steps_done, self.stepper.copy()))
        losses = self.stepper.run(self.batches, n, self._frame, self.steps_done)
        self.steps_done += n
        return losses

    @torch.no_grad()
    def stats(self) -> list[NetNumbers]:
        """Per member, the network's numbers (see :class:`NetNumbers`): dead units on the training
        data, weight and gradient norms and update/weight per hidden layer, and R²."""
        x, y = self.data.x_train, self.data.y_train
        xt, yt = self.data.x_test, self.data.y_test
        mark = self._marks[-1] if self._marks else None
        out = []
        for j, m in enumerate(self.members):
            state = self.stepper.state_dict(j)
            ws = [(state[f"{2 * i}.weight"].to(x.device), state[f"{2 * i}.bias"].to(x.device))
                  for i in range(len(state) // 2)]
            before = None
            if mark is not None and self.steps_done > mark[0]:
                old = self.stepper.member_state(j, mark[1])["model"]
                before = [old[f"{2 * i}.weight"].to(x.device) for i in range(len(ws))]
            grads = self.stepper.grads(j)
            act = ACTIVATION_FNS[m.cfg.model.activation]
            kinked = ACTIVATIONS[m.cfg.model.activation].kinked
            dead: list[float | None] = []
            norms, grad_norms = [], []
            ratios: list[float | None] = []
            h = x
            for i, (w, b) in enumerate(ws[:-1]):
                z = torch.addmm(b, h, w.T)
                dead.append(float(((z > 0).sum(0) == 0).float().mean()) if kinked else None)
                norm = float(w.norm())
                norms.append(norm)
                grad_norms.append(float(grads[i].norm()))
                ratios.append(float((w - before[i]).norm()) / (self.steps_done - mark[0]) / norm
                              if before is not None and mark is not None and norm > 0 else None)
                h = act(z)
            w, b = ws[-1]
            out.append(NetNumbers(tuple(dead), tuple(norms), tuple(grad_norms), tuple(ratios),
                                  r2(torch.addmm(b, h, w.T), y),
                                  r2(self.stepper.forward_one(j, xt), yt) if xt.shape[0] else None))
        return out

    @torch.no_grad()
    def frames(self) -> tuple[np.ndarray, np.ndarray, list[list[tuple[np.ndarray, np.ndarray]]] | None]:
        """The timeline: steps [F], every member's fit on the grid [F, K, G] in the data's own units,
        and each member's layers per frame (numpy, [F, …]) when frames hold weights."""
        steps, rows = self.timeline.frames()
        k, g = len(self.members), self.grid.shape[0]
        my, sy = self.data.y_scale
        if not self.frames_are_weights:
            fits = rows[0].reshape(len(steps), k, g).to("cpu", torch.float64).numpy() * sy + my
            return steps, fits, None
        fits = np.empty((len(steps), k, g))
        layers_np = []
        for j, m in enumerate(self.members):
            layers = self.stepper.frame_layers(rows, j)
            h = self.grid.expand(len(steps), g, 1)
            for li, (w, b) in enumerate(layers):
                h = torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))
                if li < len(layers) - 1:
                    h = ACTIVATION_FNS[m.cfg.model.activation](h)
            fits[:, j] = h[:, :, 0].to("cpu", torch.float64).numpy() * sy + my
            layers_np.append([(w.to("cpu", torch.float64).numpy(), b.to("cpu", torch.float64).numpy())
                              for w, b in layers])
        return steps, fits, layers_np

    def last_finite(self, j: int, diverged_at: int) -> tuple[int, dict[str, Any]] | None:
        """Member j's weights and optimiser state from before it diverged: a copy taken at the start
        of a chunk whose first loss was still finite (its step, and the state)."""
        for step, saved in reversed(self._marks):
            if step + 1 < diverged_at:
                return step, self.stepper.member_state(j, saved)
        return None

    def state(self) -> dict[str, Any]:
        """What the next step depends on beyond the config: weights, optimiser state, data order, RNG."""
        return {"step": self.steps_done, "kernels": self.spec.base.train.kernels,
                "members": [self.stepper.member_state(j) for j in range(len(self.members))],
                "batches": self.batches.state(), "torch_rng": torch.get_rng_state()}

    def load(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (made by :meth:`state` on the same spec); checked before anything changes."""
        check_state(state, self)
        for j, member in enumerate(state["members"]):
            self.stepper.load_member_state(j, member)
        self.batches.load(state["batches"])
        torch.set_rng_state(state["torch_rng"])
        self.steps_done = int(state["step"])
        self.use(self.stepper)  # the timeline from here on

    def predict(self) -> np.ndarray:
        """Each member's fit on the chart's grid, in the data's own units: [K, G]."""
        my, sy = self.data.y_scale
        return self.stepper.predict(self.grid).to("cpu", torch.float64).numpy() * sy + my

    def test_losses(self) -> np.ndarray | None:
        if self.data.x_test.shape[0] == 0:
            return None
        return self.stepper.losses(self.data.x_test, self.data.y_test).to("cpu", torch.float64).numpy()


def r2(pred: torch.Tensor, y: torch.Tensor) -> float | None:
    """1 − SSE/SST; None when y does not vary."""
    sst = float(((y - y.mean()) ** 2).sum())
    if not sst > 0:
        return None
    return 1.0 - float(((y - pred.reshape(y.shape)) ** 2).sum()) / sst
